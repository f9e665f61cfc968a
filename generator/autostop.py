"""Auto-stop: end a token when its judge score stops improving (`iterations: auto`).

    render:
      iterations: auto
      max_iterations: 1000                                   # never more than this
      auto_stop: {every: 10, window: 5, tolerance: 0.002}    # the defaults

Every `every` iterations a judge CLIP (generator/judges.py: not the guide, whose own score the
optimiser games) scores the whole picture against the token's prompt. The token stops at the
first judgement where the best of the last `window` scores is no more than `tolerance` above
the best score before them: `window` judgements in a row brought nothing worth painting on for.
The earliest stop is therefore at iteration every × (window + 1); `max_iterations` bounds the rest.

A stopped token keeps the picture of its best judgement (or its last picture, when that scores
higher), not merely the one it stopped on: the judge's score of a picture wanders by a few
hundredths from one judgement to the next (measured on the demo pair), so the picture at the stop
is often a little worse than one the window just went past, and that one is already paid for.

The score is a cosine similarity (about 0.2–0.4 for a good match), so `tolerance` is in those
units: 0.002 is 0.5–1 % of a typical score. Everything here is pure (scores in, a decision out);
the loop's side is generator/candidates.py (`advance_judged`), the record's renders/{id}.json
`auto_stop`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Sequence

from pydantic import Field, Strict

CONVERGED = "converged"
MAX_ITERATIONS = "max_iterations"
SCORE_DECIMALS = 6


@dataclass(frozen=True)
class AutoStop:
    __pydantic_config__ = {"extra": "forbid"}

    every: Annotated[int, Strict(), Field(gt=0, le=100_000)] = 10          # judge the picture every N iterations
    window: Annotated[int, Strict(), Field(gt=0, le=10_000)] = 5           # judgements without improvement that end it
    tolerance: Annotated[float, Strict(), Field(ge=0, le=1)] = 0.002       # a gain this small counts as none


def auto_stop_from_data(data: Any) -> AutoStop | None:
    if data is None or isinstance(data, AutoStop):
        return data
    return AutoStop(**data)


def _finite(s: float) -> float:
    return s if math.isfinite(s) else -math.inf  # a NaN score never counts as an improvement


def converged(scores: Sequence[float], rule: AutoStop) -> bool:
    """True when the last `rule.window` scores bring no gain above `rule.tolerance` over the best before them."""
    if len(scores) <= rule.window:
        return False
    before = max(_finite(s) for s in scores[: -rule.window])
    recent = max(_finite(s) for s in scores[-rule.window :])
    return not recent > before + rule.tolerance


def stop_reason(scores: Sequence[float], iteration: int, max_iterations: int, rule: AutoStop) -> str | None:
    """Why a token stops at `iteration` with these judgements (CONVERGED, MAX_ITERATIONS), or None: paint on."""
    if converged(scores, rule):
        return CONVERGED
    if iteration >= max_iterations:
        return MAX_ITERATIONS
    return None


def best_judgement(scores: Sequence[float]) -> int | None:
    """Index of the best finite score (the first of equals), or None when there is none."""
    best = None
    for i, s in enumerate(scores):
        if math.isfinite(s) and (best is None or s > scores[best]):
            best = i
    return best


def judged_at(iteration: int, rule: AutoStop) -> int:
    """How many judgements a token has at `iteration` (one at every multiple of `every`, none at 0)."""
    return iteration // rule.every


def next_judgement(iteration: int, until: int, rule: AutoStop) -> int:
    """The iteration of the next judgement after `iteration`, or `until` if that comes first."""
    return min(until, (iteration // rule.every + 1) * rule.every)


@dataclass(frozen=True)
class Stopped:
    """Where and why an auto-stopped token ended: renders/{id}.json's `auto_stop`."""

    reason: str                  # CONVERGED or MAX_ITERATIONS
    iteration: int               # the token's last iteration
    score: float                 # the judge's score of the picture kept
    scores: tuple[float, ...]    # the judgements, one every `every` iterations
    judge: str                   # the judge's label
    kept: int | None = None      # the iteration whose picture is kept (its best judgement's, or `iteration`)

    def to_dict(self) -> dict[str, Any]:
        def r(s: float):
            return round(s, SCORE_DECIMALS) if math.isfinite(s) else None

        return {"reason": self.reason, "iteration": self.iteration, "score": r(self.score),
                "scores": [r(s) for s in self.scores], "judge": self.judge,
                "kept": self.iteration if self.kept is None else self.kept}
