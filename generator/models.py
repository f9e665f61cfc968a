"""Loading a VQGAN (yaml config + Lightning checkpoint) and a CLIP (state dict) into one `Models`.

The tiny test pair goes through exactly these functions; only where the files come from differs.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from generator import tiny, weights
from generator.registry import TEST_MODELS
from generator.registry import ModelChoice, parse_models
from generator.vqgan import vqgan_from_config

# Import-time noise from the 2021 stack (pkg_resources in clip, Lightning 1.9 deprecations in taming).
warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
warnings.filterwarnings("ignore", message=".*rank_zero_only.*")

@dataclass
class Models:
    """Everything the loop needs from the two networks, on one device."""

    name: str
    tiny: bool
    vqgan: nn.Module
    clip: nn.Module
    device: torch.device

    @property
    def factor(self) -> int:
        """Pixels per latent cell: 2**(len(ch_mult)-1), read from the decoder, not assumed to be 16."""
        return 2 ** (self.vqgan.decoder.num_resolutions - 1)

    @property
    def codebook(self) -> Tensor:
        q = self.vqgan.quantize
        return q.embed.weight if hasattr(q, "embed") else q.embedding.weight

    @property
    def cut_size(self) -> int:
        return self.clip.visual.input_resolution

    @property
    def test_label(self) -> str | None:
        """None for real weights; else how renders of this test pair are labelled (registry.TEST_MODELS)."""
        return TEST_MODELS.get(self.name)


def load_vqgan_state(ckpt_path: Path) -> dict[str, Tensor]:
    """state_dict from a .ckpt (Lightning pickle) or .safetensors. Caller must have verified the hash."""
    if ckpt_path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(ckpt_path))
    # weights_only=False: Lightning checkpoints pickle callback objects. Safe only because
    # weights.require_files / tiny.ensure_tiny checked this file's sha256 first.
    ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=False)
    return ckpt["state_dict"] if "state_dict" in ckpt else ckpt


def load_vqgan(config_path: Path, ckpt_path: Path) -> nn.Module:
    """A damaged or mismatched pair is one ModelFileError naming the file and the fix (generator.modelfiles)."""
    from generator.modelfiles import check_vqgan, fit_problem, load_error

    config = check_vqgan(config_path, ckpt_path)
    try:
        model = vqgan_from_config(config)
        sd = {k: v for k, v in load_vqgan_state(ckpt_path).items() if not k.startswith("loss.")}
    except Exception as e:  # past the checks: a file torch still cannot read is the file's fault, not a bug
        raise load_error(ckpt_path, "VQGAN checkpoint", e) from None
    want = {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.startswith("loss.")}
    fit_problem(ckpt_path, config_path, {k: tuple(v.shape) for k, v in sd.items()}, want)  # Lightning files: checked only now
    model.load_state_dict(sd, strict=False)
    del model.loss
    return model.eval().requires_grad_(False)



def load_clip(path: Path) -> nn.Module:
    """CLIP from a plain state dict or OpenAI's TorchScript archive. Caller verified the hash.
    A damaged or foreign file is one ModelFileError naming it and the fix (generator.modelfiles)."""
    from generator.modelfiles import check_clip, file_kind, load_error, quiet_build_model

    check_clip(path)
    try:
        if file_kind(path, "CLIP file") == "torchscript":  # OpenAI's files
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sd = torch.jit.load(str(path), map_location="cpu").state_dict()
        else:  # a plain state dict (the tiny model, or a converted file)
            sd = torch.load(path, map_location="cpu", weights_only=True)
        # build_model converts to fp16; the loop runs fp32 and uses autocast where asked.
        return quiet_build_model(sd).float().eval().requires_grad_(False)
    except Exception as e:  # past the checks: a file torch still cannot read is the file's fault, not a bug
        raise load_error(path, "CLIP file", e) from None


def load_models(models: str | dict | ModelChoice | None, device: torch.device | str = "cpu",
                models_dir: Path | None = None) -> Models:
    """Resolve a models spec to hash-verified files and load both networks onto `device`.

    Nothing is unpickled before its sha256 matched (weights.require_files, tiny.ensure_tiny,
    demo.files.demo_files: the demo pair ships in the package, its hashes in the code).
    """
    choice = models if isinstance(models, ModelChoice) else parse_models(models)
    device = torch.device(device)
    if choice.tiny:
        config, ckpt, clip_path = tiny.ensure_tiny(weights.models_root(models_dir))
    elif choice.demo:
        from generator.demo.files import demo_files

        config, ckpt, clip_path = demo_files()
    else:
        config, ckpt, clip_path = weights.require_files(choice, models_dir)
    vq = load_vqgan(config, ckpt).to(device)
    cl = load_clip(clip_path).to(device)
    return Models(choice.label, choice.tiny, vq, cl, device)


def convert_to_safetensors(config_path: Path, ckpt_path: Path) -> Path:
    """Write the verified checkpoint's state_dict as .safetensors beside it (later loads skip pickle)."""
    from safetensors.torch import save_file

    sd = {k: v.contiguous() for k, v in load_vqgan_state(ckpt_path).items() if not k.startswith("loss.")}
    out = ckpt_path.with_suffix(".safetensors")
    tmp = out.with_name(out.name + ".tmp")
    save_file(sd, str(tmp))
    tmp.replace(out)
    return out
