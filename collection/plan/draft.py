"""Draft builds: the same collection at a size and length that a CPU finishes in minutes.

A draft is for checking a pipeline (prompts, traits, metadata, mint), not for art. It
caps every token's render settings and goes to its own build directory, so a draft
never mixes with the real renders. The demo draft (`demo_manifest`) also switches to the
demo models, at a size where the Jax sketch is still visible.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from collection.plan.manifest import Manifest
from generator.settings import RenderSettings

DRAFT_MAX_SIZE = 64
DRAFT_MAX_ITERATIONS = 30

# The demo pair at 128 px: Jax stays recognisable, and the 24-token example finishes in a few
# minutes on a 2-core CPU (README: "Demo models").
DEMO_MODELS = "demo"
DEMO_MAX_SIZE = 128
DEMO_MAX_ITERATIONS = 60
DEMO_MAX_CUTN = 16
DEMO_BATCH_SIZE = 4


def cap_render(s: RenderSettings, max_size: int, max_iterations: int, max_cutn: int | None = None) -> dict[str, Any]:
    """What a draft caps in `s`, as overrides in plan.json's form (lists, plain mappings): the
    snapshots and the video's step shrink with the iterations, so they keep their places in the run."""
    out: dict[str, Any] = {}
    if max_cutn is not None and s.cutn > max_cutn:
        out["cutn"] = max_cutn
    w, h = s.size
    if max(w, h) > max_size:
        scale = max_size / max(w, h)
        out["size"] = [max(16, round(w * scale)), max(16, round(h * scale))]
    if s.iterations > max_iterations:
        out["iterations"] = max_iterations
        ratio = max_iterations / s.iterations
        out["snapshots"] = sorted({max(1, round(n * ratio)) for n in s.snapshots})
        if s.video:
            out["video"] = {**asdict(s.video), "every": max(1, round(s.video.every * ratio))}
    return out


def real_weights_present(models: Any, models_dir: Path | None) -> tuple[bool, str]:
    """Whether `models` can paint here without a download (and if not, why): a draft falls back to the
    demo pair rather than stopping at a missing file. The tiny and demo pairs are always there."""
    from buildfiles.errors import UserError
    from generator.registry import parse_models
    from generator.weights import require_files

    choice = parse_models(models)
    if choice.test_label:
        return True, ""
    try:
        require_files(choice, models_dir)
        return True, ""
    except UserError as e:
        return False, e.message


def draft_manifest(m: Manifest, *, max_size: int = DRAFT_MAX_SIZE, max_iterations: int = DRAFT_MAX_ITERATIONS,
                   max_cutn: int | None = None, models: str | None = None, batch_size: int | None = None) -> Manifest:
    top = cap_render(m.render, max_size, max_iterations, max_cutn)
    if models:
        top["models"] = models
    if batch_size:
        top["batch_size"] = batch_size
    render = m.render.with_overrides(top)
    specials = tuple(
        replace(sp, render={**sp.render, **cap_render(m.render.with_overrides(sp.render), max_size, max_iterations, max_cutn)})
        if sp.render else sp for sp in m.specials
    )
    return replace(m, render=render, specials=specials)


def demo_manifest(m: Manifest) -> Manifest:
    """The draft that `demo` renders with the demo models when the real weights are absent."""
    return draft_manifest(m, max_size=DEMO_MAX_SIZE, max_iterations=DEMO_MAX_ITERATIONS, max_cutn=DEMO_MAX_CUTN,
                          models=DEMO_MODELS, batch_size=DEMO_BATCH_SIZE)
