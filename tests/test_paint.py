"""`paint` (issue 24 item 1): one prompt painted as a one-token build, on the tiny models.

End to end through the CLI; a run stopped by SIGINT (as Ctrl-C) and run again ends with the same
picture as one never stopped; in a notebook the picture is one output updated in place, captured
here through IPython's own display publisher."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from PIL import Image

from collection.cli import main

FAST = ["--models", "tiny", "--size", "32", "32", "--cutn", "4", "--no-progress"]


def test_paint_end_to_end_with_progress_picture(tmp_path, roboz_home, capsys):
    out = tmp_path / "p"
    assert main(["paint", "a red robot", "--iterations", "6", "--show-every", "2", "--snapshots", "4", "--out", str(out), *FAST]) == 0
    said = capsys.readouterr().out
    assert f"picture: {out / 'images' / '1.png'}" in said
    img = Image.open(out / "images" / "1.png")
    assert img.size == (32, 32) and img.text["prompt"] == "a red robot"
    assert json.loads(img.text["settings"])["preview_every"] == 2
    assert Image.open(out / "progress.png").size == (32, 32)           # the terminal's picture beside it
    assert (out / "snapshots" / "1" / "0004.png").is_file()
    plan = json.loads((out / "plan.json").read_text())
    assert [t["prompt"] for t in plan["tokens"]] == ["a red robot"] and plan["render"]["iterations"] == 6
    # the same command again: nothing to paint
    assert main(["paint", "a red robot", "--iterations", "6", "--show-every", "2", "--snapshots", "4", "--out", str(out), *FAST]) == 0
    assert "rendered 0, skipped 1" in capsys.readouterr().out


def test_paint_refuses_what_it_cannot_do_in_one_line(tmp_path, roboz_home, capsys):
    base = ["paint", "--out", str(tmp_path / "x"), *FAST]
    assert main([*base, "a robot", "--iterations", "6"]) == 0
    capsys.readouterr()
    cases = [
        (["a robot", "--iterations", "9"], "painted with other settings"),        # a finished picture, other settings
        (["a^b", "--iterations", "6"], "needs change_every"),
        (["a robot", "--iterations", "6", "--init", str(tmp_path / "nope.png"), "--force"], "no such file"),
        (["a robot", "--iterations", "6", "--zoom-frames", "4", "--force"], "more than the render's 6"),
        (["a robot", "--iterations", "6", "--max-iterations", "40", "--force"], "--max-iterations goes with --iterations auto"),
    ]
    for extra, message in cases:
        assert main([*base, *extra]) == 2, extra
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (extra, err)


def test_paint_resumes_after_an_interruption_to_the_same_picture(tmp_path, roboz_home, capsys):
    from collection.studio.paint import PaintRequest, plan_paint
    from collection.studio.render import render_folder

    args = ["a rusty robot^a robot in a volcano", "--change-every", "4", "--iterations", "10", "--show-every", "1",
            "--init", "jax", "--init-weight", "0.3", "--zoom-frames", "2", "--zoom-iterations", "2", "--zoom-scale", "1.2"]
    assert main(["paint", *args, "--out", str(tmp_path / "whole"), *FAST]) == 0

    stopped = tmp_path / "stopped"
    req = PaintRequest(prompt="a rusty robot^a robot in a volcano", change_every=4, iterations=10, show_every=1, init="jax",
                       init_weight=0.3, zoom={"frames": 2, "iterations": 2, "scale": 1.2, "fps": 12}, models="tiny",
                       size=(32, 32), cutn=4, out=stopped)
    plan_paint(req)

    def ctrl_c(token_id, iteration, image):
        if iteration == 8:  # inside the last zoom frame, after the story's change
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        render_folder(stopped, ctrl_c, progress=False)
    assert (stopped / "checkpoints" / "1.pt").is_file() and not (stopped / "images" / "1.png").exists()
    assert main(["paint", *args, "--out", str(stopped), *FAST]) == 0     # Ctrl-C, then the same command again
    assert (stopped / "plan.json").read_bytes() == (tmp_path / "whole" / "plan.json").read_bytes()
    assert (stopped / "images" / "1.png").read_bytes() == (tmp_path / "whole" / "images" / "1.png").read_bytes()
    assert (stopped / "animations" / "1.mp4").is_file()


def test_paint_in_a_notebook_shows_one_output_updated_in_place(tmp_path, roboz_home):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from collection.studio.paint import PaintRequest, paint
    from collection.studio.show import in_notebook

    assert not in_notebook()  # pytest is no kernel: the terminal path is the default here
    InteractiveShell.instance()
    try:
        with capture_output() as cap:
            _, report = paint(PaintRequest(prompt="a blue robot", iterations=6, show_every=3, models="tiny", size=(32, 32),
                                           cutn=4, out=tmp_path / "nb"), show="inline", progress=False)
    finally:
        InteractiveShell.clear_instance()
    assert report.rendered == [1]
    shown = [o for o in cap.outputs if "image/png" in o.data]
    assert len(shown) == 3                                  # iterations 0, 3 and 6
    ids = {o.transient["display_id"] for o in shown}
    assert len(ids) == 1                                    # one output ...
    assert [o.update for o in shown] == [False, True, True]  # ... replaced in place
    assert not (tmp_path / "nb" / "progress.png").exists()


def test_without_real_weights_paint_uses_the_demo_pair_and_says_so(tmp_path, roboz_home, capsys):
    from collection.studio.paint import choose_models

    profile = choose_models(None, None)
    assert profile.models == "demo" and profile.demo_because and profile.size == (128, 128)
    assert main(["paint", "a green robot", "--iterations", "2", "--size", "32", "32", "--out", str(tmp_path / "d"),
                 "--no-progress"]) == 0
    said = capsys.readouterr().out
    assert "DEMO MODELS, NOT THE REAL WEIGHTS" in said
    assert Image.open(tmp_path / "d" / "images" / "1.png").text.get("roboz:test-models")
