"""iterations: auto (generator/autostop.py): the pure rule on score sequences, the settings' one typed
form (manifest -> RenderSettings -> plan.json -> plan_settings) and its located manifest errors."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from buildfiles.errors import UserError
from collection.plan.manifest import load_manifest
from generator.autostop import (CONVERGED, MAX_ITERATIONS, AutoStop, Stopped, best_judgement, converged, next_judgement,
                                stop_reason)
from generator.settings import RenderSettings, merge_render, plan_settings
from tests.test_manifest_errors import GOOD

RULE = AutoStop(every=10, window=3, tolerance=0.01)


# ---- the rule ---------------------------------------------------------------------------------

def test_rising_scores_go_on_and_a_plateau_stops():
    rising = [0.10, 0.13, 0.16, 0.19, 0.22, 0.25]
    assert not converged(rising, RULE)
    plateau = [0.10, 0.20, 0.25, 0.251, 0.255, 0.259]  # three judgements within 0.01 of the best before them
    assert converged(plateau, RULE)
    assert not converged(plateau[:-1], RULE)  # only two of them yet


def test_a_late_gain_above_tolerance_keeps_it_going_and_a_drop_counts_as_none():
    assert not converged([0.10, 0.20, 0.20, 0.20, 0.215], RULE)   # +0.015 in the window: more than 0.01
    assert converged([0.10, 0.20, 0.20, 0.20, 0.209], RULE)       # +0.009: no more than 0.01
    assert converged([0.10, 0.30, 0.25, 0.24, 0.23], RULE)        # falling after the best
    assert converged([0.3, 0.3, 0.3, 0.3], AutoStop(window=3, tolerance=0.0))  # no gain at all, none allowed


def test_too_few_scores_never_stop_and_nan_never_counts_as_a_gain():
    for n in range(RULE.window + 1):
        assert not converged([0.5] * n, RULE)
    assert converged([0.2, float("nan"), float("nan"), float("nan")], RULE)
    assert not converged([float("nan"), 0.1, 0.2, 0.3], RULE)  # nothing finite before the window: any score is a gain


def test_reasons_and_judgement_points():
    plateau = [0.1, 0.2, 0.2, 0.2, 0.2]
    assert stop_reason(plateau, 50, 1000, RULE) == CONVERGED
    assert stop_reason([0.1, 0.2, 0.3], 30, 1000, RULE) is None
    assert stop_reason([0.1, 0.2, 0.3], 30, 30, RULE) == MAX_ITERATIONS
    assert stop_reason(plateau, 50, 50, RULE) == CONVERGED  # converged says more than the cap
    assert [next_judgement(i, 35, RULE) for i in (0, 9, 10, 29, 30)] == [10, 10, 20, 30, 35]


def test_stopped_record_rounds_and_writes_null_for_nan():
    d = Stopped(CONVERGED, 60, 0.123456789, (0.1, float("nan")), "judge").to_dict()
    assert d == {"reason": "converged", "iteration": 60, "score": 0.123457, "scores": [0.1, None], "judge": "judge",
                 "kept": 60}
    assert Stopped(CONVERGED, 60, 0.1, (0.1, 0.05), "judge", kept=10).to_dict()["kept"] == 10


def test_the_best_judgement_is_the_first_of_the_highest_finite_scores():
    assert best_judgement([0.1, 0.3, float("nan"), 0.3, 0.2]) == 1
    assert best_judgement([float("nan"), float("-inf")]) is None and best_judgement([]) is None
    assert best_judgement([float("nan"), 0.0]) == 1


# ---- settings: one typed form ------------------------------------------------------------------

def test_auto_resolves_to_the_cap_and_round_trips_as_auto():
    s = RenderSettings(iterations="auto", max_iterations=800)
    assert s.iterations == 800 and s.auto and s.auto_stop == AutoStop()
    d = s.to_dict()
    assert (d["iterations"], d["max_iterations"], d["auto_stop"]) == ("auto", 800, {"every": 10, "window": 5, "tolerance": 0.002})
    assert RenderSettings.from_dict(d) == s
    assert replace(s, cutn=8).auto and replace(s, cutn=8).iterations == 800  # replace() keeps it auto
    own = RenderSettings.from_dict({"iterations": "auto", "max_iterations": 90, "auto_stop": {"every": 3, "window": 2}})
    assert own.auto_stop == AutoStop(every=3, window=2, tolerance=0.002)


def test_fixed_plans_stay_byte_identical():
    d = RenderSettings().to_dict()
    assert "max_iterations" not in d and "auto_stop" not in d and d["iterations"] == 500
    assert list(d) == list(RenderSettings.from_dict(d).to_dict())


@pytest.mark.parametrize("data, words", [
    ({"iterations": "auto"}, "needs max_iterations"),
    ({"iterations": 300, "max_iterations": 400}, "max_iterations goes with iterations: auto"),
    ({"auto_stop": {"every": 3}}, "auto_stop goes with iterations: auto"),
    ({"iterations": "auto", "max_iterations": 100, "snapshots": [200]}, "after the last iteration (100)"),
    ({"iterations": "auto", "max_iterations": 100, "zoom": {"frames": 2}}, "cannot go with zoom"),
    ({"iterations": "auto", "max_iterations": 100, "story": "a^b", "change_every": 10}, "cannot go with a story"),
    ({"iterations": "forever"}, "or `auto` with max_iterations beside it"),
    ({"iterations": True}, "or `auto` with max_iterations beside it"),
])
def test_wrong_combinations_are_refused(data, words):
    with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
        RenderSettings.from_dict(data)


def test_a_number_in_an_override_makes_the_count_fixed():
    base = RenderSettings(iterations="auto", max_iterations=800).to_dict()
    assert "auto_stop" not in merge_render(base, {"iterations": 300})
    fixed, capped, same = plan_settings(base, [{"iterations": 300}, {"max_iterations": 200}, {}])
    assert (fixed.iterations, fixed.auto) == (300, False)
    assert (capped.iterations, capped.auto) == (200, True)
    assert same == RenderSettings.from_dict(base)
    # a special may turn auto on over a fixed collection
    on = plan_settings(RenderSettings().to_dict(), [{"iterations": "auto", "max_iterations": 900}])[0]
    assert on.auto and on.iterations == 900
    # a draft's cap (collection.plan.draft) is a number: the draft paints a fixed count
    assert not RenderSettings.from_dict(base).with_overrides({"iterations": 30}).auto


# ---- the manifest: located errors ---------------------------------------------------------------

def _load(tmp_path, text):
    f = tmp_path / "manifest.yaml"
    f.write_text(text)
    return load_manifest(f)


AUTO_BLOCK = "iterations: auto\n  max_iterations: 50"


def test_manifest_reads_auto_into_the_typed_settings(tmp_path):
    m = _load(tmp_path, GOOD.replace("iterations: 5", AUTO_BLOCK + "\n  auto_stop: {every: 5, window: 3, tolerance: 0}"))
    assert m.render.iterations == 50 and m.render.auto_stop == AutoStop(every=5, window=3, tolerance=0.0)


@pytest.mark.parametrize("block, where, words", [
    ("iterations: auto", "render", "needs max_iterations"),
    ("iterations: forever", "render.iterations", "must be a whole number, got 'forever'; or `auto`"),
    ("iterations: 5\n  max_iterations: 50", "render", "max_iterations goes with iterations: auto"),
    (AUTO_BLOCK + "\n  auto_stop: {windw: 3}", "render.auto_stop.windw", "did you mean 'window'"),
    (AUTO_BLOCK + "\n  auto_stop: {tolerance: -1}", "render.auto_stop.tolerance", "greater than or equal to 0"),
    (AUTO_BLOCK + "\n  auto_stop: {every: 2.5}", "render.auto_stop.every", "must be a whole number"),
    ("iterations: auto\n  max_iterations: yes", "render.max_iterations", "YAML reads true/false"),
])
def test_wrong_values_are_one_located_line(tmp_path, block, where, words):
    with pytest.raises(UserError) as e:
        _load(tmp_path, GOOD.replace("iterations: 5", block))
    msg = e.value.message
    assert msg.startswith(f"{where}: ") and words in msg and "manifest.yaml:" in msg and "\n" not in msg


def test_a_special_may_give_a_number_or_turn_auto_on(tmp_path):
    fixed = GOOD.replace("iterations: 5", AUTO_BLOCK).replace('prompt: "Dune | rusty roboz:0.5"',
                                                                'prompt: "Dune"\n    render: {iterations: 20}')
    assert _load(tmp_path, fixed).render.auto
    with pytest.raises(UserError, match=r"specials\[0\]\.render: iterations: auto needs max_iterations"):
        _load(tmp_path, GOOD.replace('prompt: "Dune | rusty roboz:0.5"', 'prompt: "Dune"\n    render: {iterations: auto}'))
