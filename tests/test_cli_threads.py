"""CPU threads sized to what the process may use (issue 17: no collapse when the machine is shared).
The speed itself is measured by benchmarks/sharing.py, not here."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from collection.render.threads import available_cpus, cgroup_cpu_limit, quiet_openmp, thread_count


def test_cgroup_quota_v2_and_v1(tmp_path):
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cpu.max").write_text("150000 100000\n")
    assert cgroup_cpu_limit(v2) == 1.5
    (v2 / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_limit(v2) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_limit(v1) == 0.5
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpu_limit(v1) is None
    assert cgroup_cpu_limit(tmp_path / "none") is None


def test_thread_count_is_capped_by_usable_cpus_and_never_raised():
    n = available_cpus()
    assert thread_count(None, 64) == n          # torch's default (all cores) capped
    assert thread_count(None, 1) == 1           # a lower count someone chose is kept
    assert thread_count(3, 64) == 3             # --threads wins
    env = {"OMP_WAIT_POLICY": "ACTIVE"}
    quiet_openmp(env)
    assert env == {"OMP_WAIT_POLICY": "ACTIVE"}  # the user's choice stays
    env = {}
    quiet_openmp(env)
    assert env == {"OMP_WAIT_POLICY": "PASSIVE"}


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs sched_setaffinity")
def test_a_render_pinned_to_one_cpu_uses_one_thread_and_threads_option_overrides(make_build):
    build = make_build({"iterations": 2})
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    cpu = min(os.sched_getaffinity(0))
    cmd = [sys.executable, "-m", "collection.cli", "render", str(build), "--models", "tiny", "--device", "cpu"]
    r = subprocess.run(cmd + ["--no-progress"], env=env, capture_output=True, text=True, timeout=300,
                       preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))  # like `taskset -c N`
    assert r.returncode == 0, r.stderr
    assert re.search(r"\(local executor, cpu, 1 torch thread\)", r.stdout), r.stdout
    (build / "images" / "1.png").unlink()
    r = subprocess.run(cmd + ["--no-progress", "--threads", "3"], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and "(local executor, cpu, 3 torch threads)" in r.stdout, r.stdout + r.stderr
