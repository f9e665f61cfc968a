"""The render step on a plan.json: outputs, labels, skip-when-done, and surviving SIGKILL/SIGTERM."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from collection.render.render_step import render_build
from buildfiles.state import DONE, RenderState


def pixels(path):
    return np.asarray(Image.open(path).convert("RGB")).astype(np.int16)


def test_render_build_writes_every_output_and_skips_done_tokens(make_build):
    build = make_build({"snapshots": [4], "video": {"every": 2, "fps": 4}, "batch_size": 2, "init_image": "inputs/jax.png",
                        "init_weight": 0.1}, with_jax=True)
    rep = render_build(build, progress=False)
    assert sorted(rep.rendered) == [1, 2] and rep.failed == [] and rep.skipped == []
    for tid in (1, 2):
        img = Image.open(build / "images" / f"{tid}.png")
        assert img.size == (32, 32)
        assert img.text["roboz:test-model"] == "true" and img.text["models"] == "tiny"
        assert json.loads(img.text["settings"])["iterations"] == 8
        facts = json.loads((build / "renders" / f"{tid}.json").read_text())
        assert facts["tiny"] is True and facts["iterations"] == 8 and facts["size"] == [32, 32]
        assert (build / "snapshots" / str(tid) / "0004.png").exists()
        assert sorted(p.name for p in (build / "frames" / str(tid)).iterdir()) == ["00000.png", "00002.png", "00004.png", "00006.png", "00008.png"]
        mp4 = (build / "animations" / f"{tid}.mp4").read_bytes()
        assert mp4[4:8] == b"ftyp" and b"avc1" in mp4  # H.264 in an MP4 container
        assert facts["animation_sha256"] == __import__("hashlib").sha256(mp4).hexdigest()  # publish checks the video against it
        assert not (build / "checkpoints" / f"{tid}.pt").exists()
    assert img.text["prompt"] == "a robot dog" and img.text["seed"] == "22"
    with RenderState(build / "state.sqlite") as st:
        assert [r.status for r in st.all()] == [DONE, DONE]
    again = render_build(build, progress=False)
    assert again.rendered == [] and again.skipped == [1, 2]


def test_models_override_special_override_and_missing_weights_message(make_build, tmp_path):
    tokens = [{"prompt": "a robot", "seed": 1}, {"prompt": "the golden one", "seed": 2, "render": {"iterations": 4, "cutn": 2}}]
    build = make_build({"models": "vqgan_imagenet_f16_16384+ViT-B/32"}, tokens)
    env = {**os.environ}
    r = subprocess.run([sys.executable, "-m", "collection.cli", "render", str(build), "--no-progress",
                        "--models-dir", str(tmp_path / "empty")], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "error: model weights for vqgan_imagenet_f16_16384+ViT-B/32 are missing" in r.stderr
    assert str(tmp_path / "empty" / "vqgan" / "vqgan_imagenet_f16_16384.ckpt") in r.stderr
    assert f"roboz-collection models fetch vqgan_imagenet_f16_16384+ViT-B/32 --models-dir {tmp_path / 'empty'}" in r.stderr
    # the same plan renders with --models tiny
    rep = render_build(build, models="tiny", progress=False)
    assert sorted(rep.rendered) == [1, 2]
    facts = [json.loads((build / "renders" / f"{i}.json").read_text()) for i in (1, 2)]
    assert [f["iterations"] for f in facts] == [8, 4] and facts[1]["settings"]["cutn"] == 2  # the special's overrides
    assert all(f["models"] == "tiny" and f["tiny"] for f in facts)


def _cli(build, *extra):
    return [sys.executable, "-m", "collection.cli", "render", str(build), "--models", "tiny", "--device", "cpu", "--no-progress", *extra]


def _wait_for(path: Path, proc, timeout=120):
    t0 = time.time()
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < timeout
        time.sleep(0.05)


# Long enough after the first checkpoint (iteration 4) that the kill always lands mid-render.
KILL_RENDER = {"iterations": 60, "checkpoint_every": 4, "video": {"every": 4, "fps": 4}, "cutn": 4,
               "augments": ["flip", "affine", "noise"]}
KILL_TOKENS = [{"prompt": "a rusty robot:1 | blur:-0.5", "seed": 11}]
# CPU sums are split by thread, so a picture is "the same" only at the same thread count: the
# reference states its count instead of inheriting whatever an earlier test left torch set to
# (the demo trainer's --threads 1 made this reference a 1-thread render and frame 32 differ).
KILL_THREADS = 2


def _reference(tmp_path_factory, threads):
    from tests.fixtures_generator import FAST, write_plan

    ref = write_plan(tmp_path_factory.mktemp(f"ref{threads}"), {**FAST, **KILL_RENDER}, KILL_TOKENS)
    assert render_build(ref, progress=False, threads=threads).rendered == [1]
    assert json.loads((ref / "renders" / "1.json").read_text())["threads"] == threads
    return ref


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, roboz_home):
    return _reference(tmp_path_factory, KILL_THREADS)


@pytest.fixture(scope="module")
def uninterrupted_1(tmp_path_factory, roboz_home):
    return _reference(tmp_path_factory, 1)


def _same_pictures(build, ref):
    assert np.array_equal(pixels(build / "images" / "1.png"), pixels(ref / "images" / "1.png"))
    assert sorted(p.name for p in (build / "frames" / "1").iterdir()) == sorted(p.name for p in (ref / "frames" / "1").iterdir())
    for f in (ref / "frames" / "1").iterdir():
        assert np.array_equal(pixels(f), pixels(build / "frames" / "1" / f.name)), f.name


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_render_resumes_to_the_same_image(make_build, uninterrupted, sig):
    """Kill mid-render, re-run, compare with an uninterrupted run of the same plan.

    The checkpoint holds z, the optimiser state, the iteration and both generators' states,
    and the loop draws randomness only from those generators, so the resumed run repeats the
    uninterrupted one bit for bit on CPU (same batch composition: one token).
    """
    ref = uninterrupted
    build = make_build(KILL_RENDER, KILL_TOKENS, name="killed")
    proc = subprocess.Popen(_cli(build, "--threads", str(KILL_THREADS)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(build / "checkpoints" / "1.pt", proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    if sig == signal.SIGTERM:
        assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert not (build / "images" / "1.png").exists(), "killed too late: the render had finished"
    import torch

    ck = torch.load(build / "checkpoints" / "1.pt", weights_only=True)
    assert 0 < ck["iteration"] < 60 and ck["threads"] == KILL_THREADS
    with RenderState(build / "state.sqlite") as st:
        assert st.get(1).status == "rendering"
    r = subprocess.run(_cli(build, "--threads", str(KILL_THREADS)), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    # progress frames from before the kill survived; the video covers the whole run
    _same_pictures(build, ref)
    assert (build / "animations" / "1.mp4").stat().st_size > 0


def test_a_resumed_render_paints_with_the_thread_count_it_started_with(make_build, uninterrupted_1, uninterrupted):
    """The same token painted with 1 and with 2 threads: each record says its count; a 1-thread render
    killed and resumed by a process set up for 2 threads finishes with 1, frames equal to the 1-thread run's."""
    assert json.loads((uninterrupted / "renders" / "1.json").read_text())["threads"] == 2
    build = make_build(KILL_RENDER, KILL_TOKENS, name="killed1")
    proc = subprocess.Popen(_cli(build, "--threads", "1"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(build / "checkpoints" / "1.pt", proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not (build / "images" / "1.png").exists(), "killed too late: the render had finished"
    import torch

    assert torch.load(build / "checkpoints" / "1.pt", weights_only=True)["threads"] == 1
    r = subprocess.run(_cli(build, "--threads", "2"), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads((build / "renders" / "1.json").read_text())["threads"] == 1
    _same_pictures(build, uninterrupted_1)


def test_out_of_memory_stops_with_the_settings_to_lower(make_build, monkeypatch):
    """An accelerator's out-of-memory error (raised here by the loop on its first batch, since no GPU
    runs in CI) stops the render with one line naming the configuration and what to lower."""
    import torch

    from buildfiles.errors import UserError
    from generator.loop import Renderer

    def oom(self, jobs, cb):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(Renderer, "render_batch", oom)
    build = make_build({"batch_size": 2, "cutn": 4})
    with pytest.raises(UserError) as e:
        render_build(build, progress=False)
    msg = e.value.message
    assert msg.startswith("out of memory on cpu: 32x32, cutn 4, batch 2") and "set batch_size: 1" in msg
    assert "lower the settings" in e.value.hint
