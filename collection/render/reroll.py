"""Reject and re-roll: a token gets its next seed, and what hangs on its picture goes stale.

    rerolls.json   {"format": "roboz-rerolls/1",
                    "tokens": {"7": {"base_seed": 1234, "count": 2, "seed": 99, "pinned": false,
                                     "history": [{"count": 1, "seed": 55, "pinned": false, "reason": "reroll"}, ...]}}}

A re-rolled seed is a pure function of the token's identity (its planned seed, itself a hash
of what the token is) and its re-roll count, so re-rolls are reproducible and recorded. An
explicit seed (`--seed N`, or a candidate picked in the review page) is *pinned*: the token
renders exactly that seed, without best-of-K. A record counts only while the plan still gives
the token the same base seed: re-planning the token into something else drops its re-rolls.

The plan itself never changes: `effective_plan` lays the records over it, and the render step
renders from that. Marking stale deletes the token's render outputs and everything derived
from the pictures (metadata, rarity, provenance, CIDs, CARs); the metadata step rebuilds what
is missing and publish re-hashes, so the next `build` / `metadata` / `publish` redoes exactly that.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable

from buildfiles.errors import UserError
from buildfiles.plan import Plan
from buildfiles.rerolls import (REROLLS_FILE, REROLLS_FORMAT, Reroll, effective_plan, load_rerolls,  # noqa: F401 (re-exported)
                                rerolls_path, save_rerolls)
from collection.plan.prng import derive_seed

# Per token: its render outputs. Whole build: files derived from every picture.
TOKEN_OUTPUTS = ("images/{id}.png", "renders/{id}.json", "snapshots/{id}", "frames/{id}", "animations/{id}.mp4",
                 "candidates/{id}", "checkpoints/{id}.pt", "metadata/{id}.json")
DERIVED = ("rarity.json", "provenance.json", "cids.json", "car/images.car", "car/metadata.car", "car/animations.car")


def reroll_seed(base_seed: int, count: int) -> int:
    """The seed of a token's `count`-th re-roll (count >= 1): 32-bit, like planned seeds."""
    return derive_seed("roboz-reroll", base_seed, count, bits=32)


# ---- re-rolling ----------------------------------------------------------------------------

@dataclass(frozen=True)
class RerollChange:
    id: int
    old_seed: int
    new_seed: int
    count: int
    pinned: bool
    picture_seed: int | None = None  # once rendered: the seed of the new picture (best-of-K's winner, else new_seed)


def check_not_minted(build_dir: Path, ids: Iterable[int]) -> None:
    """On a non-local chain the provenance hash is public: a minted token's picture is final."""
    from buildfiles.mint_journal import load_journal
    from buildfiles.chains import LOCAL_CHAIN_IDS

    for chain in load_journal(build_dir).chains.values():
        if chain.chain_id in LOCAL_CHAIN_IDS:
            continue
        minted = chain.minted or {}
        first, count = minted.get("first_id"), minted.get("count") or 0
        on_chain = [i for i in ids if first is not None and first <= i < first + count]
        where = f"{chain.network or 'chain'} (chain id {chain.chain_id})"
        if on_chain:
            raise UserError(f"token(s) {', '.join(map(str, on_chain))} are minted on {where}: their provenance is on chain",
                            hint="re-rolling is for tokens not minted yet; a local chain (anvil) can be minted again",
                            exit_code=2)
        if first is None and chain.txs:
            raise UserError(f"a mint on {where} has started (mint.json): the provenance may already be on chain",
                            hint="finish the mint first (`roboz-collection mint BUILD_DIR`); minted tokens cannot be re-rolled",
                            exit_code=2)


def _rendered_seed(build_dir: Path, token_id: int, fallback: int | None) -> int | None:
    """The seed of the picture being replaced: best-of-K's winner is not the token's base seed."""
    from buildfiles.records import RecordError, read_record

    try:
        return read_record(build_dir, token_id).seed
    except RecordError:
        return fallback


def mark_stale(build_dir: Path | str, ids: Iterable[int]) -> list[str]:
    """Delete the tokens' render outputs and every whole-build file derived from the pictures; returns what went."""
    build_dir = Path(build_dir)
    gone = []
    for i in ids:
        for pattern in TOKEN_OUTPUTS:
            p = build_dir / pattern.format(id=i)
            if p.is_dir():
                shutil.rmtree(p)
                gone.append(pattern.format(id=i) + "/")
            elif p.exists():
                p.unlink()
                gone.append(pattern.format(id=i))
    for rel in DERIVED:
        p = build_dir / rel
        if p.exists():
            p.unlink()
            gone.append(rel)
    return gone


def reroll_tokens(build_dir: Path | str, plan: Plan, ids: Iterable[int], seeds: dict[int, int] | None = None,
                  reason: str = "reroll") -> list[RerollChange]:
    """Give `ids` their next seed (or the pinned one in `seeds`), record it atomically, mark them stale.

    The caller holds the build lock and renders afterwards. Order: the record is written first, then
    files are deleted; a crash in between leaves a token whose fingerprint no longer matches, which
    the render step re-renders anyway.
    """
    build_dir = Path(build_dir)
    seeds = seeds or {}
    ids = list(dict.fromkeys(ids))
    by_id = {t.id: t for t in plan.tokens}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        lo, hi = plan.tokens[0].id, plan.tokens[-1].id
        raise UserError(f"no token {', '.join(map(str, unknown))} in this build's plan",
                        hint=f"token ids run from {lo} to {hi}", exit_code=2)
    if not ids:
        raise UserError("no token ids given", hint="e.g. `roboz-collection reroll BUILD_DIR 7 12`", exit_code=2)
    check_not_minted(build_dir, ids)
    current = effective_plan(build_dir, plan)
    cur_seed = {t.id: _rendered_seed(build_dir, t.id, t.seed) for t in current.tokens if t.id in ids}
    rr = load_rerolls(build_dir)
    changes = []
    for i in ids:
        base = by_id[i].seed
        old = rr.get(i) if rr.get(i) and rr[i].base_seed == base else None
        count = (old.count if old else 0) + 1
        pinned = i in seeds
        seed = int(seeds[i]) if pinned else reroll_seed(base, count)
        entry = {"count": count, "seed": seed, "pinned": pinned, "reason": reason, "replaced_seed": cur_seed[i]}
        rr[i] = Reroll(base, count, seed, pinned, (old.history if old else ()) + (entry,))
        changes.append(RerollChange(i, cur_seed[i], seed, count, pinned))
    save_rerolls(build_dir, rr)
    mark_stale(build_dir, ids)
    return changes


def apply_reroll(build_dir: Path | str, ids: Iterable[int], seeds: dict[int, int] | None = None, *, reason: str = "reroll",
                 render: bool = True, on_recorded=None, **render_options):
    """Re-roll `ids` and re-render exactly them, under the build lock: the one path for `reroll` and `review`.

    `on_recorded(changes)` runs once the new seeds are on disk, before rendering.
    Returns (changes, RenderReport or None when render=False).
    """
    from buildfiles.lock import build_lock
    from buildfiles.plan import load_plan

    build_dir = Path(build_dir)
    plan = load_plan(build_dir)
    with build_lock(build_dir, "reroll"):
        changes = reroll_tokens(build_dir, plan, ids, seeds, reason)
        if on_recorded is not None:
            on_recorded(changes)
        report = None
        if render:
            from collection.render.render_step import render_build

            report = render_build(build_dir, only={c.id for c in changes}, **render_options)
            changes = [replace(c, picture_seed=_rendered_seed(build_dir, c.id, None)) for c in changes]
    return changes, report
