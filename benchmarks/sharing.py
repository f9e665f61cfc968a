"""Two builds side by side on a shared CPU: does each still get a fair share of a lone build's speed?

    .venv/bin/python benchmarks/sharing.py                   # 1 render alone, then 2 side by side; as shipped and as before
    .venv/bin/python benchmarks/sharing.py --procs 3 --iterations 60

Each render is a real `roboz-collection render` process (tiny models, one token), so it takes the
tool's own thread set-up: torch threads sized to the CPUs the process may use (affinity, cgroup
quota) and idle OpenMP threads that sleep (OMP_WAIT_POLICY=PASSIVE, set by the CLI before torch
loads). "before" runs the same command with GOMP_SPINCOUNT=300000, libgomp's spin count when no
wait policy is set, i.e. what the tool did before. Speed is the token's iterations / its render
seconds (from --log-json), so process start-up and model loading are not counted.
Side-by-side renders start together; a run counts only while all of them are rendering, so use
enough iterations that start-up skew is small.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def make_plan(build: Path, iterations: int, size: int) -> None:
    from buildfiles import atomicio
    from buildfiles.plan import PlannedToken, iter_plan_json
    from generator.settings import RenderSettings

    render = RenderSettings.from_dict(dict(models="tiny", init_image=None, size=[size, size], iterations=iterations, cutn=16,
                                           checkpoint_every=iterations, augments=["flip", "affine"])).to_dict()
    header = {"manifest_sha256": "0" * 64, "inputs": {}, "render": render,
              "collection": {"name": "Sharing", "symbol": "SHR", "description": "", "external_url": None, "image": None,
                             "name_template": "Roboz #{id}", "seed": 1, "start_id": 1, "supply": 1, "shuffle": False,
                             "royalties": None}}
    token = PlannedToken(1, "Roboz #1", None, {}, "a rusty robot:1 | blur:-0.5", 11, {})
    atomicio.write_text(build / "plan.json", "".join(iter_plan_json(header, [token])))


def run_side_by_side(root: Path, n: int, iterations: int, size: int, env: dict[str, str], tag: str) -> list[float]:
    """n renders started together; returns each one's iterations per second."""
    procs, logs = [], []
    for i in range(n):
        build = root / f"{tag}-{n}-{i}"
        build.mkdir(parents=True)
        make_plan(build, iterations, size)
        log = build / "events.jsonl"
        logs.append(log)
        procs.append(subprocess.Popen([sys.executable, "-m", "collection.cli", "render", str(build), "--models", "tiny",
                                       "--device", "cpu", "--no-progress", "--log-json", str(log)],
                                      env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate(timeout=1800)
        if p.returncode:
            raise SystemExit(f"render failed: {err[-2000:]}")
    speeds = []
    for log in logs:
        done = [json.loads(line) for line in log.read_text().splitlines() if '"token_finished"' in line][0]
        speeds.append(done["iterations"] / done["seconds"])
    return speeds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--procs", type=int, default=2, help="renders side by side (default 2)")
    ap.add_argument("--iterations", type=int, default=80)
    ap.add_argument("--size", type=int, default=64)
    a = ap.parse_args()
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY",
                                                             "GOMP_SPINCOUNT")}
    base["PYTHONPATH"] = str(REPO) + os.pathsep + base.get("PYTHONPATH", "")
    modes = {"before (spinning)": {**base, "GOMP_SPINCOUNT": "300000"}, "as shipped": base}
    from collection.render.threads import available_cpus

    print(f"{os.cpu_count()} cores, {available_cpus()} usable by this process; tiny models, {a.size}px, cutn 16, "
          f"{a.iterations} iterations; load average before: {os.getloadavg()[0]:.1f}", flush=True)
    print(f"{'mode':<20} {'alone it/s':>10} {f'{a.procs} side by side it/s':>26} {'share of alone':>16}")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("ROBOZ_HOME", str(Path(tmp) / "home"))
        for env in modes.values():
            env.setdefault("ROBOZ_HOME", os.environ["ROBOZ_HOME"])
        for name, env in modes.items():
            tag = name.split()[0].strip("()")
            alone = run_side_by_side(Path(tmp), 1, a.iterations, a.size, env, tag)[0]
            shared = run_side_by_side(Path(tmp), a.procs, a.iterations, a.size, env, tag)
            shares = ", ".join(f"{s / alone:.0%}" for s in shared)
            print(f"{name:<20} {alone:>10.2f} {', '.join(f'{s:.2f}' for s in shared):>26} {shares:>16}  "
                  f"(min {min(shared) / alone:.0%}, median {statistics.median(shared) / alone:.0%})", flush=True)


if __name__ == "__main__":
    main()
