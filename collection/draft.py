"""Draft builds: the same collection at a size and length that a CPU finishes in minutes.

A draft is for checking a pipeline (prompts, traits, metadata, mint), not for art. It
caps every token's render settings and goes to its own build directory, so a draft
never mixes with the real renders.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from collection.manifest import Manifest, Special

DRAFT_MAX_SIZE = 64
DRAFT_MAX_ITERATIONS = 30


def cap_render(render: dict[str, Any], base: dict[str, Any], max_size: int, max_iterations: int) -> dict[str, Any]:
    """Cap one render block (full settings or a special's overrides merged on `base`)."""
    merged = {**base, **render}
    out = dict(render)
    w, h = merged["size"]
    if max(w, h) > max_size:
        scale = max_size / max(w, h)
        out["size"] = [max(16, round(w * scale)), max(16, round(h * scale))]
    its = merged["iterations"]
    if its > max_iterations:
        out["iterations"] = max_iterations
        ratio = max_iterations / its
        snaps = sorted({max(1, round(s * ratio)) for s in merged.get("snapshots") or ()})
        out["snapshots"] = snaps
        video = merged.get("video")
        if video:
            out["video"] = {**video, "every": max(1, round(video["every"] * ratio))}
    return out


def draft_manifest(m: Manifest, *, max_size: int = DRAFT_MAX_SIZE, max_iterations: int = DRAFT_MAX_ITERATIONS) -> Manifest:
    base = m.render.to_dict()
    render = m.render.with_overrides(cap_render({}, base, max_size, max_iterations))
    specials = tuple(
        replace(sp, render=cap_render(sp.render, base, max_size, max_iterations) if sp.render else {}) for sp in m.specials
    )
    return replace(m, render=render, specials=specials)
