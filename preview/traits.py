"""Planned vs expected share of each trait value: the cover's trait chart, from plan.json alone.

Planned shares are counted from the plan's tokens. Expected shares are plan.json's `expected`,
worked out once by the plan step (collection.plan.plantypes.Expectation: exact counts less the
specials carrying them, the rest by weight), so the plan table and the gallery show the same
figures. A plan written before plans kept them has none: the chart shows planned shares only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from buildfiles.plan import Plan


@dataclass(frozen=True)
class ValueShare:
    value: str
    count: int
    planned: float                   # count / tokens of the base (generated tokens, or all)
    expected: float | None           # plan.json's expected share; None if the plan has none


@dataclass(frozen=True)
class CategoryShares:
    category: str
    base: int                        # tokens the shares are fractions of
    values: tuple[ValueShare, ...]   # manifest order when the plan says it, else most common first


@dataclass(frozen=True)
class TraitShares:
    categories: tuple[CategoryShares, ...]
    expected: bool                   # plan.json holds expected shares (older plans do not)


def _by_count(counts: Counter) -> list[str]:
    return [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def trait_shares(plan: Plan) -> TraitShares:
    generated = [t for t in plan.tokens if not t.special]
    expected = plan.expected or {}
    out = []
    for cat in plan.categories:
        weighed = cat in plan.category_order  # a manifest category: shares of the tokens drawn from traits
        tokens = generated if weighed else [t for t in plan.tokens if cat in t.traits]  # else one only specials use
        n = len(generated) if weighed else len(plan.tokens)
        counts = Counter(t.traits.get(cat) for t in tokens)
        shares = dict(expected.get(cat, ()))
        order = [v for v, _ in expected[cat]] if cat in expected else _by_count(Counter({v: c for v, c in counts.items() if v}))
        vals = tuple(ValueShare(v, counts[v], counts[v] / n if n else 0.0, shares.get(v) if n else None) for v in order)
        out.append(CategoryShares(cat, n, vals))
    return TraitShares(tuple(out), bool(expected))
