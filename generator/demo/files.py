"""The trained demo pair on disk: package data beside this module, sha256-checked before loading.

The hashes below are part of the code (like the sha256 in each OpenAI CLIP URL), so a
file swapped on disk is refused before `torch.load` unpickles anything. Retraining
(`python -m generator.demo.train`) prints the new hashes; copy them here.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from buildfiles.errors import UserError

DIR = Path(__file__).with_name("weights")
VQGAN_CONFIG = "vqgan.yaml"
VQGAN_CKPT = "vqgan.ckpt"
CLIP_FILE = "clip.pt"
HASH_FILE = "sha256.json"
REPORT_FILE = "report.json"
FILES = (VQGAN_CONFIG, VQGAN_CKPT, CLIP_FILE)

# Filled in from the committed training run (see report.json beside the files).
SHA256: dict[str, str] = {
    "clip.pt": "9b4d789a37763785557f237f2d4b082a3823bae3ec8736f0d33110b103422859",
    "vqgan.ckpt": "804747205b91e95191ca287d2bda4a63e4862a881623fc8eb27e78f6183451c0",
    "vqgan.yaml": "0cf1ad36886f84cb7e02ede00ede292d0cc3f84b90acf8fd120f831e7fab44f6",
}

# The bundled sketch, read as a file (the generator imports nothing of `collection`).
_JAX_PNG = Path(__file__).resolve().parents[2] / "collection" / "assets" / "jax.png"


def jax_png() -> Image.Image:
    """The bundled Jax sketch, or the same drawing made by world.py when the asset is not beside us."""
    if _JAX_PNG.exists():
        return Image.open(_JAX_PNG).convert("RGB")
    from generator.demo.world import jax_sketch

    return jax_sketch(512)


def demo_files(root: Path | None = None, sha256: dict[str, str] | None = None) -> tuple[Path, Path, Path]:
    """(yaml, ckpt, clip) of the demo pair, each checked against its recorded sha256."""
    from generator.weights import verify_sha256

    root = root or DIR
    sha256 = SHA256 if sha256 is None else sha256
    missing = [root / f for f in FILES if not (root / f).exists()]
    if missing or not sha256:
        raise UserError(
            "the demo models are not there: " + (", ".join(str(p) for p in missing) or "no recorded sha256s"),
            hint="reinstall roboz-collection, or train them: python -m generator.demo.train",
        )
    for f in FILES:
        verify_sha256(root / f, sha256[f], f"demo model {f}",  # shipped with the package: nothing to fetch
                      "reinstall roboz-collection (in a checkout: `git checkout generator/demo/weights`), "
                      "or train the pair again: python -m generator.demo.train")
    return root / VQGAN_CONFIG, root / VQGAN_CKPT, root / CLIP_FILE
