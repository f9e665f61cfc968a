"""`roboz-collection init DIR`: scaffold a project with a starter manifest and the Jax sketch."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

NAME = "init"
HELP = "create a project folder with a starter manifest.yaml and the Jax sketch"
EPILOG = """\
examples:
  roboz-collection init my-roboz
  roboz-collection build my-roboz/manifest.yaml
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", type=Path, help="project folder to create (may exist, must not hold a manifest.yaml)")


def run(args: argparse.Namespace) -> int:
    from buildfiles.errors import UserError
    from collection.plan.inputs import BUNDLED_JAX
    from collection.plan.templates import STARTER_MANIFEST

    d: Path = args.dir
    manifest = d / "manifest.yaml"
    if manifest.exists():
        raise UserError(f"{manifest} already exists; not overwriting it", hint="choose another folder", exit_code=2)
    d.mkdir(parents=True, exist_ok=True)
    manifest.write_text(STARTER_MANIFEST, encoding="utf-8")
    if not (d / "jax.png").exists():
        shutil.copyfile(BUNDLED_JAX, d / "jax.png")
    print(f"created {manifest} and {d / 'jax.png'} (the stand-in Jax sketch: replace it with yours)")
    print(f"next: roboz-collection validate {manifest}")
    print(f"      roboz-collection build {manifest} --draft   (without the real weights: a draft painted by the demo models)")
    print("      roboz-collection models fetch                   (the real VQGAN and CLIP, about 1.3 GB)")
    return 0
