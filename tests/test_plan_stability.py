"""A stable plan (issue 12 item 5) and exact counts (item 4), as properties of random manifests.

Each edit is applied to a random manifest whose plan was partly "rendered" (a random subset
of its ids); the re-plan must change exactly what the edit forces:
- an added exclusion replaces only the tokens it forbids (same ids, seeds, prompts for the rest),
- a larger supply adds tokens and touches none,
- a changed weight keeps every rendered token (its combination is still allowed),
and in the first two cases the re-plan selects the same combinations a fresh plan would.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import tempfile
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from buildfiles.plan import load_plan
from collection.cli import main
from collection.plan.manifest import ManifestError, load_manifest
from collection.plan.planner import CountsError, Previous, plan_tokens, token_identity

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def docs(draw, max_cats=4, max_vals=5):
    n_cats = draw(st.integers(1, max_cats))
    traits = {}
    for c in range(n_cats):
        n_vals = draw(st.integers(1, max_vals))
        traits[f"c{c}"] = {f"v{c}_{i}": draw(st.sampled_from([0.5, 1, 2, 3, 7.5])) for i in range(n_vals)}
    exclude = []
    for _ in range(draw(st.integers(0, 2))):
        cats = draw(st.lists(st.sampled_from(sorted(traits)), min_size=1, max_size=n_cats, unique=True))
        exclude.append({c: draw(st.lists(st.sampled_from(sorted(traits[c])), min_size=1, unique=True)) for c in cats})
    specials = [{"name": f"S{i}", "prompt": f"special {i}"} for i in range(draw(st.integers(0, 2)))]
    return {
        "collection": {"name": "P", "symbol": "P", "seed": draw(st.integers(0, 2**31)), "supply": 1,
                       "shuffle": draw(st.booleans())},
        "render": {"models": "tiny"},
        "prompt": {"template": " ".join(f"{{{c}}}" for c in traits)},
        "traits": traits,
        "exclude": exclude,
        "specials": specials,
    }


def load(doc: dict):
    d = tempfile.mkdtemp()
    f = Path(d) / "m.yaml"
    f.write_text(json.dumps(doc))
    return load_manifest(f)


def allowed_count(doc: dict) -> int:
    cats = list(doc["traits"])
    n = 0
    for combo in itertools.product(*(sorted(doc["traits"][c]) for c in cats)):
        t = dict(zip(cats, combo))
        n += not any(all(t[c] in vals for c, vals in rule.items()) for rule in doc["exclude"])
    return n


def forbidden(traits: dict[str, str], rule: dict) -> bool:
    return all(traits.get(c) in vals for c, vals in rule.items())


def with_supply(doc: dict, frac: float) -> dict | None:
    allowed = allowed_count(doc)
    if allowed == 0:
        return None
    d = copy.deepcopy(doc)
    d["collection"]["supply"] = max(1, round(frac * allowed)) + len(d["specials"])
    return d


def by_identity(tokens):
    return {token_identity(t): t for t in tokens}


def previous(tokens, rendered_share: float, pick) -> Previous:
    ids = [t.id for t in tokens]
    rendered = frozenset(i for i in ids if pick(i) < rendered_share)
    return Previous(by_identity(tokens), rendered)


def check_valid(m, tokens, doc):
    assert [t.id for t in tokens] == list(range(m.collection.start_id, m.collection.start_id + m.supply))
    gen = [t for t in tokens if not t.special]
    assert len({tuple(t.traits.items()) for t in gen}) == len(gen)
    for t in gen:
        assert not any(forbidden(t.traits, r) for r in doc["exclude"])


def picked(seed: int):
    return lambda i: ((i * 2654435761 + seed) % 1000) / 1000


@SETTINGS
@given(docs(), st.floats(0.1, 0.9), st.floats(0, 1), st.data())
def test_added_exclusion_replaces_only_what_it_forbids(doc, frac, rendered_share, data):
    doc = with_supply(doc, frac)
    assume(doc is not None)
    a = list(plan_tokens(load(doc)))
    cats = sorted(doc["traits"])
    chosen = data.draw(st.lists(st.sampled_from(cats), min_size=1, max_size=len(cats), unique=True))
    rule = {c: data.draw(st.lists(st.sampled_from(sorted(doc["traits"][c])), min_size=1, unique=True)) for c in chosen}
    edited = copy.deepcopy(doc)
    edited["exclude"].append(rule)
    try:
        m = load(edited)
    except ManifestError:
        assume(False)  # the exclusion leaves too few combinations for the supply
    b = list(plan_tokens(m, previous(a, rendered_share, picked(doc["collection"]["seed"]))))
    check_valid(m, b, edited)
    new = {t.id: t for t in b}
    hit = [t for t in a if not t.special and forbidden(t.traits, rule)]
    for t in a:
        if t in hit:
            assert token_identity(new[t.id]) != token_identity(t)
        else:
            assert (new[t.id].traits, new[t.id].seed, new[t.id].prompt) == (t.traits, t.seed, t.prompt)
    # exactly as many new identities as forbidden tokens, and the same selection as a fresh plan
    assert len(set(by_identity(b)) - set(by_identity(a))) == len(hit)
    assert set(by_identity(b)) == set(by_identity(plan_tokens(m)))


@SETTINGS
@given(docs(), st.floats(0.05, 0.6), st.floats(0, 1), st.integers(1, 20))
def test_raising_supply_adds_and_touches_nothing(doc, frac, rendered_share, extra):
    doc = with_supply(doc, frac)
    assume(doc is not None)
    a = list(plan_tokens(load(doc)))
    edited = copy.deepcopy(doc)
    edited["collection"]["supply"] = min(doc["collection"]["supply"] + extra, allowed_count(doc) + len(doc["specials"]))
    assume(edited["collection"]["supply"] > doc["collection"]["supply"])
    m = load(edited)
    b = list(plan_tokens(m, previous(a, rendered_share, picked(extra))))
    check_valid(m, b, edited)
    assert b[: len(a)] == a, "every old token keeps its id, seed, prompt and name"
    assert set(by_identity(b)) == set(by_identity(plan_tokens(m)))


@SETTINGS
@given(docs(), st.floats(0.1, 0.9), st.floats(0, 1), st.data())
def test_changing_a_weight_keeps_every_rendered_token(doc, frac, rendered_share, data):
    doc = with_supply(doc, frac)
    assume(doc is not None)
    a = list(plan_tokens(load(doc)))
    edited = copy.deepcopy(doc)
    cat = data.draw(st.sampled_from(sorted(doc["traits"])))
    value = data.draw(st.sampled_from(sorted(doc["traits"][cat])))
    edited["traits"][cat][value] = data.draw(st.sampled_from([0.1, 0.5, 4, 50]))
    m = load(edited)
    prev = previous(a, rendered_share, picked(len(a)))
    b = list(plan_tokens(m, prev))
    check_valid(m, b, edited)
    new = {t.id: t for t in b}
    for t in a:
        if t.id in prev.rendered:
            assert new[t.id] == t
    # and the plan is stable: planning the same manifest again against the result changes nothing
    again = list(plan_tokens(m, Previous(by_identity(b), prev.rendered | {t.id for t in b if t.id % 2})))
    assert again == b


# ---------------------------------------------------------------- exact counts


@st.composite
def counted_docs(draw):
    doc = draw(docs(max_cats=3, max_vals=4))
    cat = draw(st.sampled_from(sorted(doc["traits"])))
    values = sorted(doc["traits"][cat])
    counted = draw(st.lists(st.sampled_from(values), min_size=1, max_size=len(values), unique=True))
    allowed = allowed_count(doc)
    assume(allowed > 0)
    supply = draw(st.integers(1, allowed)) + len(doc["specials"])
    for v in counted:
        doc["traits"][cat][v] = {"weight": doc["traits"][cat][v], "count": draw(st.integers(0, 4))}
    if doc["specials"] and draw(st.booleans()):
        doc["specials"][0]["traits"] = {cat: counted[0]}
    doc["collection"]["supply"] = supply
    return doc, cat


def brute_force_feasible(doc: dict, cat: str) -> bool:
    """Counts in one category: feasible iff each counted value and the uncounted pool have enough
    allowed combinations (the groups are independent), and the totals add up."""
    cats = list(doc["traits"])
    n = doc["collection"]["supply"] - len(doc["specials"])
    carried = Counter(sp.get("traits", {}).get(cat) for sp in doc["specials"])
    per_value = Counter()
    for combo in itertools.product(*(sorted(doc["traits"][c]) for c in cats)):
        t = dict(zip(cats, combo))
        if not any(all(t[c] in vals for c, vals in rule.items()) for rule in doc["exclude"]):
            per_value[t[cat]] += 1
    need = {}
    for v, spec in doc["traits"][cat].items():
        if isinstance(spec, dict):
            need[v] = spec["count"] - carried[v]
    pool = [v for v in doc["traits"][cat] if v not in need]
    rest = n - sum(need.values())
    if any(x < 0 for x in need.values()) or rest < 0 or (rest > 0 and not pool):
        return False
    return all(per_value[v] >= x for v, x in need.items()) and sum(per_value[v] for v in pool) >= rest


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(counted_docs())
def test_exact_counts_are_met_or_explained(spec):
    doc, cat = spec
    feasible = brute_force_feasible(doc, cat)
    try:
        m = load(doc)
    except ManifestError as e:
        assert not feasible, e.lines()
        return
    assert feasible
    tokens = list(plan_tokens(m))  # never CountsError with counts in one category
    check_valid(m, tokens, doc)
    got = Counter(t.traits.get(cat) for t in tokens)
    for v, spec_v in doc["traits"][cat].items():
        if isinstance(spec_v, dict):
            assert got[v] == spec_v["count"], (v, got, spec_v)


def test_counts_with_weights_exclusions_and_specials(tmp_path, capsys):
    doc = {
        "collection": {"name": "C", "symbol": "C", "seed": 3, "supply": 8},
        "render": {"models": "tiny"},
        "prompt": {"template": "{colour} {object}"},
        "traits": {"colour": {"Red": 3, "Blue": 2, "Rusty": 1, "Golden": {"count": 2}}, "object": {"Saber": 1, "Board": 1, "Hat": {"weight": 1, "count": 1}}},
        "exclude": [{"colour": "Golden", "object": "Board"}],
        "specials": [{"name": "Dune", "prompt": "dune", "traits": {"colour": "Golden"}}],
    }
    f = tmp_path / "m.yaml"
    f.write_text(json.dumps(doc))
    tokens = list(plan_tokens(load_manifest(f)))
    assert sum(t.traits.get("colour") == "Golden" for t in tokens) == 2  # the special is one of them
    assert sum(t.traits.get("object") == "Hat" for t in tokens) == 1
    assert not any(t.traits.get("colour") == "Golden" and t.traits.get("object") == "Board" for t in tokens)


def count_doc(colour: dict, supply=10, exclude=()) -> str:
    return json.dumps({
        "collection": {"name": "C", "symbol": "C", "seed": 3, "supply": supply},
        "render": {"models": "tiny", "size": [32, 32]},
        "prompt": {"template": "{colour} {object}"},
        "traits": {"colour": colour, "object": {"Saber": 1, "Board": 1, "Hat": 1, "Cup": 1, "Key": 1}},
        "exclude": list(exclude),
    }, indent=1)


@pytest.mark.parametrize("colour, supply, exclude, message", [
    ({"Red": {"count": 8}, "Blue": {"count": 5}}, 10, (), "traits.colour: the counts add up to 13 tokens, more than the 10 drawn"),
    ({"Red": {"count": 2}, "Blue": {"count": 3}}, 10, (), "every value has a count and they add up to 5, but 10 tokens are drawn"),
    ({"Red": 1, "Golden": {"count": 3}}, 4, ({"colour": "Golden", "object": ["Saber", "Board", "Cup", "Key"]},),
     "traits.colour.Golden.count: count 3 cannot be reached: the exclusions leave only 1 allowed combinations with colour: Golden"),
    ({"Red": 1, "Golden": {"count": 1.5}}, 4, (), "traits.colour.Golden.count: count must be a whole number"),
    ({"Red": 1, "Golden": {"count": 1}}, "all", (), "traits.colour.Golden.count: `count` needs a numeric `supply`"),
])
def test_impossible_counts_are_explained_with_field_and_line(tmp_path, capsys, colour, supply, exclude, message):
    f = tmp_path / "manifest.yaml"
    f.write_text(count_doc(colour, supply, exclude))
    assert main(["validate", str(f)]) == 2
    err = capsys.readouterr().err
    assert message in err and "(manifest.yaml:" in err and "Traceback" not in err


def test_counts_across_categories_that_cannot_meet_are_refused(tmp_path, capsys):
    """Each value alone is reachable, but Red and Blue both need the one Hat: no way to meet all six."""
    one = {"count": 1}
    doc = json.loads(count_doc({"Red": one, "Blue": one, "Golden": one}, supply=3,
                               exclude=({"colour": ["Red", "Blue"], "object": ["Saber", "Key"]},)))
    doc["traits"]["object"] = {"Hat": one, "Saber": one, "Key": one}
    f = tmp_path / "manifest.yaml"
    f.write_text(json.dumps(doc))
    assert main(["validate", str(f)]) == 2
    err = capsys.readouterr().err
    assert "exact counts cannot all be met" in err and "Traceback" not in err


def test_counts_across_categories_found_where_greedy_fails(tmp_path):
    """Red+Hat may rank first, but then Blue has no partner: the search must find Red+Saber, Blue+Hat."""
    one = {"count": 1}
    for seed in range(12):
        doc = json.loads(count_doc({"Red": one, "Blue": one}, supply=2, exclude=({"colour": "Blue", "object": "Saber"},)))
        doc["collection"]["seed"] = seed
        doc["traits"]["object"] = {"Hat": one, "Saber": one}
        f = tmp_path / "manifest.yaml"
        f.write_text(json.dumps(doc))
        got = sorted((t.traits["colour"], t.traits["object"]) for t in plan_tokens(load_manifest(f)))
        assert got == [("Blue", "Hat"), ("Red", "Saber")]


def test_rare_weighted_value_warns_but_validates(tmp_path, capsys):
    f = tmp_path / "manifest.yaml"
    f.write_text(count_doc({"Red": 10, "Golden": 1}, supply=5))
    assert main(["validate", str(f)]) == 0
    out = capsys.readouterr()
    assert "warning: traits.colour.Golden: expected in about 0.45 of 5 tokens (weight 1 of 11)" in out.err
    assert "(manifest.yaml:" in out.err and "1 warning" in out.out
    f.write_text(count_doc({"Red": 10, "Golden": {"count": 1}}, supply=5))
    assert main(["validate", str(f)]) == 0
    assert "warning" not in capsys.readouterr().err


# ---------------------------------------------------------------- the plan command


def test_replan_reports_and_needs_force_only_for_rendered_losses(tmp_path, capsys):
    src = Path(__file__).resolve().parents[1] / "examples" / "rusty-roboz" / "manifest.yaml"
    f = tmp_path / "manifest.yaml"
    f.write_text(src.read_text().replace("init_image: jax.png", "init_image: jax"))
    build = tmp_path / "build"
    assert main(["plan", str(f), "--out", str(build)]) == 0
    first = load_plan(build)
    (build / "images").mkdir()
    rendered = [t for t in first.tokens if not t.special][:6]
    for t in rendered:
        (build / "images" / f"{t.id}.png").write_bytes(b"png")
    capsys.readouterr()

    # supply up: no --force, every old token kept
    f.write_text(f.read_text().replace("supply: 24 ", "supply: 28 "))
    assert main(["plan", str(f), "--out", str(build)]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "re-plan: kept 24 (6 rendered), replaced 0, added 4 (ids 25, 26, 27, 28), removed 0" in out
    assert load_plan(build).tokens[:24] == first.tokens

    # an exclusion that forbids a rendered token: refused without --force, naming it
    victim = rendered[0]
    rule = "  - {colour: %s, object: %s, setting: %s}\n" % (victim.traits["colour"], victim.traits["object"], victim.traits["setting"])
    f.write_text(f.read_text().replace("exclude:\n", "exclude:\n" + rule))
    assert main(["plan", str(f), "--out", str(build)]) == 2
    err = capsys.readouterr().err
    assert f"1 token(s) in {build} were rendered from the old plan.json and would be replaced (ids {victim.id})" in err
    assert main(["plan", str(f), "--out", str(build), "--force"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert f"replaced 1 (ids {victim.id})" in out and f"1 rendered token(s) will be re-rendered (ids {victim.id})" in out
    after = {t.id: t for t in load_plan(build).tokens}
    for t in rendered[1:]:
        assert after[t.id] == t


def test_stream_ranking_above_the_enumeration_limit_keeps_the_same_properties(tmp_path):
    """Above ENUMERATE_MAX combinations (here 5 x 30 values: 24.3 M) the ranking is a seeded stream
    of weighted draws instead of keys: exclusions and supply edits still move only what they must."""
    from collection.plan.planner import ENUMERATE_MAX

    doc = {
        "collection": {"name": "S", "symbol": "S", "seed": 11, "supply": 60},
        "render": {"models": "tiny", "size": [32, 32]},
        "prompt": {"template": " ".join(f"{{c{i}}}" for i in range(5))},
        "traits": {f"c{i}": {f"v{i}_{j}": 1 + j % 4 for j in range(30)} for i in range(5)},
        "exclude": [{"c0": "v0_1", "c1": "v1_2"}],
    }
    a = list(plan_tokens(load(doc)))
    assert 30**5 > ENUMERATE_MAX and len({token_identity(t) for t in a}) == 60
    rule = {"c0": [f"v0_{j}" for j in range(0, 30, 3)], "c2": [f"v2_{j}" for j in range(10)]}  # ~1 in 9
    edited = copy.deepcopy(doc)
    edited["exclude"].append(rule)
    m = load(edited)
    b = list(plan_tokens(m, Previous(by_identity(a))))
    check_valid(m, b, edited)
    hit = {t.id for t in a if forbidden(t.traits, rule)}
    assert hit
    assert all((t == {x.id: x for x in b}[t.id]) != (t.id in hit) for t in a)
    assert set(by_identity(b)) == set(by_identity(plan_tokens(m)))
    grown = copy.deepcopy(doc)
    grown["collection"]["supply"] = 90
    c = list(plan_tokens(load(grown), Previous(by_identity(a))))
    assert c[:60] == a and len(c) == 90


def test_spaces_beyond_64_bits_replan_with_rendered_tokens():
    """70 categories of 2 values: 2**70 combinations, more than a uint64 holds. Rendered tokens
    survive a weight change there too (their keys come from value indexes, not the integer)."""
    doc = {
        "collection": {"name": "B", "symbol": "B", "seed": 5, "supply": 6},
        "render": {"models": "tiny", "size": [32, 32]},
        "prompt": {"template": " ".join(f"{{c{i}}}" for i in range(70))},
        "traits": {f"c{i}": {"a": 1, "b": 2} for i in range(70)},
    }
    a = list(plan_tokens(load(doc)))
    edited = copy.deepcopy(doc)
    edited["traits"]["c3"]["a"] = 9
    prev = Previous(by_identity(a), frozenset({a[0].id, a[4].id}))
    b = list(plan_tokens(load(edited), prev))
    assert b[0] == a[0] and b[4] == a[4] and len({token_identity(t) for t in b}) == 6


# ---------------------------------------------------------------- expected shares


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(counted_docs())
def test_expected_shares_are_planned_once_and_read_by_every_step(spec):
    """plan.json's `expected`, checked against the manifest's own numbers worked out here: a counted
    value gets exactly its count less the specials carrying it (and the plan draws exactly that many),
    the others share the rest by weight; the gallery's chart and the rare-value warnings read the same."""
    from collection.plan.plan_step import make_plan
    from preview.traits import trait_shares

    doc, cat = spec
    assume(brute_force_feasible(doc, cat))
    m = load(doc)
    build = Path(tempfile.mkdtemp()) / "build"
    make_plan(m, build)
    plan = load_plan(build)
    generated = [t for t in plan.tokens if not t.special]
    n = len(generated)
    carried = Counter(sp.get("traits", {}).get(cat) for sp in doc["specials"])
    for c, values in doc["traits"].items():
        got = dict(plan.expected[c])
        assert list(got) == list(values)  # manifest order
        exact = {v: s["count"] - carried[v] for v, s in values.items() if isinstance(s, dict) and c == cat}
        free = {v: (s["weight"] if isinstance(s, dict) else s) for v, s in values.items() if v not in exact}
        rest = n - sum(exact.values())
        for v in values:
            want = exact[v] / n if v in exact else rest * free[v] / sum(free.values()) / n
            assert got[v] == pytest.approx(want), (c, v)
            if v in exact:
                assert sum(t.traits[c] == v for t in generated) == exact[v]
        if free and rest > 0:
            assert sum(got.values()) == pytest.approx(1.0)
    chart = trait_shares(plan)
    assert chart.expected
    for cs in chart.categories:
        if cs.category in doc["traits"]:
            assert cs.base == n and [(v.value, v.expected) for v in cs.values] == list(plan.expected[cs.category])
    # the manifest's warnings name exactly the weighted values expected in fewer than one token
    rare = {p.path[1:] for p in m.warnings if p.path[:1] == ("traits",)}
    assert rare == {(c, v) for c, values in doc["traits"].items() for v, share in plan.expected[c]
                    if not (c == cat and isinstance(values[v], dict)) and share * n < 1 and n - sum(
                        s["count"] - carried[x] for x, s in values.items() if isinstance(s, dict) and c == cat) > 0}


def test_plans_without_expected_shares_still_read(tmp_path):
    """Plans written before `expected` was kept: read as before, the chart shows planned shares only."""
    from collection.plan.plan_step import make_plan
    from preview.traits import trait_shares

    doc = json.loads(count_doc({"Red": 3, "Blue": 1}, supply=6))
    make_plan(load(doc), tmp_path / "build")
    raw = json.loads((tmp_path / "build" / "plan.json").read_text())
    assert dict(map(tuple, raw["expected"]["colour"])) == {"Red": 0.75, "Blue": 0.25}
    del raw["expected"]
    (tmp_path / "build" / "plan.json").write_text(json.dumps(raw))
    plan = load_plan(tmp_path / "build")
    assert plan.expected is None
    chart = trait_shares(plan)
    assert not chart.expected and all(v.expected is None for c in chart.categories for v in c.values)
    assert sum(v.count for v in chart.categories[0].values) == 6
