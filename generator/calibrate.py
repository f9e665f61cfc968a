"""Levers chosen per machine: time the variants this device supports, keep the fastest.

    native_precisions(device)   lower precisions the hardware computes natively (never emulated)
    precision_problem(p, dev)   why a precision must not run here, in one line (None when it may)
    candidates(device, ...)     the variants worth timing here, default first
    calibrate(models, jobs, …)  a few iterations per variant on the build's first settings -> Calibration

A variant keeps the arithmetic (same models, cutouts and steps) and changes only how it is computed
(generator.loop.Levers): memory layout, compiled kernels, autocast to a native half precision. The
choice changes float rounding, so the caller records it with the build and reuses it on resume;
nothing here is cached between runs, so the record is the only truth about a build's levers.

The trials cost time, so they are sized by the build: the default variant is timed first (a warm-up
iteration and `iterations` timed ones), which gives the build's expected length; every other trial
runs only while the trials stay under `budget` of that length. A variant wins on its projected
total (its one-time cost, compiling included, plus its time per iteration over the whole build), and
only by a clear `margin`: within noise the default stays, so two runs on one machine agree.
"""

from __future__ import annotations

import platform
import shutil
import statistics
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:  # torch loads only when something is timed: `validate` asks precision_problem without it
    from generator.loop import Levers, TokenJob

# x86: AVX512_BF16 (Cooper Lake, Zen 4 and later) or AMX (Sapphire Rapids); Arm: the BF16 extension.
# Without one of them oneDNN emulates bf16 in fp32 registers, measured 30x slower than fp32 here.
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16", "bf16")
COMPILE_TRIAL_S = 180.0  # what one compile trial is expected to cost before it ran (measured 176 s, 2 shared cores)
BUDGET = 0.05            # trials may take this share of the build's expected length
MARGIN = 0.05            # a variant must beat the default's projected total by this share


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags (x86 "flags", Arm "Features"); empty where the file is unreadable."""
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("flags", "Features"):
                return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def cpu_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def native_precisions(device: str, flags: frozenset[str] | None = None) -> tuple[str, ...]:
    """Half precisions this device computes natively: bf16 on a CPU with AVX512_BF16/AMX (Arm BF16);
    on CUDA fp16 from compute capability 7.0 (tensor cores, T4 included) and bf16 from 8.0 (A100, H100)."""
    if device == "cpu":
        flags = cpu_flags() if flags is None else flags
        return ("bf16",) if any(f in flags for f in NATIVE_BF16_FLAGS) else ()
    if device.startswith("cuda"):
        import torch

        major, minor = torch.cuda.get_device_capability(torch.device(device))
        return (("bf16",) if major >= 8 else ()) + (("fp16",) if (major, minor) >= (7, 0) else ())
    return ()


def precision_problem(precision: str, device: str, flags: frozenset[str] | None = None) -> str | None:
    """One line saying why `precision` must not paint on `device` (None when it may). The CPU's
    flags are read from /proc/cpuinfo, so a manifest can be checked without torch."""
    if device == "cpu" and precision == "fp16":
        return "fp16 needs a CUDA device; use precision: fp32 (each build picks its fastest levers itself)"
    if device == "cpu" and precision == "bf16" and "bf16" not in native_precisions("cpu", flags):
        return (f"bf16 needs native bf16 (AVX512_BF16 or AMX), which this CPU ({cpu_name()}) lacks: emulated, "
                "it runs about 30x slower than fp32; use precision: fp32 (each build picks its fastest levers itself)")
    return None


def can_compile(device: str) -> bool:
    """torch.compile on CPU writes C++ and needs a compiler; without one it would only fall back to eager."""
    return device.startswith("cuda") or any(shutil.which(c) for c in ("g++", "c++", "clang++"))


def candidates(device: str, precision: str = "fp32", *, native: Sequence[str] = (), compile_ok: bool = True) -> list[Levers]:
    """The variants to time, default first and compile last (its trial is the dear one). A precision
    lever only where the settings leave fp32 and the hardware does it natively."""
    from generator.loop import Levers

    out = [Levers(), Levers(channels_last=True)]
    if precision == "fp32":
        out += [Levers(precision=p) for p in native]
    if compile_ok:
        out.append(Levers(compile=True))
    return out


@dataclass(frozen=True)
class Trial:
    levers: Levers
    setup_s: float        # one-time cost: the warm-up iteration(s) beyond a steady one (compiling, allocator)
    per_iteration_s: float

    def projected(self, iterations: float) -> float:
        return self.setup_s + self.per_iteration_s * iterations

    def to_dict(self) -> dict[str, Any]:
        return {"levers": self.levers.label, "setup_s": round(self.setup_s, 3), "s_per_it": round(self.per_iteration_s, 4)}


@dataclass(frozen=True)
class Calibration:
    """What a build paints with on one device kind, and why: written once, reused on every resume."""

    levers: Levers
    device: str
    reason: str                                  # "calibrated", or why no trial ran
    trials: tuple[Trial, ...] = ()
    machine: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"levers": self.levers.to_dict(), "label": self.levers.label, "device": self.device, "reason": self.reason,
                "trials": [t.to_dict() for t in self.trials], "machine": self.machine}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Calibration":
        from generator.loop import Levers

        return cls(Levers.from_dict(d["levers"]), str(d["device"]), str(d.get("reason", "")), (), dict(d.get("machine") or {}))

    def summary(self) -> str:
        """One line for the terminal: the choice and the times it was made from."""
        times = ", ".join(f"{t.levers.label} {t.per_iteration_s:.3g} s/it" + (f" (+{t.setup_s:.0f} s once)" if t.setup_s >= 1 else "")
                          for t in self.trials)
        return f"levers on {self.device}: {self.levers.label} ({self.reason}{'; ' + times if times else ''})"


def machine(device: str) -> dict[str, Any]:
    import torch

    out: dict[str, Any] = {"torch": torch.__version__}
    if device == "cpu":
        out.update(cpu=cpu_name(), threads=torch.get_num_threads(), capability=torch.backends.cpu.get_cpu_capability())
    elif device.startswith("cuda"):
        out.update(gpu=torch.cuda.get_device_name(torch.device(device)),
                   capability=".".join(map(str, torch.cuda.get_device_capability(torch.device(device)))))
    return out


def trial_jobs(jobs: Sequence[TokenJob], iterations: int) -> list[TokenJob]:
    """The build's first batch, stripped to the painting: no outputs, no checkpoints, no best-of-K,
    a fresh start (a trial must not move any token's own state)."""
    settings = replace(jobs[0].settings, iterations=iterations, snapshots=(), video=None, zoom=None, story=(),
                       change_every=None, preview_every=None, candidates=1, judge=None, checkpoint_every=10**9)
    return [replace(j, settings=settings, checkpoint=None) for j in jobs]


def time_variant(models, jobs: Sequence[TokenJob], levers: Levers, *, iterations: int, warmup: int) -> Trial:
    """Paint `jobs` for warmup + iterations steps with `levers`; the steady time per iteration is the
    median of the timed steps, the one-time cost what the warm-up took beyond that."""
    import torch

    from generator.loop import Callbacks, Renderer

    sync = torch.cuda.synchronize if models.device.type == "cuda" else (lambda: None)
    marks: list[float] = []

    def mark(_p) -> None:
        sync()
        marks.append(time.perf_counter())

    t0 = time.perf_counter()
    Renderer(models, levers).render(trial_jobs(jobs, warmup + iterations), Callbacks(on_progress=mark))
    steps = [b - a for a, b in zip(marks[warmup - 1 :], marks[warmup:])]
    per_it = statistics.median(steps)
    return Trial(levers, max(0.0, marks[warmup - 1] - t0 - warmup * per_it), per_it)


def calibrate(models, jobs: Sequence[TokenJob], *, build_iterations: int, variants: Sequence[Levers] | None = None,
              iterations: int = 2, warmup: int = 1, budget: float = BUDGET, margin: float = MARGIN,
              log: Callable[[str], None] = lambda line: None) -> Calibration:
    """Time the variants on `jobs` (the build's first batch) and return the fastest for a build of
    `build_iterations` batch-iterations. `variants` defaults to candidates() for this device."""
    device = models.device.type if models.device.type != "cuda" else str(models.device)
    s = jobs[0].settings
    if variants is None:
        variants = candidates(device, s.precision, native=native_precisions(device), compile_ok=can_compile(device))
    trials = [time_variant(models, jobs, variants[0], iterations=iterations, warmup=warmup)]
    log(f"calibrating levers on {device}: {trials[0].levers.label} {trials[0].per_iteration_s:.3g} s/it")
    expected = trials[0].projected(build_iterations)
    spent = sum(t.setup_s + (warmup + iterations) * t.per_iteration_s for t in trials)
    for v in variants[1:]:
        cost = (warmup + iterations) * trials[0].per_iteration_s + (COMPILE_TRIAL_S if v.compile else 0.0)
        if spent + cost > budget * expected:
            log(f"  {v.label}: not tried (its trial would pass {budget:.0%} of the build's expected {expected:.0f} s)")
            continue
        t0 = time.perf_counter()
        try:
            t = time_variant(models, jobs, v, iterations=iterations, warmup=warmup)
        except Exception as e:  # a lever this setup cannot run (out of memory, an op without a half kernel): not chosen
            spent += time.perf_counter() - t0
            log(f"  {v.label}: failed ({type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}); not chosen")
            _free(models)
            continue
        spent += t.setup_s + (warmup + iterations) * t.per_iteration_s
        trials.append(t)
        log(f"  {v.label}: {t.per_iteration_s:.3g} s/it" + (f", {t.setup_s:.1f} s once" if t.setup_s >= 0.5 else ""))
    best = _combined(models, jobs, trials, build_iterations, iterations, warmup, budget * expected - spent, log)
    if best is not None:
        trials.append(best)
    winner = choose(trials, build_iterations, margin)
    return Calibration(winner.levers, device, "calibrated", tuple(trials), machine(device))


def choose(trials: Sequence[Trial], build_iterations: int, margin: float = MARGIN) -> Trial:
    """The trial with the least projected time for the build (one-time cost included); the default
    (trials[0]) unless another beats it by more than `margin`, so noise never flips a choice."""
    default = trials[0].projected(build_iterations)
    winner = min(trials, key=lambda t: t.projected(build_iterations))
    return winner if winner.projected(build_iterations) < (1 - margin) * default else trials[0]


def _combined(models, jobs, trials: list[Trial], build_iterations: int, iterations: int, warmup: int, left_s: float,
              log) -> Trial | None:
    """The levers that each beat the default, together (layout, precision and compiling mostly add up)."""
    from generator.loop import Levers

    base = trials[0].projected(build_iterations)
    good = [t.levers for t in trials[1:] if t.projected(build_iterations) < base]
    if len(good) < 2:
        return None
    precisions = [l.precision for l in good if l.precision]
    best_p = min((t for t in trials[1:] if t.levers.precision), key=lambda t: t.per_iteration_s).levers.precision if precisions else None
    both = Levers(channels_last=any(l.channels_last for l in good), compile=any(l.compile for l in good), precision=best_p)
    cost = (warmup + iterations) * trials[0].per_iteration_s + max((t.setup_s for t in trials if t.levers.compile), default=0.0)
    if cost > left_s:
        log(f"  {both.label}: not tried (over the calibration's budget)")
        return None
    try:
        t = time_variant(models, jobs, both, iterations=iterations, warmup=warmup)
    except Exception as e:
        log(f"  {both.label}: failed ({type(e).__name__}); not chosen")
        _free(models)
        return None
    log(f"  {both.label}: {t.per_iteration_s:.3g} s/it" + (f", {t.setup_s:.1f} s once" if t.setup_s >= 0.5 else ""))
    return t


def _free(models) -> None:
    """What a failed trial left on the device goes back before the next one."""
    import torch

    if models.device.type == "cuda":
        torch.cuda.empty_cache()
