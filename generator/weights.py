"""Weight files on disk: cache folder, download with resume, sha256 verification.

Unpickling runs code, so no checkpoint is ever handed to `torch.load(weights_only=False)`
before its sha256 matched a known value: CLIP's is part of its URL, a VQGAN's is recorded
in `vqgan/<name>.sha256.json` the first time it is downloaded (or first seen, when copied
in by hand), an artist's own file's in the models spec the plan step writes into plan.json;
each is checked on every later load.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from buildfiles.atomicio import write_json
from buildfiles.errors import UserError
from buildfiles.hashing import sha256_file
from generator.registry import (CLIPS, DEFAULT_CLIP, DEFAULT_VQGAN, VQGANS, CLIPFile, CLIPSpec, ModelChoice, VQGANFiles,
                                VQGANSpec, parse_models)

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


def layout_lines(root: Path) -> list[str]:
    """The folder layout `--models-dir` (or the cache) must have, to copy weights in by hand."""
    vq, cl = VQGANS[DEFAULT_VQGAN], CLIPS[DEFAULT_CLIP]
    return [
        f"expected layout of {root}:",
        f"  vqgan/<name>.yaml          VQGAN config, e.g. {vq.config_file}",
        "  vqgan/<name>.ckpt          its checkpoint (or <name>.safetensors)",
        "  vqgan/<name>.sha256.json   hashes recorded on first use (written for you)",
        f"  clip/<file>.pt             CLIP as OpenAI names it, e.g. {cl.file}",
        "  tiny/                      the random-weight test pair (written for you)",
    ]


class MissingWeights(UserError):
    """Weights not on disk: names the files, the fetch command, and the layout to copy them by hand."""

    def __init__(self, message: str, *, hint: str, root: Path):
        super().__init__(message, hint=hint)
        self.root = root

    def lines(self) -> list[str]:
        return super().lines() + layout_lines(self.root)


class HashMismatch(UserError):
    pass


# An artist's own file has no source to fetch from: the plan pinned it, so either the change was meant
# (plan again, which pins the new file) or it was not (put the old file back).
OWN_FILE_CHANGED = ("restore the original file, or if you changed it on purpose plan again: `roboz-collection plan "
                    "MANIFEST --force` pins the new file (tokens rendered with the old one are painted again)")


def verify_sha256(path: Path, expected: str, what: str, hint: str | None = None) -> None:
    got = sha256_file(path)
    if got != expected:
        raise HashMismatch(
            f"{path} ({what}) has sha256 {got}, expected {expected}; refusing to load it",
            hint=hint or "delete it and fetch again, or restore the original file",
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


def network_reason(e: BaseException) -> str:
    """A few words for a failed request, instead of urllib3's several-hundred-character repr."""
    import requests

    if isinstance(e, requests.HTTPError) and e.response is not None:
        return f"HTTP {e.response.status_code} {e.response.reason or ''}".strip()
    if isinstance(e, requests.Timeout):
        return "timed out"
    text = repr(e)
    for needle, reason in (("NameResolution", "cannot resolve the host name (offline?)"),
                           ("Name or service not known", "cannot resolve the host name (offline?)"),
                           ("Temporary failure in name resolution", "cannot resolve the host name (offline?)"),
                           ("Connection refused", "connection refused"),
                           ("Network is unreachable", "network unreachable (offline?)"),
                           ("SSLError", "TLS error"),
                           ("ProxyError", "proxy error")):
        if needle in text:
            return reason
    if isinstance(e, requests.ConnectionError):
        return "connection failed"
    if isinstance(e, OSError):
        return e.strerror or type(e).__name__
    return type(e).__name__


def _download_any(urls: list[str], dest: Path, progress: ProgressFn | None, root: Path | None = None) -> None:
    from urllib.parse import urlsplit

    errors = []
    for url in urls:
        try:
            download(url, dest, progress=progress)
            return
        except Exception as e:  # network errors of every kind: try the next mirror
            errors.append(f"{urlsplit(url).hostname}: {network_reason(e)}")
    where = f"{root}/{dest.relative_to(root)}" if root and dest.is_relative_to(root) else str(dest)
    raise UserError(f"could not download {dest.name} ({'; '.join(errors)})",
                    hint=f"check the network, or copy the file by hand to {where} (see `roboz-collection models list`) "
                         "and pass --models-dir if it is not the cache")


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
            _download_any(urls, root / rel, progress, root)
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
        _download_any([spec.url], dest, progress, root)
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
    """(vqgan yaml, vqgan ckpt, clip file), all present and hash-checked, or a UserError saying how to get them.

    Registry halves come from the cache (or --models-dir); an artist's own files are checked
    against the sha256 pinned in `choice`, or pinned now when this is their first use.
    """
    root = models_root(models_dir)
    if not choice.pinned:
        choice = pin_files(choice)
    gone = missing_own_files(choice)
    if gone:
        f, p = gone[0]
        raise UserError(f"models.{f}: file {p} not found (plan.json pinned it with its sha256)",
                        hint="put the file back there (a moved project keeps files inside its folder with it), "
                             "or fix render.models and plan again", exit_code=2)
    vq, cl = choice.vqgan, choice.clip
    need = []
    if isinstance(vq, str):
        need += [root / VQGANS[vq].config_file, root / VQGANS[vq].ckpt_file]
    if isinstance(cl, str):
        need.append(root / CLIPS[cl].file)
    missing = [p for p in need if not p.exists()]
    if missing:
        fetch = "+".join(n for n in (vq if isinstance(vq, str) else None, cl if isinstance(cl, str) else None) if n)
        raise MissingWeights(
            f"model weights for {choice.label} are missing: " + ", ".join(str(p) for p in missing),
            hint=f"run `{fetch_command(fetch, models_dir)}` (or copy the files there by hand; "
                 "or paint a draft without them: `build MANIFEST --draft` uses the demo models; "
                 "`--models tiny` is random-weight noise for plumbing checks)",
            root=root,
        )
    if isinstance(vq, VQGANFiles):
        config, ckpt = Path(vq.config), Path(vq.checkpoint)
        verify_sha256(config, vq.config_sha256, f"VQGAN config {vq.name}", OWN_FILE_CHANGED)  # type: ignore[arg-type]
        verify_sha256(ckpt, vq.checkpoint_sha256, f"VQGAN {vq.name}", OWN_FILE_CHANGED)  # type: ignore[arg-type]
    else:
        spec = VQGANS[vq]
        if spec.ckpt_sha256:
            verify_sha256(root / spec.ckpt_file, spec.ckpt_sha256, spec.name)
        recorded = read_recorded(root, spec.hash_file)
        if spec.ckpt_file not in recorded or spec.config_file not in recorded:
            # Trust on first use only for files that are what they claim: a half-copied or foreign file is
            # named now (generator.modelfiles), not recorded and then refused as "changed" once replaced.
            from generator.modelfiles import check_vqgan

            check_vqgan(root / spec.config_file, root / spec.ckpt_file)
        ckpt = verified_path(root, spec.ckpt_file, spec.hash_file, spec.name)
        config = verified_path(root, spec.config_file, spec.hash_file, spec.name + " config")
        st = ckpt.with_suffix(".safetensors")
        if st.exists():  # converted once by `models fetch --safetensors`: no pickle at all
            ckpt = verified_path(root, str(st.relative_to(root)), spec.hash_file, spec.name)
    if isinstance(cl, CLIPFile):
        clip_path = Path(cl.file)
        verify_sha256(clip_path, cl.sha256, f"CLIP {cl.name}", OWN_FILE_CHANGED)  # type: ignore[arg-type]
    else:
        clip_path = root / CLIPS[cl].file
        verify_sha256(clip_path, CLIPS[cl].sha256, f"CLIP {cl}")
    return config, ckpt, clip_path


# ---- an artist's own files ----------------------------------------------------------------

def own_files(choice: ModelChoice) -> list[tuple[str, Path]]:
    """(field, path) of every file `choice` names outside the registry."""
    out: list[tuple[str, Path]] = []
    if isinstance(choice.vqgan, VQGANFiles):
        out += [("vqgan.config", Path(choice.vqgan.config)), ("vqgan.checkpoint", Path(choice.vqgan.checkpoint))]
    if isinstance(choice.clip, CLIPFile):
        out.append(("clip", Path(choice.clip.file)))
    return out


def missing_own_files(choice: ModelChoice) -> list[tuple[str, Path]]:
    return [(f, p) for f, p in own_files(choice) if not p.is_file()]


def own_file_problems(choice: ModelChoice) -> list[tuple[str, UserError]]:
    """(field, error) for each of an artist's own files that is not what it claims (generator.modelfiles:
    headers, keys and shapes; nothing unpickled). `validate` reports these; `pin_files` refuses them."""
    from generator.modelfiles import ModelFileError, check_clip, check_vqgan

    out: list[tuple[str, UserError]] = []
    if isinstance(choice.vqgan, VQGANFiles):
        try:
            check_vqgan(Path(choice.vqgan.config), Path(choice.vqgan.checkpoint))
        except ModelFileError as e:
            out.append(("vqgan", e))
    if isinstance(choice.clip, CLIPFile):
        try:
            check_clip(Path(choice.clip.file))
        except ModelFileError as e:
            out.append(("clip", e))
    return out


def pin_files(choice: ModelChoice) -> ModelChoice:
    """Record each own file's sha256 in the spec on its first use. A hash already pinned is kept
    (never re-pinned), so a file changed since then fails the check in `require_files`."""
    from dataclasses import replace

    missing = missing_own_files(choice)
    if missing:
        f, p = missing[0]
        raise UserError(f"models.{f}: file {p} not found", hint="fix the path in render.models (or --models)", exit_code=2)
    vq, cl = choice.vqgan, choice.clip
    unpinned = (isinstance(vq, VQGANFiles) and not (vq.config_sha256 and vq.checkpoint_sha256)) or (
        isinstance(cl, CLIPFile) and not cl.sha256)
    problems = own_file_problems(choice) if unpinned else []
    if problems:  # never pin a damaged file: the next fixed copy would be refused as "changed"
        raise problems[0][1]
    if isinstance(vq, VQGANFiles) and not (vq.config_sha256 and vq.checkpoint_sha256):
        vq = replace(vq, config_sha256=sha256_file(Path(vq.config)), checkpoint_sha256=sha256_file(Path(vq.checkpoint)))
    if isinstance(cl, CLIPFile) and not cl.sha256:
        cl = replace(cl, sha256=sha256_file(Path(cl.file)))
    return ModelChoice(vq, cl)


def pin_models(spec: dict[str, Any]) -> str | dict[str, Any]:
    """A models mapping (absolute paths) with every own file's sha256 recorded: what plan.json keeps."""
    return pin_files(parse_models(spec)).to_spec()
