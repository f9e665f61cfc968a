"""rerolls.json: re-rolled seeds recorded per token, and the plan with them laid over it.

    {"format": "roboz-rerolls/1",
     "tokens": {"7": {"base_seed": 1234, "count": 2, "seed": 99, "pinned": false, "picture_seed": 3302555044,
                      "history": [{"count": 1, "seed": 55, "pinned": false, "reason": "reroll",
                                   "replaced_seed": 1211335474, "picture_seed": 77}, ...]}}}

`seed` is what the token renders with; with best-of-K the picture comes from one of its candidates,
whose seed the render step writes back as `picture_seed` (renders/{id}.json says the same): that is
the seed `reroll --seed` paints the picture with again.

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
    picture_seed: int | None = None  # the seed of the picture rendered for it (best-of-K: the winner's); None until painted

    def to_dict(self) -> dict[str, Any]:
        d = {"base_seed": self.base_seed, "count": self.count, "seed": self.seed, "pinned": self.pinned,
             "history": list(self.history)}
        if self.picture_seed is not None:
            d["picture_seed"] = self.picture_seed
        return d


# ---- the file ------------------------------------------------------------------------------

def rerolls_path(build_dir: Path | str) -> Path:
    return Path(build_dir) / REROLLS_FILE


def load_rerolls(build_dir: Path | str) -> dict[int, Reroll]:
    def parse(v: dict[str, Any]) -> Reroll:
        pic = v.get("picture_seed")
        return Reroll(int(v["base_seed"]), int(v["count"]), int(v["seed"]), bool(v.get("pinned", False)),
                      tuple(v.get("history") or ()), None if pic is None else int(pic))

    return read_token_map(rerolls_path(build_dir), parse, fmt=REROLLS_FORMAT,
                          recover="restore it, or delete it to forget every re-roll")


def save_rerolls(build_dir: Path | str, rerolls: dict[int, Reroll]) -> None:
    atomicio.write_json(rerolls_path(build_dir), {"format": REROLLS_FORMAT,
                                                  "tokens": {str(k): v.to_dict() for k, v in sorted(rerolls.items())}})


def note_picture(build_dir: Path | str, token_id: int, render_seed: int, picture_seed: int) -> None:
    """After a re-rolled token is painted with `render_seed`: record the seed its picture came from
    (best-of-K's winner) in the entry and its latest history item. Other tokens leave the file alone."""
    path = rerolls_path(build_dir)
    if not path.exists():
        return
    rr = load_rerolls(build_dir)
    r = rr.get(token_id)
    if r is None or r.seed != render_seed or r.picture_seed == picture_seed:
        return
    history = r.history[:-1] + ({**r.history[-1], "picture_seed": picture_seed},) if r.history else ()
    rr[token_id] = replace(r, picture_seed=picture_seed, history=history)
    save_rerolls(build_dir, rr)


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
