"""Best-of-K by successive halving (generator/candidates.py) on the tiny models, and its pure parts."""

import numpy as np
import pytest
from PIL import Image

from buildfiles.errors import UserError
from generator.candidates import (
    CANDIDATES_FORMAT,
    candidate_seed,
    halving_schedule,
    judge_choice,
    rank,
    render as best_of_render,
    schedule_cost,
)
from generator.loop import Interrupted, Renderer, TokenJob
from generator.settings import RenderSettings
from tests.fixtures_generator import Recorder, px

S = RenderSettings(models="tiny", init_image=None, size=(32, 32), iterations=16, cutn=4, augments=("flip", "affine"),
                   snapshots=(8, 16), checkpoint_every=4, candidates=4)


# ---- pure parts ---------------------------------------------------------------------------

def test_schedule_halves_and_costs_at_most_twice_one_render():
    assert [(s.until, s.keep) for s in halving_schedule(500, 4)] == [(62, 2), (125, 1), (500, 1)]
    assert [(s.until, s.keep) for s in halving_schedule(500, 3)] == [(62, 2), (125, 1), (500, 1)]
    assert [(s.until, s.keep) for s in halving_schedule(500, 2)] == [(125, 1), (500, 1)]
    assert halving_schedule(500, 1)[-1].until == 500 and len(halving_schedule(500, 1)) == 1
    assert schedule_cost(500, 1) == 500
    assert schedule_cost(500, 4) == 4 * 62 + 2 * 63 + 375  # 1.5 n
    for k in range(1, 17):
        for n in (1, 2, 3, 7, 30, 500, 4000):
            st = halving_schedule(n, k)
            untils = [s.until for s in st]
            assert untils == sorted(set(untils)) and untils[-1] == n and st[-1].keep == 1
            assert schedule_cost(n, k) <= (2 * n + k if n >= 8 else k * n), (n, k)  # + rounding


def test_candidate_seeds_are_a_pure_function_and_distinct():
    assert candidate_seed(1234, 0) == 1234
    seeds = [candidate_seed(1234, i) for i in range(16)]
    assert seeds == [candidate_seed(1234, i) for i in range(16)] and len(set(seeds)) == 16
    assert all(0 <= s < 2**32 for s in seeds)


def test_rank_prefers_higher_scores_and_breaks_ties_on_index():
    assert rank([0.1, 0.3, 0.2]) == [1, 2, 0]
    assert rank([0.25, 0.25, 0.25 + 1e-9, 0.1]) == [0, 1, 2, 3]  # equal to 6 decimals: index order
    assert rank([float("nan"), 0.1]) == [1, 0]


def test_judge_is_never_the_guide():
    assert judge_choice("vqgan_imagenet_f16_16384+ViT-B/32", None).clip == "ViT-B/16"
    assert judge_choice("vqgan_imagenet_f16_16384+ViT-B/16", None).clip == "ViT-B/32"
    assert judge_choice("vqgan_imagenet_f16_16384+ViT-B/32", "RN50").clip == "RN50"
    with pytest.raises(UserError, match="guide's own CLIP"):
        judge_choice("vqgan_imagenet_f16_16384+ViT-B/32", "ViT-B/32")
    with pytest.raises(UserError, match="unknown CLIP"):
        judge_choice("vqgan_imagenet_f16_16384+ViT-B/32", "ViT-Q/99")
    own = judge_choice("tiny", None)
    assert own.own and "guide's own CLIP" in own.label
    with pytest.raises(UserError):
        judge_choice("tiny", "ViT-B/16")
    # an artist's own files: the spec as render settings hold it (models.name is only a label)
    own_vq = {"config": "/w/robots.yaml", "checkpoint": "/w/robots.ckpt"}
    assert judge_choice({"vqgan": own_vq, "clip": "ViT-B/32"}, None).clip == "ViT-B/16"
    assert judge_choice({"vqgan": own_vq, "clip": {"file": "/w/myclip.pt"}}, None).clip == "ViT-B/32"
    demo = judge_choice({"vqgan": {**own_vq, "name": "demo_roboz"}, "clip": {"file": "/w/demo_clip.pt"}}, None)
    assert demo.own and demo.label.startswith("demo_roboz (the guide's own CLIP")


def test_candidates_setting_is_left_out_of_plans_when_one():
    assert "candidates" not in RenderSettings().to_dict() and "judge" not in RenderSettings().to_dict()
    d = S.to_dict()
    assert d["candidates"] == 4 and RenderSettings.from_dict(d) == S


# ---- on the tiny models --------------------------------------------------------------------

@pytest.fixture(scope="module")
def best_of_4(tiny_models, judge):
    rec = Recorder()
    out = best_of_render(Renderer(tiny_models), [TokenJob(7, "a red robot:1 | blur:-0.5", 99, S)], rec.callbacks(), judge=judge)
    return out[0], rec


def test_best_of_4_keeps_the_winner_of_successive_halving(best_of_4, judge):
    r, rec = best_of_4
    assert r.id == 7 and r.judge == judge.label and len(r.candidates) == 4
    assert [c.seed for c in r.candidates] == [candidate_seed(99, i) for i in range(4)]
    stops = sorted(c.stop_iteration for c in r.candidates)
    assert stops == [2, 2, 4, 16]  # schedule for n=16: 4 run to 2, 2 to 4, 1 to 16
    winner = next(c for c in r.candidates if c.stop_iteration == 16)
    assert r.seed == winner.seed and r.iterations == 16
    # the two that reached iteration 4 were the better half at iteration 2
    at4 = [c for c in r.candidates if c.stop_iteration >= 4]
    at2 = [c for c in r.candidates if c.stop_iteration == 2]
    assert len(at4) == 2 and len(at2) == 2
    assert all(c.image is not None and c.image.size == (32, 32) for c in r.candidates)
    assert rec.results == [r]
    # only the winner's snapshots reach the callbacks, once each, under the token's id
    snaps = [(t, i) for t, k, i, _ in rec.images if k == "snapshot"]
    assert snaps == [(7, 8), (7, 16)]
    # a crash-safe checkpoint per token (never per candidate), in the candidates format
    assert rec.checkpoints and all(t == 7 and c["format"] == CANDIDATES_FORMAT for t, c in rec.checkpoints)
    assert all(p.token_ids == (7,) for p in rec.progress)


def test_winner_is_exactly_a_plain_render_of_its_seed(tiny_models, best_of_4):
    r, rec = best_of_4
    plain_rec = Recorder()
    plain = Renderer(tiny_models).render([TokenJob(7, "a red robot:1 | blur:-0.5", r.seed,
                                                   RenderSettings.from_dict({**S.to_dict(), "candidates": 1}))],
                                         plain_rec.callbacks())[0]
    assert np.array_equal(px(plain.image), px(r.image))
    assert [(k, i) for _, k, i, _ in plain_rec.images] == [(k, i) for _, k, i, _ in rec.images]
    for (_, _, _, a), (_, _, _, b) in zip(plain_rec.images, rec.images):
        assert np.array_equal(a, b)


def test_scores_are_the_judges_cosine_on_the_whole_image(tiny_models, judge, best_of_4):
    import torch

    r, _ = best_of_4
    winner = next(c for c in r.candidates if c.seed == r.seed)
    x = torch.from_numpy(px(r.image).astype(np.float32) / 255).permute(2, 0, 1)[None]
    # the stored score was taken on the float image; the 8-bit PNG scores within rounding
    assert judge.score(x, ["a red robot:1 | blur:-0.5"])[0] == pytest.approx(winner.score, abs=2e-3)
    assert -1 <= winner.score <= 1


def test_interrupted_best_of_k_resumes_to_the_same_result(tiny_models, judge, best_of_4):
    ref, _ = best_of_4
    rec = Recorder(stop_after=9)  # stage 0 is 4 x 2 steps; stop after the first survivor's first step of stage 1
    with pytest.raises(Interrupted):
        best_of_render(Renderer(tiny_models), [TokenJob(7, "a red robot:1 | blur:-0.5", 99, S)], rec.callbacks(), judge=judge)
    _, ck = rec.checkpoints[-1]
    assert ck["stage"] == 1 and sum(c["stop_iteration"] is not None for c in ck["candidates"]) == 2
    # the two survivors stand at different iterations: the resume must regroup them
    assert sorted(c["state"]["iteration"] for c in ck["candidates"] if c["state"]) == [2, 3]
    rec2 = Recorder()
    out = best_of_render(Renderer(tiny_models), [TokenJob(7, "a red robot:1 | blur:-0.5", 99, S, checkpoint=ck)],
                         rec2.callbacks(), judge=judge)[0]
    assert np.array_equal(px(out.image), px(ref.image)) and out.seed == ref.seed
    assert [(c.seed, c.stop_iteration) for c in out.candidates] == [(c.seed, c.stop_iteration) for c in ref.candidates]
    assert [c.score for c in out.candidates] == pytest.approx([c.score for c in ref.candidates], abs=1e-6)


def test_candidates_of_several_tokens_share_batches(tiny_models, judge):
    s = RenderSettings.from_dict({**S.to_dict(), "batch_size": 8, "snapshots": []})
    rec = Recorder()
    out = best_of_render(Renderer(tiny_models), [TokenJob(1, "a robot", 1, s), TokenJob(2, "a dog", 2, s)], rec.callbacks(), judge=judge)
    assert [r.id for r in out] == [1, 2] and all(len(r.candidates) == 4 for r in out)
    assert rec.progress[0].token_ids == (1, 1, 1, 1, 2, 2, 2, 2)  # stage 0: all 8 candidates in one batch
    assert rec.progress[-1].token_ids == (1, 2)  # last stage: the two winners together


# ---- through the render step ---------------------------------------------------------------

def test_render_step_records_every_candidate_and_the_chosen_seed(make_build):
    import json

    from PIL import Image

    from collection.render.render_step import render_build

    build = make_build({"candidates": 2, "iterations": 8, "snapshots": [4, 8]},
                       [{"prompt": "a rusty robot", "seed": 11}, {"prompt": "a robot dog", "seed": 22, "render": {"candidates": 3}}])
    rep = render_build(build, progress=False)
    assert sorted(rep.rendered) == [1, 2] and not rep.failed
    for tid, k, seed in ((1, 2, 11), (2, 3, 22)):
        rec = json.loads((build / "renders" / f"{tid}.json").read_text())
        assert [set(c) for c in rec["candidates"]] == [{"seed", "score", "stop_iteration"}] * k
        assert [c["seed"] for c in rec["candidates"]] == [candidate_seed(seed, i) for i in range(k)]
        finished = [c for c in rec["candidates"] if c["stop_iteration"] == 8]
        assert len(finished) == 1 and rec["seed"] == finished[0]["seed"]
        assert rec["judge"].startswith("tiny (the guide's own CLIP")
        img = Image.open(build / "images" / f"{tid}.png")
        assert img.text["seed"] == str(rec["seed"])
        for c in rec["candidates"]:
            assert (build / "candidates" / str(tid) / f"{c['seed']}.png").exists()
        assert sorted(p.name for p in (build / "snapshots" / str(tid)).iterdir()) == ["0004.png", "0008.png"]
    again = render_build(build, progress=False)
    assert again.rendered == [] and sorted(again.skipped) == [1, 2]
    # the chosen seed is the token's seed in its metadata
    from metadata.build import write_metadata

    write_metadata(build)
    for tid in (1, 2):
        md = json.loads((build / "metadata" / f"{tid}.json").read_text())
        rec = json.loads((build / "renders" / f"{tid}.json").read_text())
        assert next(a["value"] for a in md["attributes"] if a["trait_type"] == "Seed") == rec["seed"]


def test_manifest_takes_candidates_and_judge_per_render_and_special(tmp_path, capsys):
    from collection.cli import main
    from collection.plan.manifest import load_manifest
    from tests.test_manifest_errors import GOOD

    text = GOOD.replace("  iterations: 5\n", "  iterations: 5\n  candidates: 4\n").replace(
        '    prompt: "Dune | rusty roboz:0.5"\n', '    prompt: "Dune | rusty roboz:0.5"\n    render: {candidates: 8}\n')
    f = tmp_path / "manifest.yaml"
    f.write_text(text)
    m = load_manifest(f)
    assert m.render.candidates == 4 and m.specials[0].render == {"candidates": 8}
    f.write_text(text.replace("  candidates: 4\n", "  candidates: 0\n  judge: ViT-B/32\n").replace("models: tiny", "models: vqgan_imagenet_f16_16384+ViT-B/32"))
    assert main(["validate", str(f)]) == 2
    err = capsys.readouterr().err
    assert "render.candidates" in err and "judge ViT-B/32 is the guide's own CLIP" in err


def test_killed_best_of_k_render_resumes_to_the_same_result(make_build):
    """SIGKILL the render CLI mid-halving, run it again: the same winner, image and candidates as
    an uninterrupted run (the token's checkpoint holds every live candidate, through torch.save)."""
    import json
    import signal
    import subprocess
    import sys
    import time

    import torch

    from collection.render.render_step import render_build

    render = {"candidates": 4, "iterations": 60, "checkpoint_every": 4, "snapshots": [4, 30, 60], "video": {"every": 6, "fps": 4}}
    tokens = [{"prompt": "a rusty robot:1 | blur:-0.5", "seed": 11}]
    ref = make_build(render, tokens, name="ref")
    assert render_build(ref, progress=False).rendered == [1]
    build = make_build(render, tokens, name="killed")
    proc = subprocess.Popen([sys.executable, "-m", "collection.cli", "render", str(build), "--device", "cpu", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ck_path = build / "checkpoints" / "1.pt"
    t0 = time.time()
    while True:  # wait for a checkpoint past the first stage (some candidates already dropped)
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < 300
        if ck_path.exists():
            try:
                ck = torch.load(ck_path, weights_only=True)
            except Exception:
                ck = None
            if ck and ck["stage"] >= 1:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    assert all(c["images"] for c in ck["candidates"] if c["state"])  # held-back snapshots/frames are in the checkpoint
    proc.communicate(timeout=60)
    assert not (build / "images" / "1.png").exists(), "killed too late: the render had finished"
    r = subprocess.run([sys.executable, "-m", "collection.cli", "render", str(build), "--device", "cpu", "--no-progress"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    a, b = (json.loads((d / "renders" / "1.json").read_text()) for d in (ref, build))
    assert b["seed"] == a["seed"] and [(c["seed"], c["stop_iteration"]) for c in b["candidates"]] == \
        [(c["seed"], c["stop_iteration"]) for c in a["candidates"]]
    assert [c["score"] for c in b["candidates"]] == pytest.approx([c["score"] for c in a["candidates"]], abs=1e-6)
    assert np.array_equal(px(Image.open(build / "images" / "1.png").convert("RGB")),
                          px(Image.open(ref / "images" / "1.png").convert("RGB")))
    # the winner's snapshots and frames: those held back in the checkpoint (before the kill) and the later ones
    for d, names in (("snapshots", ["0004.png", "0030.png", "0060.png"]), ("frames", [f"{i:05d}.png" for i in range(0, 61, 6)])):
        assert sorted(p.name for p in (build / d / "1").iterdir()) == names
        for name in names:
            assert np.array_equal(px(Image.open(build / d / "1" / name)), px(Image.open(ref / d / "1" / name))), name


def test_the_loop_alone_refuses_best_of_k_jobs(tiny_models):
    # the loop knows nothing of judges: a best-of-K job handed to it must not be painted once and kept
    with pytest.raises(ValueError, match="generator.candidates"):
        Renderer(tiny_models).render([TokenJob(7, "a red robot", 99, S)])
