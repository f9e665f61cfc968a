"""Where input images lie: the bundled Jax sketch, a manifest's files, a plan's copies.

Two kinds of relative path, never mixed: a manifest names files relative to the project
folder (`project_file`); plan.json names the copies the plan step made, relative to the
build directory (`build_input`).
"""

from __future__ import annotations

from pathlib import Path

from buildfiles.errors import UserError

BUNDLED_JAX = Path(__file__).parent.parent / "assets" / "jax.png"  # what `init_image: jax` means


def project_file(root: Path, rel: str) -> Path:
    """A file the manifest names, relative to the project folder (may resolve outside it: callers check)."""
    return (root / rel).resolve()


def build_input(build_dir: Path, rel: str) -> Path:
    """An input image plan.json names, relative to the build directory; "jax" (plans made before
    inputs were copied) falls back to the bundled sketch."""
    p = build_dir / rel
    if p.exists():
        return p
    if rel == "jax" and BUNDLED_JAX.exists():
        return BUNDLED_JAX
    raise UserError(f"input image {p} not found", hint="re-run `roboz-collection plan` to copy inputs into the build directory")
