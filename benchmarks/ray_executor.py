"""Tokens per minute of the Ray executor against the local one, on the tiny models, in one run.

    .venv/bin/python benchmarks/ray_executor.py                       # 8 tokens, 30 iterations, 64 px
    .venv/bin/python benchmarks/ray_executor.py --tokens 24 --iterations 100
    ROBOZ_RAY_CPUS_PER_WORKER=2 .venv/bin/python benchmarks/ray_executor.py   # one 2-thread worker

Four timings of the same plan, each into a fresh build directory:
  local          render_build(executor="local"): one process, torch on every core (its default)
  local 1 thr    the same with torch.set_num_threads(1): shows what thread contention costs
  ray (cold)     executor="ray" starting its own local Ray: cluster start + actors + models + render
  ray (warm)     the same with a Ray cluster already up: actors + models + render
Tiny models are generated once before any timing. On one machine Ray can at best match the
local executor (both use every core); the numbers show what it costs, the cluster is where it pays.
On a loaded machine (load average above the core count) multi-threaded torch slows down far
more than one-thread-per-process workers do: read `uptime` beside the figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def write_plan(build: Path, render: dict, n: int) -> Path:
    from buildfiles import atomicio
    from buildfiles.plan import PlannedToken, iter_plan_json
    from generator.settings import RenderSettings

    tokens = [PlannedToken(id=i + 1, name=f"Roboz #{i + 1}", special=None, traits={"body": "rust"},
                           prompt=f"a rusty robot number {i}:1 | blur:-0.5", seed=1000 + i, render={}) for i in range(n)]
    header = {
        "manifest_sha256": "0" * 64,
        "collection": {"name": "Bench", "symbol": "BEN", "description": "", "external_url": None, "image": None,
                       "name_template": "Roboz #{id}", "seed": 1, "start_id": 1, "supply": n, "shuffle": False,
                       "royalties": None},
        "render": RenderSettings.from_dict(render).to_dict(),
        "inputs": {},
    }
    atomicio.write_text(build / "plan.json", "".join(iter_plan_json(header, tokens)))
    return build


def timed(label: str, build: Path, n: int, threads: int | None = None, **kw) -> float:
    import torch

    from collection.render.render_step import render_build

    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    t0 = time.perf_counter()
    try:
        rep = render_build(build, progress=False, **kw)
    finally:
        torch.set_num_threads(before)
    s = time.perf_counter() - t0
    assert sorted(rep.rendered) == list(range(1, n + 1)) and not rep.failed, rep
    workers = f"{rep.workers} workers x 1 thread" if kw.get("executor") == "ray" else f"{threads or before} torch threads"
    print(f"{label:<12} {s:8.1f} s  {n / s * 60:8.1f} tokens/min   ({workers})", flush=True)
    return s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=8)
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=1)
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="roboz-ray-bench-"))
    os.environ.setdefault("ROBOZ_HOME", str(root / "home"))  # before Ray starts: its workers inherit it
    from generator.models import load_models

    load_models("tiny", "cpu")  # generate the tiny pair outside every timing

    render = dict(models="tiny", init_image=None, size=[args.size, args.size], iterations=args.iterations, cutn=16,
                  checkpoint_every=10, batch_size=args.batch_size, augments=["flip", "affine"])
    n = args.tokens
    print(f"{n} tokens x {args.iterations} iterations, {args.size} px, batch {args.batch_size}, tiny models, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}", flush=True)
    local = timed("local", write_plan(root / "local", render, n), n)
    local1 = timed("local 1 thr", write_plan(root / "local-1", render, n), n, threads=1)
    cold = timed("ray (cold)", write_plan(root / "ray-cold", render, n), n, executor="ray")

    import ray

    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    try:
        warm = timed("ray (warm)", write_plan(root / "ray-warm", render, n), n, executor="ray")
    finally:
        ray.shutdown()
    print(f"ratio ray/local tokens per minute: cold {local / cold:.2f}, warm {local / warm:.2f} "
          f"(against local 1 thread: cold {local1 / cold:.2f}, warm {local1 / warm:.2f}); "
          f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
