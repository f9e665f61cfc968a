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
JUDGE_FILE = "judge.pt"   # the registry's "demo-judge": scores the pair's renders, never guides them
HASH_FILE = "sha256.json"
REPORT_FILE = "report.json"
FILES = (VQGAN_CONFIG, VQGAN_CKPT, CLIP_FILE)  # the pair the loop loads
ALL_FILES = (*FILES, JUDGE_FILE)

# Filled in from the committed training run (see report.json beside the files).
SHA256: dict[str, str] = {
    "clip.pt": "78879a179ad57fa8c8e9af8269929880b1e29b0844dbb8e35d1b4d1a578d26f2",
    "judge.pt": "425e14380a25a682cc6c3735079917f7209556624e1d7762d952e04c13a7ff71",
    "vqgan.ckpt": "7059ef734a259eb7d42ba4339a5b18ec78303d022f00ea8c543d90e8c34e843b",
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


def judge_file(root: Path | None = None, sha256: dict[str, str] | None = None) -> Path:
    """The demo judge's CLIP file, checked against its recorded sha256."""
    from generator.weights import verify_sha256

    root = root or DIR
    sha256 = SHA256 if sha256 is None else sha256
    path = root / JUDGE_FILE
    if not path.exists() or JUDGE_FILE not in sha256:
        raise UserError(f"the demo judge is not there: {path}",
                        hint="reinstall roboz-collection, or train it: python -m generator.demo.train")
    verify_sha256(path, sha256[JUDGE_FILE], "demo judge", "reinstall roboz-collection (in a checkout: "
                  "`git checkout generator/demo/weights`), or train the pair again: python -m generator.demo.train")
    return path
