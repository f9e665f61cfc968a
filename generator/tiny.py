"""The tiny random-weight test pair, written in the real file formats.

VQGAN: taming's VQModel with ch 32, ch_mult [1, 2] (factor 2), a 128-entry codebook, saved
as a yaml config plus a Lightning-style .ckpt holding `state_dict`. CLIP: OpenAI's CLIP
class with width 64, 2 layers, 32-pixel images and the real 49408-token vocabulary (so
the bundled tokenizer works), saved as a state dict. Both are generated from a fixed
seed, their sha256 recorded like any downloaded weights, and loaded by generator.models.
"""

from __future__ import annotations

from pathlib import Path

import torch

from generator import weights

SEED = 20210418  # fixed: the tiny pair is the same on every machine
DIR = "tiny"
HASH_FILE = f"{DIR}/sha256.json"
FILES = (f"{DIR}/vqgan.yaml", f"{DIR}/vqgan.ckpt", f"{DIR}/clip.pt")

VQGAN_YAML = """\
model:
  base_learning_rate: 4.5e-06
  target: taming.models.vqgan.VQModel
  params:
    embed_dim: 16
    n_embed: 128
    ddconfig:
      double_z: false
      z_channels: 16
      resolution: 64
      in_channels: 3
      out_ch: 3
      ch: 32
      ch_mult: [1, 2]
      num_res_blocks: 1
      attn_resolutions: []
      dropout: 0.0
    lossconfig:
      target: taming.modules.losses.vqperceptual.VQLPIPSWithDiscriminator
      params:
        disc_conditional: false
        disc_in_channels: 3
        disc_start: 0
        disc_weight: 0.75
        codebook_weight: 1.0
"""

CLIP_ARGS = dict(embed_dim=64, image_resolution=32, vision_layers=2, vision_width=64, vision_patch_size=8,
                 context_length=77, vocab_size=49408, transformer_width=64, transformer_heads=1, transformer_layers=2)


def _write_tiny(root: Path) -> None:
    from omegaconf import OmegaConf
    from clip.model import CLIP

    from buildfiles.atomicio import write_bytes, write_text
    from generator.vqgan import vqgan_from_config
    import io

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        vq = vqgan_from_config(OmegaConf.create(VQGAN_YAML))
        # A trained codebook is spread out; taming's init (+-1/n) is not. Spread it so the
        # tiny model's quantiser behaves like a real one.
        vq.quantize.embedding.weight.data.normal_(0, 1)
        clip_model = CLIP(**CLIP_ARGS)
    sd = {k: v for k, v in vq.state_dict().items() if not k.startswith("loss.")}
    buf = io.BytesIO()
    torch.save({"state_dict": sd, "epoch": 0, "global_step": 0, "pytorch-lightning_version": "1.9.5"}, buf)
    write_text(root / FILES[0], VQGAN_YAML)
    write_bytes(root / FILES[1], buf.getvalue())
    buf = io.BytesIO()
    torch.save(clip_model.state_dict(), buf)
    write_bytes(root / FILES[2], buf.getvalue())
    weights.record_hashes(root, HASH_FILE, list(FILES), source=f"generator.tiny seed {SEED}")


def ensure_tiny(root: Path) -> tuple[Path, Path, Path]:
    """(yaml, ckpt, clip) for the tiny pair under `root`, generating them once; hash-checked like real weights."""
    if not all((root / f).exists() for f in FILES) or not weights.read_recorded(root, HASH_FILE):
        _write_tiny(root)
    return tuple(weights.verified_path(root, f, HASH_FILE, "tiny test model") for f in FILES)  # type: ignore[return-value]
