"""How many CPU threads torch may use here, and setting torch up for a render device.

torch sizes its thread pool by the machine's cores, not by the CPUs this process may run on:
in a container limited by a cgroup quota, under `taskset`, or in a Ray actor given one CPU,
it starts more threads than it can run, and with several busy processes the threads of each
spin-wait for each other at every parallel region (see benchmarks/sharing.py). So the render
process counts what it may really use: its CPU affinity and its cgroup's `cpu.max` quota.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

# OpenMP threads that finish a parallel region spin for a while before sleeping (GNU: 300,000
# spins; Intel: 200 ms). When the cores are shared, a spinning thread burns the time slice another
# process needed. PASSIVE makes idle threads sleep at once. It must be in the environment before
# torch loads its OpenMP runtime, so the CLI sets it before any import of torch.
WAIT_POLICY_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}


def quiet_openmp(env: dict[str, str] | None = None) -> None:
    """Make idle OpenMP threads sleep instead of spin (unless the user chose otherwise)."""
    target = os.environ if env is None else env
    for k, v in WAIT_POLICY_ENV.items():
        target.setdefault(k, v)


def cgroup_cpu_limit(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs allowed by the cgroup quota (v2 `cpu.max`, or v1 cfs quota/period), or None when unlimited."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        if quota != "max":
            return int(quota) / int(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def available_cpus() -> int:
    """CPUs this process may run on: its affinity mask, capped by the cgroup quota (rounded up, at least 1)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    if limit is not None:
        n = min(n, max(1, math.ceil(limit)))
    return max(1, n)


def thread_count(requested: int | None, current: int) -> int:
    """--threads N when given; else torch's own count (cores, or OMP_NUM_THREADS, or what the caller set)
    capped at the CPUs this process may use. Never raised: a lower count someone chose is kept."""
    if requested:
        return requested
    return max(1, min(current, available_cpus()))


def setup_torch(device: str, threads: int | None = None) -> int:
    """Size torch's thread pool (CPU rendering) and allow TF32 (CUDA). Returns the thread count set."""
    import torch

    n = thread_count(threads, torch.get_num_threads())
    if n != torch.get_num_threads():
        torch.set_num_threads(n)
    if device.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return n
