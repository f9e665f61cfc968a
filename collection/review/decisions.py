"""review.json: what the artist decided per token in the review page, and applying it.

    {"format": "roboz-review/1",
     "tokens": {"7": {"decision": "reject"}, "9": {"decision": "pick", "seed": 1234}, "3": {"decision": "keep"}}}

"reject" re-rolls the token (its next seed); "pick" renders one of its candidates' seeds in full,
pinned; "keep" is a note to oneself. Applying goes through collection.render.reroll.apply_reroll, the
code of `roboz-collection reroll`; applied decisions leave the file (rerolls.json has the record).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildfiles import atomicio
from buildfiles.jsonfile import read_token_map

REVIEW_FILE = "review.json"
REVIEW_FORMAT = "roboz-review/1"
DECISIONS = ("keep", "reject", "pick")


@dataclass(frozen=True)
class Decision:
    decision: str          # keep | reject | pick
    seed: int | None = None  # pick: the candidate's seed

    def to_dict(self) -> dict[str, Any]:
        return {"decision": self.decision} if self.seed is None else {"decision": self.decision, "seed": self.seed}


def review_path(build_dir: Path | str) -> Path:
    return Path(build_dir) / REVIEW_FILE


def load_decisions(build_dir: Path | str) -> dict[int, Decision]:
    return read_token_map(review_path(build_dir), parse_decision, fmt=REVIEW_FORMAT,
                          recover="delete it to start the review afresh")


def parse_decision(v: Any) -> Decision:
    """A decision from JSON (the file or a request); ValueError names what is wrong."""
    if not isinstance(v, dict) or v.get("decision") not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}")
    seed = v.get("seed")
    if v["decision"] == "pick":
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
            raise ValueError("pick needs the candidate's seed (0 to 2**32-1)")
        return Decision("pick", seed)
    return Decision(v["decision"])


def pick_problem_raise(token_id: int, seed: int | None, candidates: list[int]) -> None:
    """A pick names one of the token's candidates (renders/{id}.json), or ValueError says which there are."""
    if not candidates:
        raise ValueError(f"token {token_id} has no candidates to pick from (it was not rendered best-of-K)")
    if seed not in candidates:
        raise ValueError(f"seed {seed} is not a candidate of token {token_id} (its candidates: "
                         f"{', '.join(map(str, candidates))})")


def candidate_seeds(build_dir: Path | str, token_id: int) -> list[int]:
    """The seeds of the token's candidates in its render record ([] without one, or for K = 1)."""
    from buildfiles.records import RecordError, read_record

    try:
        rec = read_record(build_dir, token_id)
    except RecordError:
        return []
    return [int(c["seed"]) for c in rec.extra.get("candidates") or () if isinstance(c, dict) and "seed" in c]


def save_decisions(build_dir: Path | str, decisions: dict[int, Decision]) -> None:
    atomicio.write_json(review_path(build_dir), {"format": REVIEW_FORMAT,
                                                 "tokens": {str(k): d.to_dict() for k, d in sorted(decisions.items())}})


def pending(decisions: dict[int, Decision]) -> tuple[list[int], dict[int, int]]:
    """(ids to re-roll: rejected and picked, {id: pinned seed} for the picked)."""
    ids = sorted(i for i, d in decisions.items() if d.decision in ("reject", "pick"))
    return ids, {i: d.seed for i, d in decisions.items() if d.decision == "pick"}


def apply_decisions(build_dir: Path | str, **render_options):
    """Re-roll the rejected, render the picked candidates' seeds; the same path as `reroll`.

    Returns (changes, RenderReport or None), or ([], None) when nothing is decided.
    """
    from collection.render.reroll import apply_reroll

    from buildfiles.errors import UserError

    decisions = load_decisions(build_dir)
    ids, seeds = pending(decisions)
    if not ids:
        return [], None
    for i, seed in seeds.items():  # review.json may be edited by hand: a pick still names a shown candidate
        try:
            pick_problem_raise(i, seed, candidate_seeds(build_dir, i))
        except ValueError as e:
            raise UserError(f"review.json: {e}", hint="pick again in the review page, or remove that decision", exit_code=2) from None

    def done(_changes) -> None:
        # Recorded in rerolls.json: the decisions are spent, even if rendering stops half-way
        # (the tokens are stale, so the next render or build paints them with their new seeds).
        save_decisions(build_dir, {i: d for i, d in load_decisions(build_dir).items() if i not in ids})

    return apply_reroll(build_dir, ids, seeds, reason="review", on_recorded=done, **render_options)
