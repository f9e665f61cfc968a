"""plan.json is strict JSON like every other build file (atomicio.dumps_json): NaN/Infinity are refused
when written, with the place that holds one, and when read; valid plans stay byte-identical."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from buildfiles.atomicio import dumps_json, write_text
from buildfiles.plan import CollectionInfo, PlanError, PlannedToken, collection_to_dict, iter_plan_json, load_plan, token_to_dict

INFO = CollectionInfo(name="Rusty Roboz", symbol="ROBOZ", description="Robots, rusting.", external_url=None, image=None,
                      name_template="Rusty Roboz #{id}", seed=7, start_id=1, supply=2, shuffle=False, royalties=None)
TOKENS = [
    PlannedToken(id=1, name="Rusty Roboz #1", special=None, traits={"colour": "Red"}, prompt="a robot:1 | rust:0.5",
                 seed=11, render={"step_size": 0.05, "size": [64, 64]}),
    PlannedToken(id=2, name="Rusty Roboz #2 ü", special="gold", traits={}, prompt="gold", seed=12, render={}),
]


def header(render=None):
    return {"manifest_sha256": "0" * 64, "collection": collection_to_dict(INFO),
            "render": render if render is not None else {"cut_pow": 1.0, "step_size": 0.1}, "inputs": {}}


def test_valid_plan_is_byte_identical_to_dumps_json():
    whole = dict(header(), format="roboz-plan/1", tokens=[token_to_dict(t) for t in TOKENS])
    got = "".join(iter_plan_json(header(), TOKENS))
    whole["format"] = json.loads(got)["format"]     # the writer sets the format; compare everything else
    assert got == dumps_json(whole)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_in_a_token_render_is_refused_naming_the_token(bad):
    tokens = [TOKENS[0], replace(TOKENS[1], render={"step_size": bad})]
    with pytest.raises(PlanError, match=r"token 2's render settings holds NaN or Infinity"):
        "".join(iter_plan_json(header(), tokens))


def test_nan_in_the_header_is_refused():
    with pytest.raises(PlanError, match=r"the header .* holds NaN or Infinity"):
        "".join(iter_plan_json(header({"cut_pow": math.inf}), TOKENS))


def test_reading_a_plan_with_nan_is_one_plan_error(tmp_path):
    text = "".join(iter_plan_json(header(), TOKENS)).replace('"step_size": 0.1', '"step_size": NaN')
    assert "NaN" in text
    write_text(tmp_path / "plan.json", text)
    with pytest.raises(PlanError, match=r"plan.json is not valid JSON \(NaN is not JSON\)"):
        load_plan(tmp_path)
