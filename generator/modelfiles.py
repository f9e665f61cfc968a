"""Model files looked at before anything is unpickled: one line, naming the file and the fix, for each
way a VQGAN or CLIP file can be wrong (a user's mistake, never "a bug").

    random bytes, an HTML page      neither a torch file (zip / pickle) nor safetensors
    a half-downloaded file          a zip without its central directory, a pickle or tensor data cut short
    another zip                     no data.pkl inside: not a torch file
    a yaml without ddconfig         the decoder's shape is unknown; a wrong `target` class
    missing keys, shape mismatch    the checkpoint does not fit its config (compared on the meta device)

Nothing here runs pickled code: keys and shapes are read with `torch.load(weights_only=True,
mmap=True, map_location="meta")` (a restricted unpickler, no tensor data read) or from a safetensors
header. A Lightning checkpoint that pickles callback objects, or OpenAI's TorchScript CLIP, cannot be
read that way: for those only the archive's structure is checked here, and the real load (after
its sha256 matched) reports the rest through `load_error`.
"""

from __future__ import annotations

import json
import struct
import zipfile
from pathlib import Path
from typing import Any

from buildfiles.errors import UserError

ZIP_MAGIC = b"PK\x03\x04"
VQGAN_CLASSES = ("VQModel", "GumbelVQ")
DDCONFIG_KEYS = ("ch", "ch_mult", "num_res_blocks", "attn_resolutions", "in_channels", "out_ch", "resolution", "z_channels")
CLIP_KEYS = ("positional_embedding", "text_projection", "token_embedding.weight", "ln_final.weight", "visual.conv1.weight")


class ModelFileError(UserError):
    exit_code = 2

    def __init__(self, message: str, hint: str):
        super().__init__(message, hint=hint, exit_code=2)


def _damaged(path: Path, what: str, reason: str) -> ModelFileError:
    return ModelFileError(f"{what} {path} is damaged or cut short ({reason})",
                          hint="download it again (`roboz-collection models fetch` resumes a partial file) or copy the whole file")


# ---- what a file is ---------------------------------------------------------------------------

def file_kind(path: Path, what: str) -> str:
    """"zip" (torch's format), "torchscript", "pickle" (torch's legacy format) or "safetensors"; else ModelFileError."""
    try:
        with path.open("rb") as f:
            head = f.read(16)
            size = path.stat().st_size
    except IsADirectoryError:
        raise ModelFileError(f"{what} {path} is a folder, not a model file", hint="name the file itself") from None
    except OSError as e:
        raise ModelFileError(f"{what} {path} cannot be read: {e.strerror or e}", hint="check the path and its permissions") from None
    if size == 0:
        raise ModelFileError(f"{what} {path} is empty (0 bytes)", hint="download it again, or name the right file")
    if head.startswith(ZIP_MAGIC):
        try:
            with zipfile.ZipFile(path) as z:
                names = z.namelist()
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise _damaged(path, what, f"a zip archive without its end: {e}") from None
        if not any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
            raise ModelFileError(f"{what} {path} is a zip archive but not a torch file (no data.pkl inside)",
                                 hint="name the checkpoint itself (.ckpt / .pt / .safetensors), not an archive that holds it")
        return "torchscript" if any(n.endswith("/constants.pkl") or "/code/" in n for n in names) else "zip"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle"
    if len(head) >= 9:
        (n,) = struct.unpack("<Q", head[:8])
        if 2 <= n <= min(size - 8, 100 << 20) and head[8:9] == b"{":
            return "safetensors"
    shown = head[:8].hex(" ")
    raise ModelFileError(f"{what} {path} is not a model file: neither a torch checkpoint (zip or pickle) nor safetensors "
                         f"(it starts with bytes {shown})",
                         hint="download it again, or name the right file (an HTML error page saved as .ckpt looks like this)")


def read_shapes(path: Path, what: str) -> dict[str, tuple[int, ...]] | None:
    """Tensor names and shapes of a state dict (a Lightning checkpoint's `state_dict` unwrapped), read
    without running pickled code; None when the file can only be read by unpickling code (see module doc)."""
    kind = file_kind(path, what)
    if kind == "torchscript":
        return None
    if kind == "safetensors":
        return _safetensors_shapes(path, what)
    import pickle

    import torch

    try:
        obj = torch.load(path, map_location="meta", weights_only=True, mmap=(kind == "zip"))
    except pickle.UnpicklingError as e:
        if "global" not in str(e).lower():
            raise _damaged(path, what, _short(e)) from None
        # Pickled objects beside the weights (Lightning callbacks, hparams): loaded after the sha256
        # matched - but only when every class they name comes from the libraries a checkpoint is made with.
        foreign = foreign_globals(path, kind)
        if foreign:
            raise ModelFileError(f"{what} {path} pickles code that is not a model's ({', '.join(foreign[:3])}); "
                                 "refusing to load it", hint="use the original checkpoint, or one converted to .safetensors "
                                                             "(`roboz-collection models fetch --safetensors`)") from None
        return None
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile, struct.error) as e:
        raise _damaged(path, what, _short(e)) from None
    sd = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(sd, dict) or not sd:
        raise ModelFileError(f"{what} {path} holds no state dict (a {type(obj).__name__}, not a mapping of weights)",
                             hint="name the model's checkpoint, or save its state_dict()")
    return {str(k): tuple(v.shape) for k, v in sd.items() if isinstance(v, torch.Tensor)}


# What a Lightning / taming checkpoint pickles besides tensors. A name outside these (os.system,
# builtins.eval, subprocess.*) is how a pickle runs code: such a file is refused, never unpickled.
SAFE_MODULES = ("torch", "collections", "numpy", "pytorch_lightning", "lightning", "lightning_fabric", "omegaconf",
                "_codecs", "typing", "pathlib", "argparse", "taming", "datetime", "enum", "functools")
SAFE_BUILTINS = {"set", "frozenset", "slice", "list", "dict", "tuple", "int", "float", "bool", "str", "bytes",
                 "bytearray", "complex", "range", "object", "getattr"}


def foreign_globals(path: Path, kind: str) -> list[str]:
    """"module.name" of every global a torch file's pickle names outside SAFE_MODULES, read with
    pickletools (nothing is executed); an unreadable or unresolvable reference counts as foreign."""
    import io
    import pickletools

    try:
        if kind == "zip":
            with zipfile.ZipFile(path) as z:
                streams = [io.BytesIO(z.read(n)) for n in z.namelist() if n.endswith(".pkl")]
        else:
            streams = [io.BytesIO(path.read_bytes())]
    except (OSError, zipfile.BadZipFile) as e:
        return [f"unreadable ({_short(e)})"]
    out: list[str] = []
    for f in streams:
        for _ in range(4 if kind == "pickle" else 1):  # torch's legacy format: magic, protocol, sys info, object
            recent: list[Any] = []
            memo: dict[Any, Any] = {}
            try:
                for op, arg, _pos in pickletools.genops(f):
                    if op.name in ("GLOBAL", "INST"):
                        out += _foreign(*str(arg).split(" ", 1))
                    elif op.name == "STACK_GLOBAL":
                        mod, name = (recent[-2], recent[-1]) if len(recent) >= 2 else (None, None)
                        out += _foreign(mod, name) if isinstance(mod, str) and isinstance(name, str) else ["an unresolved global"]
                    elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8", "SHORT_BINSTRING", "BINSTRING"):
                        recent.append(arg)
                    elif op.name in ("BINPUT", "LONG_BINPUT", "PUT"):
                        memo[arg] = recent[-1] if recent else None
                    elif op.name == "MEMOIZE":
                        memo[len(memo)] = recent[-1] if recent else None
                    elif op.name in ("BINGET", "LONG_BINGET", "GET"):
                        recent.append(memo.get(arg))
                    elif op.name != "STOP":
                        recent.append(None)
                    recent = recent[-4:]
            except (ValueError, EOFError, UnicodeDecodeError):
                if kind != "pickle":
                    out.append("an unreadable pickle")
                break
    return sorted(set(out))


def _foreign(module: str | None, name: str | None) -> list[str]:
    if not module or not name:
        return ["an unresolved global"]
    root = module.split(".")[0]
    if root in SAFE_MODULES or (module in ("builtins", "__builtin__") and name in SAFE_BUILTINS):
        return []
    return [f"{module}.{name}"]


def _safetensors_shapes(path: Path, what: str) -> dict[str, tuple[int, ...]]:
    try:
        with path.open("rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
        size = path.stat().st_size
    except (ValueError, struct.error, OSError) as e:
        raise _damaged(path, what, f"unreadable safetensors header: {_short(e)}") from None
    end = max((int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0)
    if 8 + n + end > size:
        raise _damaged(path, what, f"the header promises {8 + n + end:,} bytes, the file has {size:,}")
    return {k: tuple(v["shape"]) for k, v in header.items() if k != "__metadata__"}


def _short(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:160]


# ---- a VQGAN: yaml + checkpoint ----------------------------------------------------------------

def check_vqgan_config(path: Path) -> Any:
    """The yaml as an OmegaConf config, or ModelFileError saying what it lacks."""
    import yaml
    from omegaconf import OmegaConf

    what = "VQGAN config"
    fix = "use the yaml that came with the checkpoint (taming-transformers' model.yaml)"
    try:
        raw = yaml.safe_load(path.read_bytes())
    except IsADirectoryError:
        raise ModelFileError(f"{what} {path} is a folder, not a yaml file", hint="name the file itself") from None
    except (yaml.YAMLError, UnicodeDecodeError, ValueError) as e:
        raise ModelFileError(f"{what} {path} is not readable YAML ({_short(e)})", hint=fix) from None
    except OSError as e:
        raise ModelFileError(f"{what} {path} cannot be read: {e.strerror or e}", hint="check the path and its permissions") from None
    model = raw.get("model") if isinstance(raw, dict) else None
    if not isinstance(model, dict):
        raise ModelFileError(f"{what} {path} has no `model:` section", hint=fix)
    target = model.get("target")
    if not isinstance(target, str) or target.rsplit(".", 1)[-1] not in VQGAN_CLASSES:
        raise ModelFileError(f"{what} {path}: model.target is {target!r}, not a taming VQGAN class "
                             f"(taming.models.vqgan.{' or '.join(VQGAN_CLASSES)})", hint=fix)
    params = model.get("params")
    dd = params.get("ddconfig") if isinstance(params, dict) else None
    if not isinstance(dd, dict):
        raise ModelFileError(f"{what} {path} has no model.params.ddconfig (the shape of the encoder and decoder)", hint=fix)
    missing = [k for k in DDCONFIG_KEYS if k not in dd]
    if missing or "n_embed" not in params or "embed_dim" not in params:
        missing += [k for k in ("n_embed", "embed_dim") if k not in params]
        raise ModelFileError(f"{what} {path} lacks {', '.join(missing)} (in model.params / ddconfig)", hint=fix)
    return OmegaConf.create(raw)


def expected_vqgan_shapes(config) -> dict[str, tuple[int, ...]]:
    """What the config's VQGAN holds, built on the meta device (no memory, no weights)."""
    import torch

    from generator.vqgan import vqgan_from_config

    try:
        with torch.device("meta"):
            model = vqgan_from_config(config)
    except Exception as e:  # taming raises assertion, type and value errors for impossible shapes
        raise ValueError(_short(e)) from None
    return {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.startswith("loss.")}


def check_vqgan(config_path: Path, ckpt_path: Path) -> Any:
    """Config and checkpoint are what they claim and fit each other (keys and shapes), or ModelFileError.
    Returns the config (OmegaConf)."""
    config = check_vqgan_config(config_path)
    shapes = read_shapes(ckpt_path, "VQGAN checkpoint")
    try:
        expected = expected_vqgan_shapes(config)
    except ValueError as e:
        raise ModelFileError(f"VQGAN config {config_path} describes no buildable model ({e})",
                             hint="use the yaml that came with the checkpoint") from None
    if shapes is not None:
        fit_problem(ckpt_path, config_path, {k: v for k, v in shapes.items() if not k.startswith("loss.")}, expected)
    return config


def fit_problem(ckpt: Path, config: Path, have: dict[str, tuple[int, ...]], want: dict[str, tuple[int, ...]]) -> None:
    fix = f"pair {config.name} with the checkpoint it was trained with (or the checkpoint with its own yaml)"
    missing = [k for k in want if k not in have]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise ModelFileError(f"VQGAN checkpoint {ckpt} does not fit its config {config}: {len(missing)} weights missing ({shown})",
                             hint=fix)
    wrong = [(k, have[k], want[k]) for k in want if have[k] != want[k]]
    if wrong:
        k, h, w = wrong[0]
        more = f" ({len(wrong)} weights differ)" if len(wrong) > 1 else ""
        raise ModelFileError(f"VQGAN checkpoint {ckpt} does not fit its config {config}: {k} is {list(h)} in the "
                             f"checkpoint, {list(w)} in the config{more}", hint=fix)


# ---- a CLIP ---------------------------------------------------------------------------------------

def check_clip(path: Path) -> None:
    """A CLIP state dict with the keys OpenAI's build_model reads, whose shapes agree with each other."""
    what = "CLIP file"
    shapes = read_shapes(path, what)
    if shapes is None:
        return  # OpenAI's TorchScript archive: its sha256 is in its URL; checked at load
    missing = [k for k in CLIP_KEYS if k not in shapes]
    if missing:
        raise ModelFileError(f"{what} {path} is not a CLIP state dict: {', '.join(missing)} missing",
                             hint="name an OpenAI CLIP file (ViT-B-32.pt …) or a CLIP state dict saved with torch.save")
    import torch

    sd = {k: torch.empty(v, device="meta") for k, v in shapes.items()}
    try:
        with torch.device("meta"):
            quiet_build_model(sd)
    except Exception as e:  # build_model infers sizes from some tensors; the rest must agree
        raise ModelFileError(f"{what} {path} does not hold a consistent CLIP ({_short(e)})",
                             hint="name an unmodified CLIP file (the shapes inside it disagree)") from None


def quiet_build_model(sd: dict[str, Any]):
    """clip.model.build_model without its import-time pkg_resources warning."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from clip.model import build_model

    return build_model(sd)


def load_error(path: Path, what: str, e: BaseException) -> ModelFileError:
    """The one line for a file that passed the checks above but still failed to load."""
    return ModelFileError(f"{what} {path} cannot be loaded ({type(e).__name__}: {_short(e)})",
                          hint="download it again, or name a file of the expected kind")
