"""rerolls.json: re-rolled seeds recorded per token, and the plan with them laid over it.

    {"format": "roboz-rerolls/1",
     "tokens": {"7": {"base_seed": 1234, "count": 2, "seed": 99, "pinned": false,
                      "history": [{"count": 1, "seed": 55, "pinned": false, "reason": "reroll"}, ...]}}}

The re-rolling itself (next seeds, marking stale) is collection/render/reroll.py; the render driver reads
only this file, so it never imports the command that re-renders through it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from buildfiles import atomicio
from buildfiles.jsonfile import read_token_map
from buildfiles.plan import Plan

REROLLS_FILE = "rerolls.json"
REROLLS_FORMAT = "roboz-rerolls/1"


@dataclass(frozen=True)
class Reroll:
    base_seed: int          # the plan's seed when it was re-rolled: the token's identity
    count: int              # re-rolls so far (the derived seed's input)
    seed: int               # the seed it renders with now
    pinned: bool = False    # an explicit seed: render exactly it (no best-of-K)
    history: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"base_seed": self.base_seed, "count": self.count, "seed": self.seed, "pinned": self.pinned,
                "history": list(self.history)}


# ---- the file ------------------------------------------------------------------------------

def rerolls_path(build_dir: Path | str) -> Path:
    return Path(build_dir) / REROLLS_FILE


def load_rerolls(build_dir: Path | str) -> dict[int, Reroll]:
    def parse(v: dict[str, Any]) -> Reroll:
        return Reroll(int(v["base_seed"]), int(v["count"]), int(v["seed"]), bool(v.get("pinned", False)),
                      tuple(v.get("history") or ()))

    return read_token_map(rerolls_path(build_dir), parse, fmt=REROLLS_FORMAT,
                          recover="restore it, or delete it to forget every re-roll")


def save_rerolls(build_dir: Path | str, rerolls: dict[int, Reroll]) -> None:
    atomicio.write_json(rerolls_path(build_dir), {"format": REROLLS_FORMAT,
                                                  "tokens": {str(k): v.to_dict() for k, v in sorted(rerolls.items())}})


def effective_plan(build_dir: Path | str, plan: Plan) -> Plan:
    """The plan with re-rolled seeds laid over it (records whose base seed no longer matches are ignored)."""
    rr = load_rerolls(build_dir)
    if not rr:
        return plan
    tokens = []
    for t in plan.tokens:
        r = rr.get(t.id)
        if r is not None and r.base_seed == t.seed:
            t = replace(t, seed=r.seed, render={**t.render, "candidates": 1} if r.pinned else t.render)
        tokens.append(t)
    return replace(plan, tokens=tuple(tokens))
