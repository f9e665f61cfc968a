"""A studio folder's plan.json: tokens given directly (no manifest), inputs copied in, re-plans guarded.

The plan is the build's: `collection/render/render_step.py` paints it like any other, so a
studio picture resumes and is recorded exactly as a token is.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Sequence

from buildfiles import atomicio
from buildfiles.errors import UserError
from buildfiles.hashing import sha256_file
from buildfiles.plan import PLAN_FILE, PlannedToken, collection_to_dict, CollectionInfo, iter_plan_json
from collection.plan.inputs import BUNDLED_JAX
from generator.settings import BUNDLED_INIT

STUDIO_SEED = 2021


def slug(text: str, limit: int = 40) -> str:
    """Folder-name words of a prompt: "A red robot, in a volcano!" -> "a-red-robot-in-a-volcano"."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    out = ""
    for w in words:
        if len(out) + len(w) + 1 > limit:
            break
        out = f"{out}-{w}" if out else w
    return out or "untitled"


def prompt_seed(prompt: str) -> int:
    """The default seed of a prompt: the same command paints (and resumes) the same picture."""
    return int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:4], "big")


def copy_input(folder: Path, src: str, field: str) -> tuple[str, str]:
    """An input picture copied into folder/inputs/ (the build reads only its own folder): (build path, sha256)."""
    if src == BUNDLED_INIT:
        path, name = BUNDLED_JAX, "bundled/jax.png"
    else:
        path = Path(src).expanduser()
        name = path.name
        if not path.is_file():
            raise UserError(f"{field} {src}: no such file", hint="give the path of a PNG or JPEG, or `jax` for the bundled sketch",
                            exit_code=2)
        from collection.plan.manifest import image_problem

        problem = image_problem(path)
        if problem:
            raise UserError(f"{field} {src}: {problem}", exit_code=2)
    rel = f"inputs/{name}"
    sha = sha256_file(path)
    dest = folder / rel
    if not dest.is_file() or sha256_file(dest) != sha:
        atomicio.write_bytes(dest, path.read_bytes())
    return rel, sha


def write_plan(folder: Path, name: str, render: dict[str, Any], tokens: Sequence[PlannedToken], inputs: dict[str, str],
               *, force: bool = False, command: str = "paint") -> bool:
    """Write folder/plan.json; True when it changed. A changed plan over finished pictures is refused unless `force`."""
    header = {
        "manifest_sha256": hashlib.sha256(json.dumps({"render": render, "tokens": [t.prompt for t in tokens]},
                                                     sort_keys=True).encode()).hexdigest(),
        "collection": collection_to_dict(CollectionInfo(
            name=name, symbol="STUDIO", description=f"made with `roboz-collection {command}`", external_url=None, image=None,
            name_template="#{id}", seed=STUDIO_SEED, start_id=1, supply=len(tokens), shuffle=False, royalties=None)),
        "categories": [],
        "render": render,
        "inputs": dict(sorted(inputs.items())),
    }
    text = "".join(iter_plan_json(header, list(tokens)))
    target = folder / PLAN_FILE
    if target.is_file() and target.read_text("utf-8") == text:
        return False
    done = sorted(int(p.stem) for p in (folder / "images").glob("*.png") if p.stem.isdigit()) if (folder / "images").is_dir() else []
    if target.is_file() and done and not force:
        raise UserError(f"{folder} holds pictures painted with other settings ({', '.join(f'images/{i}.png' for i in done[:4])})",
                        hint="paint into another folder with `--out DIR`, or pass `--force` to paint them again here",
                        exit_code=2)
    atomicio.write_text(target, text)
    return True
