"""The Ray executor on a local 2-CPU Ray cluster with the tiny models: same files as the local
executor, a killed worker or driver loses nothing, and the local executor never imports ray.

Byte-identical outputs need the same torch thread count on both sides: CPU convolutions split
their sums by thread, so a 2-thread local run and a 1-thread Ray worker can round one pixel of an
8-bit frame differently. Each Ray worker here has 1 CPU and so 1 thread; the local reference
runs with torch.set_num_threads(1).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from buildfiles.errors import UserError
from collection.render.render_step import render_build
from buildfiles.state import DONE, RenderState

TOKENS = [{"prompt": f"a robot number {i}:1 | blur:-0.5", "seed": 100 + i} for i in range(6)]
SAME = {"iterations": 12, "checkpoint_every": 4, "batch_size": 2, "snapshots": [4], "video": {"every": 4, "fps": 4}}
LONG = {"iterations": 24, "checkpoint_every": 8, "batch_size": 2, "cutn": 8}
OUTPUT_DIRS = ("images", "snapshots", "frames", "animations")


@pytest.fixture(scope="module")
def ray_cluster(roboz_home, tiny_models):
    """A private local Ray for this module; ROBOZ_HOME is set (and the tiny models made) before workers start."""
    ray = pytest.importorskip("ray")
    from collection.render.ray_executor import RayOptions, connect

    started = connect(ray, None, RayOptions(num_cpus=2))  # the same start-up the CLI uses
    assert started and ray.cluster_resources()["CPU"] == 2
    # the private Ray must not phone home (Ray's usage statistics), as the CLI's does not
    assert os.environ["RAY_USAGE_STATS_ENABLED"] == "0"
    yield ray
    ray.shutdown()


def local_reference(build: Path) -> None:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert sorted(render_build(build, progress=False).rendered) == list(range(1, 7))
    finally:
        torch.set_num_threads(threads)


def local_reference_n(build: Path, n: int) -> None:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert sorted(render_build(build, progress=False).rendered) == list(range(1, n + 1))
    finally:
        torch.set_num_threads(threads)


def outputs(build: Path) -> dict[str, bytes]:
    return {str(p.relative_to(build)): p.read_bytes() for d in OUTPUT_DIRS for p in sorted((build / d).rglob("*")) if p.is_file()}


def rows(build: Path) -> list[tuple]:
    with RenderState(build / "state.sqlite") as st:
        return [(r.id, r.status, r.fingerprint, r.iteration, r.checkpoint, r.error) for r in st.all()]


@pytest.fixture(scope="module")
def long_reference(tmp_path_factory, roboz_home, tiny_models):
    from tests.fixtures_generator import FAST, write_plan

    build = write_plan(tmp_path_factory.mktemp("ray-ref") / "ref", {**FAST, **LONG}, TOKENS)
    local_reference(build)
    return build


# ---- without a cluster --------------------------------------------------------------------

def test_local_executor_never_imports_ray(make_build):
    build = make_build()
    code = ("import sys; from collection.cli import main; "
            f"rc = main(['render', {str(build)!r}, '--no-progress']); "
            "print('RC', rc, 'RAY', 'ray' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "RC 0 RAY False" in r.stdout, r.stdout + r.stderr
    assert (build / "images" / "2.png").exists()


def test_ray_requested_but_not_installed_says_how_to_install(make_build, monkeypatch, capsys):
    build = make_build()
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` raise ImportError, as when it is not installed
    with pytest.raises(UserError) as e:
        render_build(build, executor="ray", progress=False)
    assert "pip install 'roboz-collection[ray]'" in e.value.hint
    from collection.cli import main

    assert main(["render", str(build), "--executor", "ray", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "error: --executor ray needs Ray" in err and "hint: pip install" in err and "Traceback" not in err
    assert not (build / "images").exists()


def test_unknown_executor_is_refused(make_build):
    with pytest.raises(UserError, match="unknown executor 'dask'"):
        render_build(make_build(), executor="dask", progress=False)


def test_options_devices_workers_and_segments():
    from collection.render.ray_executor import RayOptions, cluster_device, segment_end, worker_count
    from generator.settings import RenderSettings

    o = RayOptions.from_env({"ROBOZ_RAY_GPUS_PER_WORKER": "0.5", "ROBOZ_RAY_WORKERS": "", "ROBOZ_RAY_MAX_RESTARTS": "2"})
    assert (o.gpus_per_worker, o.workers, o.max_restarts) == (0.5, None, 2)
    with pytest.raises(UserError, match="ROBOZ_RAY_WORKERS='two' is not a number"):
        RayOptions.from_env({"ROBOZ_RAY_WORKERS": "two"})
    assert cluster_device(None, {"CPU": 8, "GPU": 2}) == "cuda" and cluster_device("auto", {"CPU": 8}) == "cpu"
    assert cluster_device("cuda:1", {"GPU": 4}) == "cuda" and cluster_device("cpu", {"GPU": 4}) == "cpu"
    with pytest.raises(UserError, match="has no GPUs"):
        cluster_device("cuda", {"CPU": 8})
    assert worker_count(o, "cuda", {"CPU": 16, "GPU": 4}, batches=100) == 8     # two per GPU
    assert worker_count(o, "cuda", {"CPU": 16, "GPU": 4}, batches=3) == 3       # never idle workers
    assert worker_count(RayOptions(cpus_per_worker=2), "cpu", {"CPU": 16}, batches=100) == 8
    s = RenderSettings(iterations=500, checkpoint_every=50)
    assert [segment_end(i, s) for i in (0, 49, 50, 450, 499)] == [50, 50, 100, 500, 500]
    assert segment_end(0, RenderSettings(iterations=30, checkpoint_every=50)) == 30


# ---- on a local Ray cluster -----------------------------------------------------------------

def test_ray_build_equals_local_build_file_for_file(make_build, ray_cluster):
    ref = make_build(SAME, TOKENS, name="local")
    local_reference(ref)
    build = make_build(SAME, TOKENS, name="ray")
    rep = render_build(build, executor="ray", progress=False)
    assert sorted(rep.rendered) == list(range(1, 7)) and rep.failed == [] and rep.skipped == []

    # same files, same bytes: images with their PNG text, snapshots, progress frames, mp4s
    want, got = outputs(ref), outputs(build)
    assert sorted(got) == sorted(want) and len(want) == 6 * (1 + 1 + 4 + 1)
    assert [k for k in want if want[k] != got[k]] == []
    # same render facts but the timing, same state rows, no checkpoints left
    import json

    for tid in range(1, 7):
        a, b = (json.loads((d / "renders" / f"{tid}.json").read_text()) for d in (ref, build))
        a.pop("seconds"), b.pop("seconds")
        assert a == b
    assert rows(build) == rows(ref) and {r[1] for r in rows(build)} == {DONE}
    assert list((build / "checkpoints").glob("*.pt")) == []

    # three batches of two, each in segments of checkpoint_every, spread over both workers
    by_batch: dict[tuple, list] = {}
    for ids, start, end, pid, _host in rep.segments:
        by_batch.setdefault(ids, []).append((start, end))
    assert sorted(by_batch) == [(1, 2), (3, 4), (5, 6)]
    assert all(s == [(0, 4), (4, 8), (8, 12)] for s in by_batch.values())
    assert rep.workers == 2 and len({s[3] for s in rep.segments}) == 2

    again = render_build(build, executor="ray", progress=False)
    assert again.rendered == [] and again.skipped == list(range(1, 7)) and again.segments == []


def test_killed_worker_restarts_from_its_last_checkpoint(make_build, ray_cluster, long_reference):
    """SIGKILL a worker mid-segment, after its batch returned a checkpoint: Ray restarts the actor and
    re-runs that segment from the checkpoint; the collection completes, equal to an uninterrupted run."""
    from collection.render.ray_executor import running_workers

    build = make_build(LONG, TOKENS, name="worker-killed")
    killed: dict = {}

    def killer():
        t0 = time.time()
        while time.time() - t0 < 120:
            for w in running_workers(ray_cluster):
                # past a returned checkpoint (start > 0) and well inside the segment, so it cannot finish first
                if w.get("start", 0) > 0 and w["start"] < w["iteration"] < w["end"] - 2:
                    os.kill(w["pid"], signal.SIGKILL)
                    killed.update(w)
                    return
            time.sleep(0.02)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    rep = render_build(build, executor="ray", progress=False)
    t.join(timeout=5)
    assert killed, "no worker was caught mid-segment"

    assert sorted(rep.rendered) == list(range(1, 7)) and rep.failed == []
    assert {r[1] for r in rows(build)} == {DONE} and list((build / "checkpoints").glob("*.pt")) == []
    # the killed segment came back once, from another process (the restarted actor), starting at the
    # checkpoint, not at 0; no segment of any batch was received twice, so nothing was painted twice
    ids, start = tuple(killed["ids"]), killed["start"]
    redone = [s for s in rep.segments if (s[0], s[1]) == (ids, start)]
    assert len(redone) == 1 and redone[0][3] != killed["pid"] and start > 0
    keys = [(s[0], s[1]) for s in rep.segments]
    assert len(keys) == len(set(keys)) == 3 * 3
    assert outputs(build) == outputs(long_reference)


def test_killed_driver_resumes_on_the_next_run(make_build, ray_cluster, long_reference):
    """SIGKILL the `render --executor ray` process once a checkpoint is on disk; its actors die with it.
    The next run skips finished tokens, resumes the others from their checkpoints, and matches."""
    address = ray_cluster.get_runtime_context().gcs_address
    build = make_build(LONG, TOKENS, name="driver-killed")
    cli = [sys.executable, "-m", "collection.cli", "render", str(build), "--executor", "ray", "--ray-address", address,
           "--no-progress"]
    proc = subprocess.Popen(cli, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    while not list(build.glob("checkpoints/*.pt")):
        assert proc.poll() is None, proc.communicate()
        assert time.time() - t0 < 120
        time.sleep(0.05)
    proc.kill()
    proc.communicate(timeout=30)

    import torch

    # the checkpoint file is the resume truth (the kill may fall between it and its state row)
    assert any(torch.load(p, weights_only=True)["iteration"] > 0 for p in build.glob("checkpoints/*.pt"))
    before = {r[0]: r for r in rows(build)}
    assert len(before) == 6 and not all(r[1] == DONE for r in before.values())
    done_before = sorted(i for i, r in before.items() if r[1] == DONE)

    r = subprocess.run(cli, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert f"rendered {6 - len(done_before)}, skipped {len(done_before)} (already done), failed 0" in r.stdout
    assert {row[1] for row in rows(build)} == {DONE}
    assert outputs(build) == outputs(long_reference)


def test_missing_weights_on_the_workers_is_one_user_error(make_build, ray_cluster, tmp_path):
    build = make_build({"models": "vqgan_imagenet_f16_16384+ViT-B/32"})
    with pytest.raises(UserError) as e:
        render_build(build, executor="ray", models_dir=tmp_path / "empty", progress=False)
    assert "model weights for vqgan_imagenet_f16_16384+ViT-B/32 are missing" in e.value.message
    assert e.value.message.startswith("on ")  # names the node
    assert "roboz-collection models fetch" in e.value.hint
    assert not (build / "images").exists()


def test_best_of_k_on_ray_equals_local(make_build, ray_cluster):
    """Best-of-K in segments on Ray (each ends once every token handed over a checkpoint) picks the
    same candidates and paints the same winners as the local executor."""
    import json

    render = {"iterations": 16, "checkpoint_every": 4, "batch_size": 1, "candidates": 4, "snapshots": [4, 16]}
    ref = make_build(render, TOKENS[:2], name="local-k")
    local_reference_n(ref, 2)
    build = make_build(render, TOKENS[:2], name="ray-k")
    rep = render_build(build, executor="ray", progress=False)
    assert sorted(rep.rendered) == [1, 2] and rep.failed == []
    assert len(rep.segments) > 2  # more than one segment per token: resumed from the candidates' checkpoints
    want, got = outputs(ref), outputs(build)
    assert sorted(got) == sorted(want) and [k for k in want if want[k] != got[k]] == []
    for tid in (1, 2):
        a, b = (json.loads((d / "renders" / f"{tid}.json").read_text()) for d in (ref, build))
        assert (a["seed"], a["candidates"]) == (b["seed"], b["candidates"])
