"""Weight files on disk: cache folder, download with resume, sha256 verification.

Unpickling runs code, so no checkpoint is ever handed to `torch.load(weights_only=False)`
before its sha256 matched a known value: CLIP's is part of its URL, a VQGAN's is recorded
in `vqgan/<name>.sha256.json` the first time it is downloaded (or first seen, when copied
in by hand) and checked on every later load.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from buildfiles.atomicio import write_json
from buildfiles.errors import UserError
from buildfiles.hashing import sha256_file
from generator.registry import CLIPS, VQGANS, CLIPSpec, ModelChoice, VQGANSpec

ProgressFn = Callable[[int, int | None], None]  # (bytes so far, total or None)


def cache_dir() -> Path:
    """ROBOZ_HOME/models if set, else the platform's user cache folder."""
    home = os.environ.get("ROBOZ_HOME")
    if home:
        return Path(home).expanduser() / "models"
    import platformdirs

    return Path(platformdirs.user_cache_dir("roboz-collection")) / "models"


def models_root(models_dir: Path | str | None) -> Path:
    return Path(models_dir).expanduser() if models_dir else cache_dir()


def fetch_command(choice_or_name: str, models_dir: Path | None) -> str:
    extra = f" --models-dir {models_dir}" if models_dir else ""
    return f"roboz-collection models fetch {choice_or_name}{extra}"


class HashMismatch(UserError):
    pass


def verify_sha256(path: Path, expected: str, what: str) -> None:
    got = sha256_file(path)
    if got != expected:
        raise HashMismatch(
            f"{path} ({what}) has sha256 {got}, expected {expected}; refusing to load it",
            hint=f"delete it and fetch again, or restore the original file",
        )


# ---- recorded hashes (VQGAN, tiny models) ------------------------------------------------

def read_recorded(root: Path, hash_file: str) -> dict[str, str]:
    p = root / hash_file
    if not p.exists():
        return {}
    return json.loads(p.read_text("utf-8")).get("sha256", {})


def record_hashes(root: Path, hash_file: str, files: list[str], source: str) -> dict[str, str]:
    """Trust on first use: store each file's sha256 so every later load can be checked against it."""
    hashes = {**read_recorded(root, hash_file), **{f: sha256_file(root / f) for f in files}}
    write_json(root / hash_file, {"sha256": hashes, "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "source": source})
    return hashes


def verified_path(root: Path, rel: str, hash_file: str, what: str) -> Path:
    """Path of a file whose sha256 matches the recorded one (recording it if nothing was recorded yet)."""
    path = root / rel
    recorded = read_recorded(root, hash_file)
    if rel not in recorded:
        recorded = record_hashes(root, hash_file, [rel], source="first seen on disk")
    verify_sha256(path, recorded[rel], what)
    return path


# ---- download -----------------------------------------------------------------------------

def download(url: str, dest: Path, *, progress: ProgressFn | None = None, chunk: int = 1 << 20, timeout: float = 30) -> Path:
    """Stream `url` into `dest`, resuming a partial `dest.part` with an HTTP Range request."""
    import requests

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    with requests.get(url, headers=headers, stream=True, timeout=timeout, allow_redirects=True) as r:
        if r.status_code == 416:  # already complete
            pass
        else:
            r.raise_for_status()
            if have and r.status_code != 206:  # server ignored Range: start over
                have = 0
            total = r.headers.get("Content-Length")
            total_n = int(total) + have if total else None
            with open(part, "ab" if have else "wb") as fh:
                n = have
                for b in r.iter_content(chunk):
                    fh.write(b)
                    n += len(b)
                    if progress:
                        progress(n, total_n)
                fh.flush()
                os.fsync(fh.fileno())
    os.replace(part, dest)
    return dest


def _download_any(urls: list[str], dest: Path, progress: ProgressFn | None) -> None:
    errors = []
    for url in urls:
        try:
            download(url, dest, progress=progress)
            return
        except Exception as e:  # network errors of every kind: try the next mirror
            errors.append(f"{url}: {e}")
    raise UserError(f"could not download {dest.name}: " + "; ".join(errors),
                    hint="check the network, or copy the file by hand and pass --models-dir")


# ---- per-model operations -----------------------------------------------------------------

@dataclass(frozen=True)
class FileStatus:
    model: str
    path: Path
    present: bool
    verified: bool | None  # None: not checked / nothing to check against
    note: str = ""


def fetch_vqgan(spec: VQGANSpec, root: Path, progress: ProgressFn | None = None) -> None:
    for rel, urls in ((spec.config_file, [spec.config_url]), (spec.ckpt_file, [spec.ckpt_url, *spec.ckpt_mirrors])):
        if not (root / rel).exists():
            _download_any(urls, root / rel, progress)
    recorded = read_recorded(root, spec.hash_file)
    missing = [f for f in (spec.config_file, spec.ckpt_file) if f not in recorded]
    if missing:
        record_hashes(root, spec.hash_file, missing, source=spec.ckpt_url)
    if spec.ckpt_sha256:
        verify_sha256(root / spec.ckpt_file, spec.ckpt_sha256, spec.name)
    verified_path(root, spec.ckpt_file, spec.hash_file, spec.name)


def fetch_clip(spec: CLIPSpec, root: Path, progress: ProgressFn | None = None) -> None:
    dest = root / spec.file
    if not dest.exists():
        _download_any([spec.url], dest, progress)
    verify_sha256(dest, spec.sha256, f"CLIP {spec.name}")


def vqgan_status(spec: VQGANSpec, root: Path, check: bool) -> FileStatus:
    ckpt = root / spec.ckpt_file
    present = ckpt.exists() and (root / spec.config_file).exists()
    if not present or not check:
        return FileStatus(spec.name, ckpt, present, None)
    rec = read_recorded(root, spec.hash_file).get(spec.ckpt_file)
    if rec is None:
        return FileStatus(spec.name, ckpt, True, None, "no recorded hash yet")
    return FileStatus(spec.name, ckpt, True, sha256_file(ckpt) == rec)


def clip_status(spec: CLIPSpec, root: Path, check: bool) -> FileStatus:
    p = root / spec.file
    if not p.exists() or not check:
        return FileStatus(spec.name, p, p.exists(), None)
    return FileStatus(spec.name, p, True, sha256_file(p) == spec.sha256)


def require_files(choice: ModelChoice, models_dir: Path | None) -> tuple[Path, Path, Path]:
    """(vqgan yaml, vqgan ckpt, clip .pt), all present and hash-checked, or a UserError saying how to get them."""
    root = models_root(models_dir)
    vq, cl = VQGANS[choice.vqgan], CLIPS[choice.clip]
    missing = [root / f for f in (vq.config_file, vq.ckpt_file, cl.file) if not (root / f).exists()]
    if missing:
        raise UserError(
            f"model weights for {choice} are missing: " + ", ".join(str(p) for p in missing),
            hint=f"run `{fetch_command(str(choice), models_dir)}` (or copy the files there by hand; "
                 f"use `--models tiny` for a pipeline check without weights)",
        )
    if vq.ckpt_sha256:
        verify_sha256(root / vq.ckpt_file, vq.ckpt_sha256, vq.name)
    ckpt = verified_path(root, vq.ckpt_file, vq.hash_file, vq.name)
    config = verified_path(root, vq.config_file, vq.hash_file, vq.name + " config")
    clip_path = root / cl.file
    verify_sha256(clip_path, cl.sha256, f"CLIP {cl.name}")
    return config, ckpt, clip_path
