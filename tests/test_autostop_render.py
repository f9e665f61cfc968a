"""iterations: auto on the tiny pair: tokens stop before max_iterations and say why, a resumed token
stops where an uninterrupted one does (bit-exact), snapshots after the stop are skipped, best-of-K
and a build's render record and `paint --iterations auto` work with it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from generator.autostop import CONVERGED, AutoStop
from generator.candidates import render
from generator.loop import Interrupted, Renderer, TokenJob
from generator.settings import RenderSettings
from tests.fixtures_generator import Recorder, px

# The tiny pair's picture moves at step 0.5: its scores rise, then wander within the tolerance.
S = RenderSettings(models="tiny", init_image=None, size=(32, 32), iterations="auto", max_iterations=40, cutn=4,
                   augments=("flip", "affine"), step_size=0.5, checkpoint_every=6, batch_size=2,
                   auto_stop=AutoStop(every=2, window=3, tolerance=0.0005))
JOBS = (("a red robot", 5), ("a blue dog", 6))


def jobs(s=S, checkpoints=None):
    checkpoints = checkpoints or {}
    return [TokenJob(i + 1, p, seed, s, checkpoint=checkpoints.get(i + 1)) for i, (p, seed) in enumerate(JOBS)]


@pytest.fixture(scope="module")
def full(tiny_models, judge):
    rec = Recorder()
    out = render(Renderer(tiny_models), jobs(), rec.callbacks(), judge=judge)
    return {r.id: r for r in out}, rec


def test_tokens_stop_before_max_iterations_at_their_own_iteration_and_say_why(full, judge):
    res, rec = full
    stops = {i: r.iterations for i, r in res.items()}
    assert all(r.stopped.reason == CONVERGED for r in res.values())
    assert all(r.stopped.iteration == r.iterations < S.iterations for r in res.values()), stops
    assert stops[1] != stops[2]  # the batch went on without the one that stopped first
    for r in res.values():
        # one judgement every 2 iterations; the picture kept is the best judged one, its score the best; the judge named
        assert len(r.stopped.scores) == r.iterations // 2 and r.stopped.score == max(r.stopped.scores)
        assert r.stopped.kept == 2 * (r.stopped.scores.index(max(r.stopped.scores)) + 1)
        assert r.stopped.judge == judge.label
        w = S.auto_stop.window
        assert max(r.stopped.scores[-w:]) <= max(r.stopped.scores[:-w]) + S.auto_stop.tolerance
        assert max(r.stopped.scores[-w - 1 : -1]) > max(r.stopped.scores[: -w - 1]) + S.auto_stop.tolerance  # not sooner
    assert any(r.stopped.kept < r.iterations for r in res.values())  # an earlier picture was taken back
    # the token that stopped first was finished (its result out) while the other still painted
    first = min(res, key=lambda i: res[i].iterations)
    assert rec.results[0].id == first
    assert any(p.token_ids == (3 - first,) for p in rec.progress)
    # checkpoints of an auto token carry its judgements
    assert all(len(ck["scores"]) == ck["iteration"] // 2 for _, ck in rec.checkpoints if ck["iteration"] % 2)


def test_resumed_tokens_stop_at_the_same_iteration_with_the_same_pixels(tiny_models, judge, full):
    res, rec = full
    later = max(res, key=lambda i: res[i].iterations)
    # (1) a periodic checkpoint: written at iteration 6 before that iteration's judgement
    ck6 = next(ck for t, ck in rec.checkpoints if t == later and ck["iteration"] == 6)
    assert len(ck6["scores"]) == 2  # the resumed run must judge iteration 6 itself
    # (2) a stop request after 7 iterations: both tokens checkpointed mid-way between judgements
    stopped = Recorder(stop_after=7)
    with pytest.raises(Interrupted):
        render(Renderer(tiny_models), jobs(), stopped.callbacks(), judge=judge)
    ck7 = {t: ck for t, ck in stopped.checkpoints if ck["iteration"] == 7}
    assert set(ck7) == {1, 2} and all(len(ck["scores"]) == 3 for ck in ck7.values())
    for cks in ({later: ck6}, ck7):
        again = render(Renderer(tiny_models), [j for j in jobs(checkpoints=cks) if j.checkpoint], Recorder().callbacks(),
                       judge=judge)
        for r in again:
            assert r.iterations == res[r.id].iterations and r.stopped == res[r.id].stopped
            assert np.array_equal(px(r.image), px(res[r.id].image))


def test_snapshots_after_the_stop_are_skipped_and_the_video_ends_on_the_final_picture(tiny_models, judge, full):
    res, _ = full
    stop, kept = res[1].iterations, res[1].stopped.kept
    assert kept < stop
    s = RenderSettings.from_dict({**S.to_dict(), "batch_size": 1, "snapshots": [kept, stop, 30],
                                  "video": {"every": 4, "fps": 4}})
    rec = Recorder()
    r = render(Renderer(tiny_models), jobs(s)[:1], rec.callbacks(), judge=judge)[0]
    assert r.iterations == stop and np.array_equal(px(r.image), px(res[1].image))
    snaps = {i: img for _, k, i, img in rec.images if k == "snapshot"}
    assert list(snaps) == [kept, stop]  # 30 never came
    # the final picture is the best judged one, taken back (the one it stopped on scored less), and the
    # snapshot asked at the stop shows the picture the token ends with
    assert max(r.stopped.scores) > r.stopped.scores[-1]
    assert np.array_equal(snaps[kept], px(r.image)) and np.array_equal(snaps[stop], px(r.image))
    frames = [i for _, k, i, _ in rec.images if k == "frame"]
    assert frames == sorted({*range(0, stop, 4), stop})  # the last frame is the final picture
    assert np.array_equal(rec.images[-1][3], px(r.image))


def test_best_of_k_with_auto_stops_the_winner_and_resumes_exactly(tiny_models, judge):
    # window 5: the earliest stop (iteration 12) comes after the halving's (10), so the winner paints on alone
    s = RenderSettings.from_dict({**S.to_dict(), "candidates": 2, "batch_size": 1, "max_iterations": 40,
                                  "auto_stop": {"every": 2, "window": 5, "tolerance": 0.0005}})
    job = [TokenJob(7, "a red robot", 5, s)]
    rec = Recorder()
    r = render(Renderer(tiny_models), job, rec.callbacks(), judge=judge)[0]
    assert r.stopped.reason == CONVERGED and r.iterations < 40
    stops = sorted(c.stop_iteration for c in r.candidates)
    assert stops == [10, r.iterations]  # halving of 40 for K=2: both to 10, the winner on until it stopped
    winner = next(c for c in r.candidates if c.stop_iteration == r.iterations)
    assert winner.seed == r.seed and winner.score == r.stopped.score
    # the winner is a plain auto render of its seed
    plain = render(Renderer(tiny_models), [TokenJob(7, "a red robot", r.seed, replace_candidates(s, 1))], judge=judge)[0]
    assert plain.iterations == r.iterations and np.array_equal(px(plain.image), px(r.image))
    # interrupted in the winner's stage, then resumed: the same stop, the same picture
    stop = Recorder(stop_after=2 * 10 + (r.iterations - 10) // 2)  # 2 x 10 halving iterations, then the winner's
    with pytest.raises(Interrupted):
        render(Renderer(tiny_models), job, stop.callbacks(), judge=judge)
    again = render(Renderer(tiny_models), [TokenJob(7, "a red robot", 5, s, checkpoint=stop.checkpoints[-1][1])],
                   judge=judge)[0]
    assert again.iterations == r.iterations and again.stopped == r.stopped
    assert np.array_equal(px(again.image), px(r.image))


def replace_candidates(s, k):
    return RenderSettings.from_dict({**s.to_dict(), "candidates": k})


def test_a_build_records_where_and_why_each_token_stopped(make_build, tmp_path, capsys):
    from collection.render.render_step import render_build

    build = make_build(render={**{k: v for k, v in S.to_dict().items() if k not in ("models", "init_image")},
                               "batch_size": 1},
                       tokens=[{"prompt": p, "seed": seed} for p, seed in JOBS])
    plan = json.loads((build / "plan.json").read_text())
    assert plan["render"]["iterations"] == "auto" and plan["render"]["max_iterations"] == 40
    log = tmp_path / "events.jsonl"
    rep = render_build(build, progress=False, log_json=log)
    assert rep.rendered == [1, 2]
    events = {e["id"]: e for e in map(json.loads, log.read_text().splitlines()) if e["event"] == "token_stopped"}
    out = capsys.readouterr().out + capsys.readouterr().err
    for t in (1, 2):
        rec = json.loads((build / "renders" / f"{t}.json").read_text())
        a = rec["auto_stop"]
        assert a["reason"] == "converged" and a["iteration"] == rec["iterations"] < 40 and a["kept"] <= a["iteration"]
        assert len(a["scores"]) == a["iteration"] // 2 and "guide's own CLIP" in a["judge"]
        assert not (build / "checkpoints" / f"{t}.pt").exists()
        # the progress says it too: a JSON event with the record's fields, and a plain line
        assert {k: events[t][k] for k in a} == a
        keeps = "its last picture" if a["kept"] == a["iteration"] else f"the picture of iteration {a['kept']}"
        assert (f"token {t} stopped at iteration {a['iteration']} (its judge score stopped improving); keeps {keeps}"
                in out), out


def test_paint_iterations_auto(tmp_path, roboz_home):
    from collection.studio.paint import PaintRequest, paint

    req = PaintRequest(prompt="a red robot", out=tmp_path / "p", iterations="auto", max_iterations=40, models="tiny",
                       size=(32, 32), cutn=4, step_size=0.5, show_every=None,
                       extra={"augments": ("flip", "affine"), "auto_stop": AutoStop(every=2, window=3, tolerance=0.0005)})
    p, report = paint(req, show="none", progress=False)
    assert p.settings.auto and report.rendered == [1]
    rec = json.loads((p.folder / "renders" / "1.json").read_text())
    assert rec["auto_stop"]["reason"] == "converged" and rec["iterations"] < 40
    # --max-iterations alone is a mistake, said in one line
    from buildfiles.errors import UserError

    with pytest.raises(UserError, match="--max-iterations goes with --iterations auto"):
        paint(PaintRequest(prompt="a red robot", out=tmp_path / "q", max_iterations=40, models="tiny"), show="none",
              progress=False)


def test_paint_command_iterations_auto_stops_at_its_cap_and_says_so(tmp_path, roboz_home, capsys):
    from collection.cli import main

    out = tmp_path / "p"
    # the default rule's earliest stop is iteration 60: with a cap of 12 the reason is the cap
    assert main(["paint", "a red robot", "--iterations", "auto", "--max-iterations", "12", "--models", "tiny",
                 "--size", "32", "32", "--cutn", "4", "--no-progress", "--out", str(out)]) == 0
    assert "auto (at most 12) iterations" in capsys.readouterr().out
    rec = json.loads((out / "renders" / "1.json").read_text())
    assert rec["iterations"] == 12 and rec["auto_stop"]["reason"] == "max_iterations" and len(rec["auto_stop"]["scores"]) == 1
    plan = json.loads((out / "plan.json").read_text())
    assert plan["render"]["iterations"] == "auto" and plan["render"]["max_iterations"] == 12
