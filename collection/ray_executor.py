"""Rendering on Ray: the local executor's tokens, files and state rows, painted by Ray actors.

    driver (this process)                               Ray actors, one per GPU (or CPU slice)
    select_tokens, load_jobs      (render_step)         RenderWorker: models loaded once
    batch + latest checkpoints  ──── segment ────▶      render_batch up to the next checkpoint
    BuildWriter: atomic files,  ◀─── Segment ─────      images, checkpoints, results (plain data)
    state.sqlite rows

Work is cut into segments of `checkpoint_every` iterations. A segment call carries its batch's
latest checkpoints and returns the next ones, so each call is a pure function of its arguments
and faults become Ray's job: a killed worker is restarted (max_restarts) and the call re-run
(max_task_retries) with the same arguments, i.e. from the last checkpoint the driver received.
The driver writes every checkpoint and state row exactly as the local executor does, so a
killed driver resumes on the next run, with either executor. Workers never touch the build
directory: they need the package and the weights, not a shared disk.

Why segments rather than one streaming call per batch: Ray Client (ray://HOST:10001) cannot
stream from actor methods, and a retried segment needs no bookkeeping on the driver.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from buildfiles.errors import UserError
from buildfiles.plan import load_plan
from collection.reroll import effective_plan
from collection.render_step import BuildWriter, LiveDisplay, RenderReport, load_jobs, select_tokens, stop_on_signals

INSTALL_HINT = "pip install 'roboz-collection[ray]'   (or: pip install 'ray[client]>=2.9')"
ACTOR_PREFIX = "roboz-render"
ENV_PREFIX = "ROBOZ_RAY_"


def import_ray():
    """`ray`, or a UserError saying how to install it (ray is an optional extra)."""
    try:
        import ray
    except ImportError:
        raise UserError("--executor ray needs Ray, which is not installed here", hint=INSTALL_HINT, exit_code=2) from None
    return ray


# ---- configuration ---------------------------------------------------------------------------

@dataclass(frozen=True)
class RayOptions:
    """How tokens map onto the cluster. ROBOZ_RAY_<FIELD> environment variables override the defaults."""

    workers: int | None = None      # actors; default: as many as the cluster's GPUs (or CPUs) hold
    gpus_per_worker: float = 1.0    # 0.5 puts two workers on each GPU; ignored on CPU (0)
    cpus_per_worker: float = 1.0    # on CPU also the worker's torch threads
    max_restarts: int = 4           # a killed worker comes back this many times ...
    max_task_retries: int = 4       # ... and its segment re-runs from the last checkpoint
    num_cpus: int | None = None     # for the Ray started here when no address is given; default: all cores

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "RayOptions":
        env = os.environ if env is None else env
        types = {"workers": int, "gpus_per_worker": float, "cpus_per_worker": float, "max_restarts": int,
                 "max_task_retries": int, "num_cpus": int}
        kw: dict[str, Any] = {}
        for name, typ in types.items():
            key = ENV_PREFIX + name.upper()
            if env.get(key):
                try:
                    kw[name] = typ(env[key])
                except ValueError:
                    raise UserError(f"{key}={env[key]!r} is not a number", exit_code=2) from None
        return cls(**kw)


# ---- pure helpers ----------------------------------------------------------------------------

def cluster_device(device: str | None, resources: dict[str, float]) -> str:
    """The device string workers use. On Ray every worker sees its own GPU(s) as cuda:0, so cuda:N means cuda."""
    gpus = resources.get("GPU", 0)
    if device in (None, "auto"):
        return "cuda" if gpus else "cpu"
    if device.startswith("cuda"):
        if not gpus:
            raise UserError(f"--device {device}: the Ray cluster has no GPUs", hint="use --device cpu, or add GPU nodes",
                            exit_code=2)
        return "cuda"
    if device == "cpu":
        return "cpu"
    raise UserError(f"unknown device {device!r}", hint="use cpu or cuda", exit_code=2)


def worker_count(opts: RayOptions, device: str, resources: dict[str, float], batches: int) -> int:
    if opts.workers:
        n = opts.workers
    elif device == "cuda":
        n = int(resources.get("GPU", 0) // opts.gpus_per_worker)
    else:
        n = int(resources.get("CPU", 1) // opts.cpus_per_worker)
    return max(1, min(n, batches))


def segment_end(start: int, settings) -> int:
    """A segment starting at iteration `start` runs to the next multiple of checkpoint_every, or to the end."""
    return min(settings.iterations, (start // settings.checkpoint_every + 1) * settings.checkpoint_every)


def start_of(jobs) -> int:
    ck = jobs[0].checkpoint
    return int(ck["iteration"]) if ck else 0


# ---- the worker (runs inside a Ray actor) --------------------------------------------------------

@dataclass
class Segment:
    """What a worker returns for one batch segment: plain data (PIL images, CPU tensors)."""

    ids: tuple[int, ...]
    start: int
    end: int
    pid: int
    host: str
    images: list[tuple[int, str, int, Any]] = field(default_factory=list)  # (id, kind, iteration, PIL), in order
    checkpoints: dict[int, dict[str, Any]] = field(default_factory=dict)   # latest per token, until finished
    results: list[Any] = field(default_factory=list)                       # TokenResults once finished
    error: tuple[str, str | None] | None = None                             # a UserError on the worker


class RenderWorker:
    """One per device. Loads the models once; then renders batch segments, writing nothing."""

    def __init__(self, models: str, device: str, models_dir: str | None, threads: int):
        import torch

        if device == "cpu":
            torch.set_num_threads(threads)
        elif device.startswith("cuda"):
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True
        self.now: dict[str, Any] = {}
        self.error: tuple[str, str | None] | None = None
        try:
            from generator.loop import Renderer
            from generator.models import load_models

            self.renderer = Renderer(load_models(models, device, Path(models_dir) if models_dir else None))
        except UserError as e:  # e.g. no weights on this node: reported with each segment instead of a restart loop
            self.error = (f"on {socket.gethostname()}: {e.message}", e.hint)

    def info(self) -> dict[str, Any]:
        """pid, host and the segment in progress (runs beside render_segment, in the "control" group)."""
        return {"pid": os.getpid(), "host": socket.gethostname(), **self.now}

    def render_segment(self, jobs: list) -> Segment:
        from generator.loop import Callbacks, Interrupted

        start = start_of(jobs)
        end = segment_end(start, jobs[0].settings)
        seg = Segment(tuple(j.id for j in jobs), start, end, os.getpid(), socket.gethostname())
        if self.error:
            seg.error = self.error
            return seg
        now = self.now = {"ids": seg.ids, "start": start, "end": end, "iteration": start}
        cb = Callbacks(
            on_progress=lambda p: now.__setitem__("iteration", p.iteration),
            on_checkpoint=seg.checkpoints.__setitem__,
            on_image=lambda tid, kind, it, img: seg.images.append((tid, kind, it, img)),
            on_result=seg.results.append,
            should_stop=lambda: now["iteration"] >= end,  # the loop checkpoints every token, then raises Interrupted
        )
        try:
            self.renderer.render_batch(jobs, cb)
        except Interrupted:
            pass
        finally:
            self.now = {}
        if seg.results:
            seg.checkpoints.clear()
        return seg


def running_workers(ray) -> list[dict[str, Any]]:
    """info() of every render worker in the cluster (for tests and for looking at a stuck build)."""
    out = []
    for a in ray.util.list_named_actors(all_namespaces=True):
        if a["name"].startswith(ACTOR_PREFIX + "-"):
            try:
                h = ray.get_actor(a["name"], namespace=a["namespace"])
                out.append({"name": a["name"], **ray.get(h.info.options(concurrency_group="control").remote(), timeout=10)})
            except Exception:  # restarting or gone: not running anything now
                continue
    return out


# ---- the driver ------------------------------------------------------------------------------

@dataclass
class RayReport(RenderReport):
    # every segment received, in order: (token ids, from iteration, to iteration, worker pid, host)
    segments: list[tuple[tuple[int, ...], int, int, int, str]] = field(default_factory=list, repr=False)
    workers: int = 0


def connect(ray, address: str | None, opts: RayOptions) -> bool:
    """Join the cluster at `address` (or $RAY_ADDRESS), or start a private local Ray. True when started here."""
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS")
    quiet = dict(log_to_driver=False, logging_level="WARNING")
    if not address:
        # A Ray head reports usage statistics to Anyscale unless told not to; the tool talks
        # only to endpoints the user named, so the private Ray it starts keeps quiet.
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        ray.init(num_cpus=opts.num_cpus or os.cpu_count() or 1, include_dashboard=False, **quiet)
        return True
    try:
        ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise UserError(f"cannot join the Ray cluster at {address}: {e}",
                        hint="check `ray status` on the head node; ray://HOST:10001 needs the head's Ray Client port") from None
    return True


def render_build_ray(build_dir: Path, *, models: str | None = None, device: str | None = None,
                     models_dir: Path | None = None, progress: bool = True, address: str | None = None,
                     options: RayOptions | None = None) -> RayReport:
    """render_step.render_build with executor="ray": same skips, files and state rows."""
    ray = import_ray()
    opts = options or RayOptions.from_env()
    build_dir = Path(build_dir)
    plan = effective_plan(build_dir, load_plan(build_dir))  # re-rolled seeds laid over the plan

    from collection.state import RenderState
    from generator.loop import make_batches
    from generator.registry import parse_models

    t0 = time.perf_counter()
    started = connect(ray, address, opts)
    report = RayReport()
    state = RenderState(build_dir / "state.sqlite")
    try:
        resources = ray.cluster_resources()
        dev = cluster_device(device, resources)
        todo, meta = select_tokens(build_dir, plan, state, models, dev, report.skipped)
        if any(settings.candidates > 1 for _t, settings, _fp in meta.values()):
            raise UserError("render.candidates > 1 (best-of-K) runs on the local executor only, so far",
                            hint="render those tokens with `--executor local`", exit_code=2)
        with stop_on_signals() as stop, _Display(len(plan.tokens), len(report.skipped), progress) as display:
            for name, tokens in todo.items():
                choice = parse_models(name)
                writer = BuildWriter(build_dir, state, meta, choice.label, choice.tiny)
                batches = make_batches(load_jobs(build_dir, state, meta, tokens))
                n = worker_count(opts, dev, resources, len(batches))
                report.workers = max(report.workers, n)
                _Dispatch(ray, opts, name, dev, models_dir, writer, report, display, stop).run(batches, n)
                if stop[0]:
                    raise KeyboardInterrupt  # what the local executor does; checkpoints so far are on disk
    finally:
        state.close()
        if started:
            ray.shutdown()
    report.seconds = time.perf_counter() - t0
    return report


class _Dispatch:
    """Keeps every worker busy with one batch segment at a time, and writes what comes back."""

    def __init__(self, ray, opts: RayOptions, models: str, device: str, models_dir: Path | None,
                 writer: BuildWriter, report: RayReport, display: "_Display", stop: list[bool]):
        self.ray, self.opts, self.writer, self.report, self.display, self.stop = ray, opts, writer, report, display, stop
        self.args = (models, device, str(models_dir) if models_dir else None, max(1, int(opts.cpus_per_worker)))
        self.gpus = opts.gpus_per_worker if device == "cuda" else 0
        self.actor_cls = ray.remote(concurrency_groups={"control": 1})(RenderWorker)
        self.names = itertools.count()
        self.actors: list = []

    def spawn(self):
        a = self.actor_cls.options(
            name=f"{ACTOR_PREFIX}-{os.getpid()}-{next(self.names)}", num_cpus=self.opts.cpus_per_worker,
            num_gpus=self.gpus, max_restarts=self.opts.max_restarts, max_task_retries=self.opts.max_task_retries,
        ).remote(*self.args)
        self.actors.append(a)
        return a

    def run(self, batches: list[list], n: int) -> None:
        ray = self.ray
        pending = deque((jobs, True) for jobs in batches)
        self.display.add_iterations(sum((j.settings.iterations - start_of([j])) for b in batches for j in b))
        idle = [self.spawn() for _ in range(n)]
        running: dict = {}  # ObjectRef -> (actor, jobs)
        try:
            while (pending or running) and not self.stop[0]:
                while idle and pending:
                    jobs, first = pending.popleft()
                    if first:
                        self.mark_rendering(jobs)
                    actor = idle.pop()
                    running[actor.render_segment.remote(jobs)] = (actor, jobs)
                ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)  # the timeout notices Ctrl-C
                for ref in ready:
                    actor, jobs = running.pop(ref)
                    nxt, lost = self.receive(ref, jobs)
                    if lost:
                        ray.kill(actor)
                        actor = self.spawn()
                    idle.append(actor)
                    if nxt:
                        pending.appendleft((nxt, False))  # same batch first: tokens finish sooner
        finally:
            for a in self.actors:
                ray.kill(a)

    def mark_rendering(self, jobs) -> None:
        """The local executor's row at the start of a batch: rendering, from its checkpoint if any."""
        w = self.writer
        for j in jobs:
            ck = j.checkpoint
            w.state.rendering(j.id, w.tokens[j.id][2], int(ck["iteration"]) if ck else 0,
                              str(w.checkpoint_path(j.id).relative_to(w.dir)) if ck else None)

    def receive(self, ref, jobs) -> tuple[list | None, bool]:
        """Write one segment's outputs. Returns (the batch's next segment or None, whether the worker is lost)."""
        ex = self.ray.exceptions
        try:
            seg: Segment = self.ray.get(ref)
        except ex.RayTaskError as e:  # the render raised: as in the local executor, fail this batch only
            cause = e.cause if isinstance(getattr(e, "cause", None), BaseException) else e
            self.fail(jobs, f"{type(cause).__name__}: {cause}")
            return None, False
        except ex.RayError as e:  # restarts and retries used up (node gone, a batch that kills its worker)
            self.fail(jobs, f"worker lost: {str(e).splitlines()[0]}")
            return None, True
        if seg.error:
            raise UserError(seg.error[0], hint=seg.error[1])
        self.report.segments.append((seg.ids, seg.start, seg.end, seg.pid, seg.host))
        for tid, kind, it, img in seg.images:
            self.writer.on_image(tid, kind, it, img)
        self.display.advance((seg.end - seg.start) * len(jobs))
        if seg.results:
            for r in seg.results:
                self.writer.on_result(r)
                self.report.rendered.append(r.id)
                self.display.token_done()
            return None, False
        for tid, ck in seg.checkpoints.items():
            self.writer.on_checkpoint(tid, ck)
        return [replace(j, checkpoint=seg.checkpoints[j.id]) for j in jobs], False

    def fail(self, jobs, error: str) -> None:
        for j in jobs:
            self.writer.state.failed(j.id, self.writer.tokens[j.id][2], error)
            self.report.failed.append(j.id)
            self.report.errors[j.id] = error


class _Display(LiveDisplay):
    """Tokens done/total and iterations done over all workers (the ETA), as one rich live display."""

    def __init__(self, total: int, done: int, enabled: bool):
        self.enabled = enabled
        if not enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
        self.tokens = self.progress.add_task("tokens (ray)", total=total, completed=done)
        self.iters = self.progress.add_task("iterations", total=0)

    def add_iterations(self, n: int) -> None:
        if self.enabled:
            self.progress.update(self.iters, total=self.progress.tasks[self.iters].total + n)

    def advance(self, n: int) -> None:
        if self.enabled:
            self.progress.advance(self.iters, n)

    def token_done(self) -> None:
        if self.enabled:
            self.progress.advance(self.tokens, 1)
