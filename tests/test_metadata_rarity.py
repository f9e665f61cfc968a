"""OpenRarity scoring and ranking, checked on the examples from OpenRarity's own test suite."""

from __future__ import annotations

import math

from metadata.rarity import TRAIT_COUNT, rank_tokens, string_traits


def _ids(tokens):
    return {i: t for i, t in enumerate(tokens)}


def test_scores_and_rank_ties_match_openrarity_same_scores_example():
    toks = _ids([
        {"trait1": "value1", "trait2": "value1", "trait3": "value1"},
        {"trait1": "value1", "trait2": "value1", "trait3": "value1"},
        {"trait1": "value2", "trait2": "value1", "trait3": "value3"},
        {"trait1": "value2", "trait2": "value2", "trait3": "value3"},
        {"trait1": "value3", "trait2": "value3", "trait3": "value3"},
    ])
    _, ranked = rank_tokens(toks)
    got = {r.id: (r.rank, r.score, r.unique_attributes) for r in ranked}
    expected = {4: (1, 1.3926137488801251, 2), 3: (2, 1.1338031424711967, 1), 0: (3, 0.8749925360622679, 0),
                1: (3, 0.8749925360622679, 0), 2: (5, 0.7235980365241422, 0)}
    for tid, (rank, score, unique) in expected.items():
        assert got[tid][0] == rank
        assert math.isclose(got[tid][1], score, rel_tol=1e-12)
        assert got[tid][2] == unique


def test_unique_attributes_break_order_before_score_and_trait_count_is_a_meta_trait():
    # Token 3 has an extra trait: its trait count (4) is itself a unique attribute.
    toks = _ids([
        {"trait1": "value1", "trait2": "value1", "trait3": "value2"},
        {"trait1": "value1", "trait2": "value2", "trait3": "value2"},
        {"trait1": "value1", "trait2": "value2", "trait3": "value3"},
        {"trait1": "value1", "trait2": "value4", "trait3": "value2", "trait4": "value1"},
    ])
    counts, ranked = rank_tokens(toks)
    by_id = {r.id: r for r in ranked}
    assert [by_id[i].unique_attributes for i in range(4)] == [1, 0, 1, 3]
    assert [by_id[i].rank for i in (3, 2, 0, 1)] == [1, 2, 3, 4]
    assert "trait4" in counts and TRAIT_COUNT not in counts  # the meta trait is not reported as a trait


def test_missing_trait_counts_as_null_value():
    # Only token 0 has "hat"; the others carry an implicit null of it, so token 0 is rarest.
    toks = _ids([{"a": "x", "hat": "top"}, {"a": "x"}, {"a": "x"}, {"a": "x"}])
    _, ranked = rank_tokens(toks)
    assert ranked[0].rank == 1 and all(r.rank == 2 for r in ranked[1:])
    n = 4
    # IC(token0) = -log2(1/4) [hat] - log2(1/4) [count=2] ; entropy over hat{top,null} + count{2,1}
    h = 2 * -(1 / n * math.log2(1 / n) + 3 / n * math.log2(3 / n))
    assert math.isclose(ranked[0].score, (2 * math.log2(4)) / h)


def test_single_token_scores_zero_rank_one():
    _, ranked = rank_tokens({7: {"a": "b"}})
    assert ranked[0].score == 0 and ranked[0].rank == 1


def test_numeric_attributes_are_left_out():
    attrs = [{"trait_type": "Body", "value": "Rusty"}, {"trait_type": "Iterations", "value": 500, "display_type": "number"},
             {"trait_type": "Seed", "value": 42}]
    assert string_traits(attrs) == {"Body": "Rusty"}
