"""A build's levers: calibrated once on its first run, recorded in levers.json, reused on every later
run, so an interrupted build resumes to the same pictures bit for bit."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from collection.render.levers import FORMAT, LEVERS_FILE
from collection.render.render_step import render_build

# Long enough after the first checkpoint (iteration 4) that the kill lands mid-render.
KILL_RENDER = {"iterations": 60, "checkpoint_every": 4, "video": {"every": 4, "fps": 4}, "cutn": 4, "augments": ["flip", "affine", "noise"]}
KILL_TOKENS = [{"prompt": "a rusty robot:1 | blur:-0.5", "seed": 11}]
THREADS = "2"  # CPU pixels depend on the thread count: both runs state it


def pixels(path: Path):
    return np.asarray(Image.open(path).convert("RGB")).astype(np.int16)


def preset(build: Path, levers: dict) -> bytes:
    """levers.json as a first run on another day would have left it: a choice that is not the default."""
    cal = {"levers": levers, "label": "channels_last", "device": "cpu", "reason": "calibrated", "trials": [], "machine": {}}
    (build / LEVERS_FILE).write_text(json.dumps({"format": FORMAT, "devices": {"cpu": cal}}))
    return (build / LEVERS_FILE).read_bytes()


def _cli(build: Path) -> list[str]:
    return [sys.executable, "-m", "collection.cli", "render", str(build), "--device", "cpu", "--no-progress", "--threads", THREADS]


def test_first_run_records_the_choice_and_later_runs_reuse_it(make_build, capsys):
    build = make_build({"iterations": 6})
    assert render_build(build, progress=False, levers="always", only={1}).rendered == [1]
    out = capsys.readouterr().out
    assert "calibrating levers on cpu: fp32" in out and "levers on cpu:" in out
    raw = (build / LEVERS_FILE).read_bytes()
    rec = json.loads(raw)["devices"]["cpu"]
    assert rec["reason"] == "calibrated" and rec["trials"][0]["levers"] == "fp32" and rec["trials"][0]["s_per_it"] > 0
    assert render_build(build, progress=False, levers="always").rendered == [2]
    out = capsys.readouterr().out
    assert "calibrating" not in out and f"levers on cpu: {rec['label']} (recorded by this build's first run" in out
    assert (build / LEVERS_FILE).read_bytes() == raw  # nothing timed, nothing rewritten


def test_a_test_pair_build_is_not_calibrated_unless_asked(make_build, capsys):
    build = make_build({"iterations": 4})
    assert sorted(render_build(build, progress=False).rendered) == [1, 2]
    assert not (build / LEVERS_FILE).exists() and "levers" not in capsys.readouterr().out
    assert "levers" not in json.loads((build / "renders" / "1.json").read_text())


def test_an_interrupted_build_resumes_with_its_recorded_levers_to_the_same_pictures(make_build):
    ref = make_build(KILL_RENDER, KILL_TOKENS, name="ref")
    preset(ref, {"channels_last": True, "compile": False, "precision": None})
    r = subprocess.run(_cli(ref), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "levers on cpu: channels_last (recorded" in r.stdout
    assert json.loads((ref / "renders" / "1.json").read_text())["levers"] == "channels_last"

    build = make_build(KILL_RENDER, KILL_TOKENS, name="killed")
    raw = preset(build, {"channels_last": True, "compile": False, "precision": None})
    proc = subprocess.Popen(_cli(build), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while not (build / "checkpoints" / "1.pt").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < 120
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not (build / "images" / "1.png").exists(), "killed too late: the render had finished"
    r = subprocess.run(_cli(build), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "levers on cpu: channels_last (recorded" in r.stdout and "calibrating" not in r.stdout
    assert (build / LEVERS_FILE).read_bytes() == raw
    assert json.loads((build / "renders" / "1.json").read_text())["levers"] == "channels_last"
    assert np.array_equal(pixels(build / "images" / "1.png"), pixels(ref / "images" / "1.png"))
    frames = sorted(p.name for p in (ref / "frames" / "1").iterdir())
    assert frames == sorted(p.name for p in (build / "frames" / "1").iterdir())
    for name in frames:  # frames from before the kill and after the resume alike
        assert np.array_equal(pixels(build / "frames" / "1" / name), pixels(ref / "frames" / "1" / name)), name
