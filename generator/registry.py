"""Which models to load: named weights from the registry, or files of the artist's own.

A models spec is one of
  "<vqgan>+<clip>"   registry names (e.g. "vqgan_imagenet_f16_16384+ViT-B/32"; "<vqgan>" alone
                     takes the default CLIP), "tiny" for the random-weight test pair, or "demo"
                     for the small pair trained on a toy robot world (generator.demo, in the package);
  a mapping          {vqgan: NAME | {config: my.yaml, checkpoint: my.ckpt|my.safetensors, name: ...},
                      clip: NAME | my_clip.pt}: files, relative to a base folder (the manifest's, or
                     the working directory for --models) or absolute.
Files are pinned by sha256 (`sha256:` beside the paths, written by the plan step on first use)
and checked before every load; the public `label` names the model in metadata without paths.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildfiles.errors import UserError

TINY = "tiny"
DEMO = "demo"
# What renders made by a test pair say about themselves (PNG text, render record, metadata, gallery).
TEST_MODELS = {TINY: "tiny random-weight models", DEMO: "demo models trained on a toy robot world"}
# The demo pair's judge (generator/demo/weights/judge.pt, hash-pinned in generator.demo.files): a
# second CLIP trained on the same toy world with its own seed and architecture. It scores the demo
# pair's best-of-K candidates and auto-stop; it is never a guide, and it knows nothing else.
DEMO_JUDGE = "demo-judge"
_HEIBOX = "https://heibox.uni-heidelberg.de/d/{key}/files/?p=%2F{path}&dl=1"
_CLIP = "https://openaipublic.azureedge.net/clip/models/{sha}/{file}"


@dataclass(frozen=True)
class VQGANSpec:
    name: str
    config_url: str
    ckpt_url: str
    ckpt_mirrors: tuple[str, ...] = ()
    ckpt_sha256: str | None = None  # none published: recorded on first download, checked on every load

    @property
    def config_file(self) -> str:
        return f"vqgan/{self.name}.yaml"

    @property
    def ckpt_file(self) -> str:
        return f"vqgan/{self.name}.ckpt"

    @property
    def hash_file(self) -> str:
        return f"vqgan/{self.name}.sha256.json"


@dataclass(frozen=True)
class CLIPSpec:
    name: str
    url: str

    @property
    def sha256(self) -> str:
        # OpenAI publishes each file under a path segment that is its own sha256.
        return self.url.rsplit("/", 2)[-2]

    @property
    def file(self) -> str:
        return "clip/" + self.url.rsplit("/", 1)[-1]


def _heibox(name: str, key: str, config: str = "configs/model.yaml", ckpt: str = "ckpts/last.ckpt", mirrors=()) -> VQGANSpec:
    enc = lambda p: p.replace("/", "%2F")  # noqa: E731
    return VQGANSpec(name, _HEIBOX.format(key=key, path=enc(config)), _HEIBOX.format(key=key, path=enc(ckpt)), tuple(mirrors))


VQGANS: dict[str, VQGANSpec] = {
    s.name: s
    for s in (
        _heibox("vqgan_imagenet_f16_16384", "a7530b09fed84f80a887",
                mirrors=["https://github.com/mehdidc/feed_forward_vqgan_clip/releases/download/0.1/vqgan_imagenet_f16_16384.ckpt"]),
        _heibox("vqgan_imagenet_f16_1024", "8088892a516d4e3baf92"),
        _heibox("vqgan_gumbel_f8_8192", "2e5662443a6b4307b470"),
        VQGANSpec(
            "wikiart_16384",
            "http://eaidata.bmk.sh/data/Wikiart_16384/wikiart_f16_16384_8145600.yaml",
            "http://eaidata.bmk.sh/data/Wikiart_16384/wikiart_f16_16384_8145600.ckpt",
        ),
    )
}

CLIPS: dict[str, CLIPSpec] = {
    name: CLIPSpec(name, _CLIP.format(sha=sha, file=file))
    for name, sha, file in (
        ("ViT-B/32", "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af", "ViT-B-32.pt"),
        ("ViT-B/16", "5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f", "ViT-B-16.pt"),
        ("ViT-L/14", "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836", "ViT-L-14.pt"),
        ("RN50", "afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762", "RN50.pt"),
        ("RN101", "8fa8567bab74a42d41c5915025a8e4538c3bdbe8804a470a72f30b0d94fab599", "RN101.pt"),
        ("RN50x4", "7e526bd135e493cef0776de27d5f42653e6b4c8bf9e0f653bb11773263205fdd", "RN50x4.pt"),
    )
}

DEFAULT_VQGAN = "vqgan_imagenet_f16_16384"
DEFAULT_CLIP = "ViT-B/32"


@dataclass(frozen=True)
class VQGANFiles:
    """An artist's own VQGAN: taming yaml config + Lightning .ckpt (or .safetensors)."""

    config: str
    checkpoint: str
    name: str
    config_sha256: str | None = None
    checkpoint_sha256: str | None = None

    def to_spec(self) -> dict[str, Any]:
        d: dict[str, Any] = {"config": self.config, "checkpoint": self.checkpoint, "name": self.name}
        if self.config_sha256 and self.checkpoint_sha256:
            d["sha256"] = {"config": self.config_sha256, "checkpoint": self.checkpoint_sha256}
        return d


@dataclass(frozen=True)
class CLIPFile:
    """An artist's own CLIP: a state dict or OpenAI TorchScript archive."""

    file: str
    name: str
    sha256: str | None = None

    def to_spec(self) -> dict[str, Any]:
        d: dict[str, Any] = {"file": self.file, "name": self.name}
        if self.sha256:
            d["sha256"] = self.sha256
        return d


@dataclass(frozen=True)
class ModelChoice:
    vqgan: str | VQGANFiles
    clip: str | CLIPFile

    @property
    def tiny(self) -> bool:
        return self.vqgan == TINY

    @property
    def demo(self) -> bool:
        return self.vqgan == DEMO

    @property
    def test_label(self) -> str | None:
        """None for real weights; else the label every render of this test pair carries."""
        return TEST_MODELS.get(self.vqgan) if isinstance(self.vqgan, str) else None

    @property
    def files(self) -> bool:
        """True when either half names files rather than registry weights."""
        return isinstance(self.vqgan, VQGANFiles) or isinstance(self.clip, CLIPFile)

    @property
    def pinned(self) -> bool:
        vq_ok = not isinstance(self.vqgan, VQGANFiles) or bool(self.vqgan.checkpoint_sha256 and self.vqgan.config_sha256)
        cl_ok = not isinstance(self.clip, CLIPFile) or bool(self.clip.sha256)
        return vq_ok and cl_ok

    @property
    def label(self) -> str:
        """The public name (metadata, PNG text): registry names, or the files' names, never paths."""
        if self.test_label:
            return self.vqgan
        vq = self.vqgan.name if isinstance(self.vqgan, VQGANFiles) else self.vqgan
        cl = self.clip.name if isinstance(self.clip, CLIPFile) else self.clip
        return f"{vq}+{cl}"

    def to_spec(self) -> str | dict[str, Any]:
        """What render settings hold: the registry string, or a mapping with absolute paths and hashes."""
        if not self.files:
            return str(self)
        return {"vqgan": self.vqgan.to_spec() if isinstance(self.vqgan, VQGANFiles) else self.vqgan,
                "clip": self.clip.to_spec() if isinstance(self.clip, CLIPFile) else self.clip}

    def __str__(self) -> str:
        # Round-trips through parse_models, so executors can pass it around as one string.
        if self.files:
            return json.dumps(self.to_spec(), sort_keys=True, separators=(",", ":"))
        return self.vqgan if self.test_label else f"{self.vqgan}+{self.clip}"


class ModelSpecError(UserError):
    """A models spec that cannot be read; `message` is one line, the field path is the caller's."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message, hint=hint, exit_code=2)


_SPEC_HELP = ("models must be \"<vqgan>+<clip>\", \"tiny\", or a mapping like "
              "{vqgan: {config: my.yaml, checkpoint: my.ckpt}, clip: ViT-B/32}")


def parse_models(s: str | dict[str, Any] | None, base: Path | str | None = None) -> ModelChoice:
    """A models spec -> ModelChoice. Relative file paths are taken from `base` (made absolute);
    nothing is read from disk here (see weights.pin_files)."""
    if isinstance(s, str) and s.strip().startswith("{"):
        s = _load_flow_mapping(s)
    if isinstance(s, dict):
        return _parse_mapping(s, Path(base) if base is not None else None)
    if s is not None and not isinstance(s, str):
        raise ModelSpecError(f"got {type(s).__name__} {s!r}", hint=_SPEC_HELP)
    s = (s or f"{DEFAULT_VQGAN}+{DEFAULT_CLIP}").strip()
    if s in TEST_MODELS:
        return ModelChoice(s, s)
    vq, _, cl = s.partition("+")
    vq, cl = vq.strip(), (cl.strip() or DEFAULT_CLIP)
    if vq not in VQGANS:
        raise UserError(f"unknown VQGAN {vq!r} in models {s!r}", hint=f"choose one of: {', '.join(VQGANS)} (or 'demo', 'tiny'), "
                        "or name your own files: {vqgan: {config: my.yaml, checkpoint: my.ckpt}}", exit_code=2)
    if cl not in CLIPS:
        raise UserError(f"unknown CLIP {cl!r} in models {s!r}", hint=f"choose one of: {', '.join(CLIPS)}, or a CLIP file", exit_code=2)
    return ModelChoice(vq, cl)


def _load_flow_mapping(s: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(s)
    except yaml.YAMLError as e:
        raise ModelSpecError(f"cannot read {s!r} as a mapping ({str(e).splitlines()[0]})", hint=_SPEC_HELP) from None


def _abs(path: Any, base: Path | None, where: str) -> str:
    if not isinstance(path, str) or not path.strip():
        raise ModelSpecError(f"{where} must be a file path, got {path!r}", hint=_SPEC_HELP)
    p = Path(path).expanduser()
    if not p.is_absolute():
        if base is None:
            raise ModelSpecError(f"{where} {path!r} is relative, but no base folder is known", hint="give an absolute path")
        p = base / p
    return str(p.resolve())


def _sha(v: Any, where: str) -> str | None:
    if v is None:
        return None
    if not isinstance(v, str) or len(v) != 64 or any(ch not in "0123456789abcdef" for ch in v):
        raise ModelSpecError(f"{where} must be a sha256 (64 lowercase hex digits), got {v!r}")
    return v


def _keys(d: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = [k for k in d if k not in allowed]
    if unknown:
        raise ModelSpecError(f"unknown key {unknown[0]!r} in {where} (allowed: {', '.join(allowed)})", hint=_SPEC_HELP)


def _parse_mapping(d: dict[str, Any], base: Path | None) -> ModelChoice:
    _keys(d, ("vqgan", "clip"), "models")
    vq: Any = d.get("vqgan", DEFAULT_VQGAN)
    cl: Any = d.get("clip", DEFAULT_CLIP)
    if isinstance(vq, dict):
        _keys(vq, ("config", "checkpoint", "name", "sha256"), "models.vqgan")
        for k in ("config", "checkpoint"):
            if k not in vq:
                raise ModelSpecError(f"models.vqgan needs '{k}' (a taming yaml config and its .ckpt or .safetensors)", hint=_SPEC_HELP)
        ckpt = _abs(vq["checkpoint"], base, "models.vqgan.checkpoint")
        if Path(ckpt).suffix not in (".ckpt", ".safetensors", ".pt", ".pth"):
            raise ModelSpecError(f"models.vqgan.checkpoint {vq['checkpoint']!r} is not a .ckpt or .safetensors file")
        hashes = vq.get("sha256") or {}
        if not isinstance(hashes, dict):
            raise ModelSpecError("models.vqgan.sha256 must map config and checkpoint to their sha256")
        name = vq.get("name") or Path(ckpt).stem
        if not isinstance(name, str) or "+" in name:
            raise ModelSpecError(f"models.vqgan.name must be text without '+', got {name!r}")
        vq = VQGANFiles(_abs(vq["config"], base, "models.vqgan.config"), ckpt, name.strip(),
                        _sha(hashes.get("config"), "models.vqgan.sha256.config"),
                        _sha(hashes.get("checkpoint"), "models.vqgan.sha256.checkpoint"))
    elif not isinstance(vq, str) or (vq != TINY and vq not in VQGANS):
        raise ModelSpecError(f"models.vqgan: unknown VQGAN {vq!r}",
                             hint=f"choose one of: {', '.join(VQGANS)}, or {{config: my.yaml, checkpoint: my.ckpt}}")
    if isinstance(cl, dict):
        _keys(cl, ("file", "name", "sha256"), "models.clip")
        path = _abs(cl.get("file"), base, "models.clip.file")
        name = cl.get("name") or Path(path).stem
        if not isinstance(name, str) or "+" in name:
            raise ModelSpecError(f"models.clip.name must be text without '+', got {name!r}")
        cl = CLIPFile(path, name.strip(), _sha(cl.get("sha256"), "models.clip.sha256"))
    elif isinstance(cl, str) and cl in CLIPS:
        pass
    elif isinstance(cl, str) and Path(cl).suffix in (".pt", ".pth"):  # "ViT-B/16" has no suffix
        path = _abs(cl, base, "models.clip")
        cl = CLIPFile(path, Path(path).stem)
    elif cl == TINY and vq == TINY:
        pass
    else:
        raise ModelSpecError(f"models.clip: unknown CLIP {cl!r}", hint=f"choose one of: {', '.join(CLIPS)}, or a file (my_clip.pt)")
    if (vq == TINY) != (cl == TINY):
        raise ModelSpecError("the tiny test models come as a pair: use models: tiny")
    return ModelChoice(vq, cl)
