"""`reroll`: next seeds as a pure function of token and count, only those re-rendered, downstream stale."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from buildfiles.atomicio import write_json
from buildfiles.plan import load_plan
from collection.render.render_step import render_build
from collection.render.reroll import effective_plan, load_rerolls, reroll_seed
from metadata.build import write_metadata

TOKENS = [{"prompt": "a rusty robot", "seed": 11}, {"prompt": "a robot dog", "seed": 22}, {"prompt": "a red robot", "seed": 33}]


def cli(*args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "collection.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=300)


def files(build, tid):
    return {p: (build / p).read_bytes() for p in (f"images/{tid}.png", f"renders/{tid}.json") if (build / p).exists()}


def seed_attr(build, tid):
    md = json.loads((build / "metadata" / f"{tid}.json").read_text())
    return next(a["value"] for a in md["attributes"] if a["trait_type"] == "Seed")


@pytest.fixture
def built(make_build):
    build = make_build({"snapshots": [4]}, TOKENS)
    assert sorted(render_build(build, progress=False).rendered) == [1, 2, 3]
    write_metadata(build)
    return build


def test_reroll_renders_only_those_with_recorded_deterministic_seeds(built):
    before = {t: files(built, t) for t in (1, 2, 3)}
    prov_before = json.loads((built / "provenance.json").read_text())
    r = cli("reroll", built, 2, "--no-progress")
    assert r.returncode == 0, r.stderr
    first = reroll_seed(22, 1)
    assert f"token 2: seed 22 -> {first} (re-roll #1)" in r.stdout and "rendered 1, skipped 0" in r.stdout
    for t in (1, 3):
        assert files(built, t) == before[t]  # byte-identical
    rec = json.loads((built / "renders" / "2.json").read_text())
    assert rec["seed"] == first and files(built, 2)[f"images/2.png"] != before[2]["images/2.png"]
    assert (built / "snapshots" / "2" / "0004.png").exists()
    # downstream went stale: derived files gone, the other tokens' token JSON kept
    for rel in ("cids.json", "provenance.json", "rarity.json", "metadata/2.json"):
        assert not (built / rel).exists(), rel
    assert (built / "metadata" / "1.json").exists()
    # and the metadata step redoes it: the new seed in the token JSON, a new provenance
    write_metadata(built)
    assert seed_attr(built, 2) == first and seed_attr(built, 1) == 11
    assert json.loads((built / "provenance.json").read_text())["provenance_hash"] != prov_before["provenance_hash"]

    # a second re-roll: the next seed of the same pure function, the history recorded
    assert cli("reroll", built, 2, "--no-progress").returncode == 0
    rr = load_rerolls(built)[2]
    assert rr.count == 2 and rr.seed == reroll_seed(22, 2) != first and rr.base_seed == 22
    assert [h["seed"] for h in rr.history] == [first, reroll_seed(22, 2)]
    assert [h["replaced_seed"] for h in rr.history] == [22, first]
    assert json.loads((built / "renders" / "2.json").read_text())["seed"] == reroll_seed(22, 2)


def test_explicit_seed_is_pinned_and_brings_a_picture_back(built):
    original = files(built, 3)
    assert cli("reroll", built, 3, "--no-progress").returncode == 0
    assert files(built, 3) != original
    r = cli("reroll", built, 3, "--seed", 33, "--no-progress")  # the planned seed again
    assert r.returncode == 0, r.stderr
    assert "seed" in r.stdout and "(pinned)" in r.stdout
    assert files(built, 3)["images/3.png"] == original["images/3.png"]
    assert json.loads((built / "renders" / "3.json").read_text())["seed"] == 33
    assert load_rerolls(built)[3].pinned


def test_seeds_hang_on_identity_not_on_the_build(tmp_path):
    assert reroll_seed(22, 1) == reroll_seed(22, 1) and reroll_seed(22, 1) != reroll_seed(23, 1)
    assert len({reroll_seed(22, c) for c in range(1, 50)}) == 49
    assert all(0 <= reroll_seed(22, c) < 2**32 for c in range(1, 50))


def test_a_replanned_token_drops_its_rerolls(built):
    assert cli("reroll", built, 1, "--no-render").returncode == 0
    plan = load_plan(built)
    assert effective_plan(built, plan).tokens[0].seed == reroll_seed(11, 1)
    # the plan now gives token 1 another identity (another base seed): the record no longer applies
    raw = json.loads((built / "plan.json").read_text())
    raw["tokens"][0]["seed"] = 12
    write_json(built / "plan.json", raw)
    assert effective_plan(built, load_plan(built)).tokens[0].seed == 12


def test_minted_tokens_on_a_public_chain_cannot_be_rerolled(built):
    write_json(built / "mint.json", {"format": "roboz-mint/1", "chain_id": 11155111, "network": "sepolia",
                                     "txs": [{"kind": "deploy", "hash": "0x1", "nonce": 0, "status": "mined"}], "minted": {"first_id": 1, "count": 3}})
    before = files(built, 2)
    r = cli("reroll", built, 2, "--no-progress")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "error: token(s) 2 are minted on sepolia (chain id 11155111)" in r.stderr
    assert files(built, 2) == before and not (built / "rerolls.json").exists()
    # on a local chain (anvil) a collection can be minted again: allowed
    write_json(built / "mint.json", {"format": "roboz-mint/1", "chain_id": 31337, "network": "local",
                                     "txs": [], "minted": {"first_id": 1, "count": 3}})
    assert cli("reroll", built, 2, "--no-render").returncode == 0


def test_unknown_ids_and_bad_seeds_are_one_line(built):
    r = cli("reroll", built, 9)
    assert r.returncode == 2 and r.stderr.splitlines()[0] == "error: no token 9 in this build's plan"
    r = cli("reroll", built, 1, "--seed", -1)
    assert r.returncode == 2 and "--seed -1 is out of range" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("text, says", [("{", "corrupt or truncated"), ("[]", "not an object"),
                                        ('{"format": "roboz-rerolls/9"}', "has format"),
                                        ('{"format": "%s", "tokens": {"x": 1}}', "malformed")])
def test_damaged_rerolls_and_review_files_are_one_line(tmp_path, text, says):
    from buildfiles.jsonfile import BuildFileError
    from buildfiles.rerolls import REROLLS_FORMAT, load_rerolls
    from collection.review.decisions import REVIEW_FORMAT, load_decisions

    for name, fmt, load in (("rerolls.json", REROLLS_FORMAT, load_rerolls), ("review.json", REVIEW_FORMAT, load_decisions)):
        (tmp_path / name).write_text(text.replace("%s", fmt).replace("roboz-rerolls/9", fmt + "9"))
        with pytest.raises(BuildFileError, match=says) as e:
            load(tmp_path)
        assert name in e.value.message and e.value.hint


# ---- records that tell the truth (issue 25): best-of-K on the tiny models ------------------

BEST_OF = {"candidates": 3, "iterations": 8, "batch_size": 1}


def test_best_of_k_logs_and_records_name_the_picture_seed_and_it_paints_the_picture_again(make_build, capsys):
    from collection.render.reroll import apply_reroll
    from generator.candidates import candidate_seed

    build = make_build(BEST_OF, [{"prompt": "a rusty robot", "seed": 11}])
    assert render_build(build, progress=False).rendered == [1]
    out = capsys.readouterr().out
    rec = json.loads((build / "renders" / "1.json").read_text())
    seeds = [candidate_seed(11, i) for i in range(3)]
    assert [c["seed"] for c in rec["candidates"]] == seeds
    # the log names every candidate before the render and every score and the winner after it
    assert f"token 1 best of 3: candidate seeds {', '.join(map(str, seeds))}" in out
    judged = next(line for line in out.splitlines() if line.startswith("token 1 candidates judged by"))
    assert all(str(s) in judged for s in seeds) and judged.endswith(f"winner seed {rec['seed']}")
    assert f"{rec['seed']} " in judged and "(winner)" in judged and judged.count("(dropped at") == 2

    # a re-roll (not pinned) renders best-of-3 from its new seed: rerolls.json names the picture's seed
    changes, report = apply_reroll(build, [1], progress=False)
    assert report.rendered == [1]
    rec = json.loads((build / "renders" / "1.json").read_text())
    rr = load_rerolls(build)[1]
    assert rr.seed == reroll_seed(11, 1) and rr.picture_seed == rec["seed"] == changes[0].picture_seed
    assert rr.history[-1]["picture_seed"] == rec["seed"]
    assert rec["seed"] in [c["seed"] for c in rec["candidates"]]
    picture = (build / "images" / "1.png").read_bytes()

    # `--seed` with that seed paints exactly that picture (pinned: one candidate, no judge)
    cands = [c["seed"] for c in rec["candidates"] if c["seed"] != rec["seed"]]
    apply_reroll(build, [1], {1: cands[0]}, progress=False)  # away to another picture first
    assert (build / "images" / "1.png").read_bytes() != picture
    r = cli("reroll", build, 1, "--seed", rec["seed"], "--no-progress")
    assert r.returncode == 0, r.stderr
    again = np.asarray(Image.open(build / "images" / "1.png"))
    assert np.array_equal(again, np.asarray(Image.open(io.BytesIO(picture))))
    assert json.loads((build / "renders" / "1.json").read_text())["seed"] == load_rerolls(build)[1].picture_seed == rec["seed"]


def test_the_review_api_refuses_a_pick_that_is_not_a_candidate(make_build):
    from buildfiles.errors import UserError
    from collection.review.decisions import Decision, apply_decisions, save_decisions
    from collection.review.server import ReviewServer

    build = make_build(BEST_OF, [{"prompt": "a rusty robot", "seed": 11}, {"prompt": "a robot dog", "seed": 22,
                                                                          "render": {"candidates": 1}}])
    assert sorted(render_build(build, progress=False).rendered) == [1, 2]
    cands = [c["seed"] for c in json.loads((build / "renders" / "1.json").read_text())["candidates"]]
    with ReviewServer(build) as s:
        with pytest.raises(ValueError, match=f"seed 12345 is not a candidate of token 1 .*{cands[0]}"):
            s.decide({"id": 1, "decision": "pick", "seed": 12345})
        with pytest.raises(ValueError, match="token 2 has no candidates"):
            s.decide({"id": 2, "decision": "pick", "seed": 22})
        with pytest.raises(ValueError, match="unknown token id"):
            s.decide({"id": True, "decision": "reject"})
        s.decide({"id": 1, "decision": "pick", "seed": cands[1]})
    assert not (build / "review.json").read_text().count("12345")
    # a hand-edited review.json is held to the same rule when applied
    save_decisions(build, {1: Decision("pick", 12345)})
    with pytest.raises(UserError, match="review.json: seed 12345 is not a candidate of token 1"):
        apply_decisions(build, progress=False)
