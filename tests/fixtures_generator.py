"""Fixtures for the generator: a private model cache with the tiny pair, and plan.json builds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from buildfiles import atomicio
from buildfiles.plan import PlannedToken, iter_plan_json
from buildfiles.hashing import sha256_file

FAST = dict(models="tiny", init_image=None, size=[32, 32], iterations=8, cutn=4, checkpoint_every=4,
            augments=["flip", "affine"])


@pytest.fixture(scope="session")
def roboz_home(tmp_path_factory) -> Path:
    """ROBOZ_HOME for the whole session, so the tiny models are generated once, never in the user's cache."""
    home = tmp_path_factory.mktemp("roboz-home")
    mp = pytest.MonkeyPatch()
    mp.setenv("ROBOZ_HOME", str(home))
    yield home
    mp.undo()


@pytest.fixture(scope="session")
def tiny_models(roboz_home):
    from generator.models import load_models

    return load_models("tiny", "cpu")


def px(img: Image.Image) -> np.ndarray:
    """Pixels as signed ints, so that differences of two pictures do not wrap."""
    return np.asarray(img).astype(np.int16)


@pytest.fixture(scope="module")
def judge(tiny_models):
    """The tiny pair's best-of-K judge, as generator/judges.py's rule names it."""
    from generator.candidates import Judge, judge_choice

    return Judge(tiny_models.clip, judge_choice("tiny", None).label, tiny_models.device)


class Recorder:
    """Everything a render reports through its callbacks; `stop_after` progress reports asks it to stop (Ctrl-C)."""

    def __init__(self, stop_after: int | None = None):
        self.images, self.checkpoints, self.results, self.progress = [], [], [], []
        self.stop_after = stop_after

    def callbacks(self):
        from generator.loop import Callbacks

        return Callbacks(on_progress=self.progress.append, on_checkpoint=lambda t, c: self.checkpoints.append((t, c)),
                         on_image=lambda t, k, i, img: self.images.append((t, k, i, px(img))),
                         on_result=self.results.append,
                         should_stop=lambda: self.stop_after is not None and len(self.progress) >= self.stop_after)


def sketch(size: int = 64) -> Image.Image:
    """A deterministic stand-in for the Jax sketch: a gradient with a dark square."""
    y, x = np.mgrid[0:size, 0:size]
    arr = np.stack([x * 255 // size, y * 255 // size, np.full_like(x, 128)], -1).astype(np.uint8)
    arr[size // 4 : size // 2, size // 4 : size // 2] = 20
    return Image.fromarray(arr)


def write_plan(build_dir: Path, render: dict[str, Any], tokens: list[dict[str, Any]], with_jax: bool = False) -> Path:
    """A plan.json in the lead's format (planfile.iter_plan_json), tokens given as {prompt, seed, render?}."""
    build_dir = Path(build_dir)
    inputs = {}
    if with_jax:
        p = build_dir / "inputs" / "jax.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        sketch().save(p)
        inputs["inputs/jax.png"] = sha256_file(p)
    planned = [PlannedToken(id=i + 1, name=f"Roboz #{i + 1}", special=None, traits={"body": "rust"},
                            prompt=t["prompt"], seed=t["seed"], render=t.get("render", {})) for i, t in enumerate(tokens)]
    from generator.settings import RenderSettings

    header = {
        "manifest_sha256": "0" * 64,
        "collection": {"name": "Test Roboz", "symbol": "TRZ", "description": "", "external_url": None, "image": None,
                       "name_template": "Roboz #{id}", "seed": 1, "start_id": 1, "supply": len(planned),
                       "shuffle": False, "royalties": None},
        "render": RenderSettings.from_dict(render).to_dict(),
        "inputs": inputs,
    }
    atomicio.write_text(build_dir / "plan.json", "".join(iter_plan_json(header, planned)))
    return build_dir


@pytest.fixture
def make_build(tmp_path, roboz_home):
    def make(render: dict[str, Any] | None = None, tokens: list[dict[str, Any]] | None = None, name: str = "build",
             with_jax: bool = False) -> Path:
        tokens = tokens or [{"prompt": "a rusty robot:1 | blur:-0.5", "seed": 11}, {"prompt": "a robot dog", "seed": 22}]
        return write_plan(tmp_path / name, {**FAST, **(render or {})}, tokens, with_jax)

    return make
