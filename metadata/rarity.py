"""Rarity by the OpenRarity method (information content over collection entropy).

As OpenRarity 1.0 does:
  * each trait type is a categorical distribution over the tokens; a token without
    the trait counts as a null value of it;
  * a meta trait "meta_trait:trait_count" (the number of string traits a token has) is added;
  * score(token) = sum over trait types of -log2(p(value)) / collection entropy, where the
    collection entropy is -sum p*log2 p over every (trait type, value) pair, nulls included;
  * order: more unique attributes (count == 1, meta trait included) first, then higher
    score; ranks are RANK-style (1, 2, 2, 4), equal when scores are math.isclose.
Numeric attributes (display_type, or int values) are left out, as OpenRarity does.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

TRAIT_COUNT = "meta_trait:trait_count"


@dataclass(frozen=True)
class TokenRarity:
    id: int
    score: float
    rank: int
    unique_attributes: int


def string_traits(attributes: list[dict[str, Any]]) -> dict[str, str]:
    return {
        str(a["trait_type"]): str(a["value"])
        for a in attributes
        if "display_type" not in a and isinstance(a.get("value"), str)
    }


def rank_tokens(tokens: dict[int, dict[str, str]]) -> tuple[dict[str, dict[str, int]], list[TokenRarity]]:
    """tokens: id -> {trait_type: value}. Returns (trait counts, rarities sorted by id)."""
    if not tokens:
        return {}, []
    with_count = {i: {**t, TRAIT_COUNT: str(len(t))} for i, t in tokens.items()}
    n = len(with_count)
    categories = sorted({c for t in with_count.values() for c in t})
    counts: dict[str, Counter] = {c: Counter(t[c] for t in with_count.values() if c in t) for c in categories}

    def count_of(cat: str, t: dict[str, str]) -> int:
        return counts[cat][t[cat]] if cat in t else n - sum(counts[cat].values())

    entropy = 0.0
    for cat in categories:
        present = sum(counts[cat].values())
        for c in [*counts[cat].values(), *([n - present] if present < n else [])]:
            p = c / n
            entropy -= p * math.log2(p)
    norm = entropy or 1.0  # one token, or all identical: every score is 0

    scored = []
    for tid, t in with_count.items():
        ic = sum(-math.log2(count_of(cat, t) / n) for cat in categories)
        unique = sum(1 for cat in t if counts[cat][t[cat]] == 1)
        scored.append((tid, ic / norm, unique))
    # Python's sort is stable: within equal keys, token id order decides, as input order does there.
    order = sorted(sorted(scored, key=lambda s: s[0]), key=lambda s: (s[2], s[1]), reverse=True)
    ranked: list[TokenRarity] = []
    for i, (tid, score, unique) in enumerate(order):
        rank = i + 1
        if i and math.isclose(score, ranked[-1].score):
            rank = ranked[-1].rank
        ranked.append(TokenRarity(tid, score, rank, unique))
    trait_counts = {c: dict(sorted(counts[c].items())) for c in categories if c != TRAIT_COUNT}
    return trait_counts, sorted(ranked, key=lambda r: r.id)


def rarity_document(tokens: dict[int, dict[str, str]]) -> dict[str, Any]:
    trait_counts, ranked = rank_tokens(tokens)
    return {
        "method": "openrarity",
        "trait_counts": trait_counts,
        "tokens": [{"id": r.id, "score": r.score, "rank": r.rank, "unique_attributes": r.unique_attributes} for r in ranked],
    }
