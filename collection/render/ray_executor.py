"""The Ray executor: batches painted by Ray actors, handed back to the render driver as events.

    driver (render_step, this process)                  Ray actors, one per GPU (or CPU slice)
    selection, jobs, batches                            RenderWorker: models loaded once
    RayExecutor: batch + latest checkpoints ─ segment ▶ render_batch up to the next checkpoint
                 events (render_events)   ◀ Segment ─  images, checkpoints, results (plain data)
    writer, state rows, progress

Work is cut into segments of `checkpoint_every` iterations. A segment call carries its batch's
latest checkpoints and returns the next ones, so each call is a pure function of its arguments
and faults become Ray's job: a killed worker is restarted (max_restarts) and the call re-run
(max_task_retries) with the same arguments, i.e. from the last checkpoint the driver received.
The driver writes every checkpoint and state row from the same events as with the local executor,
so a killed driver resumes on the next run, with either executor. Workers never touch the build
directory: they need the package and the weights, not a shared disk.

Why segments rather than one streaming call per batch: Ray Client (ray://HOST:10001) cannot
stream from actor methods, and a retried segment needs no bookkeeping on the driver.
"""

from __future__ import annotations

import itertools
import os
import socket
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buildfiles.errors import UserError
from collection.render.render_events import (BatchFailed, BatchStarted, Checkpoint, Emit, Finished, ImageOut, Progress, RunInfo,
                                      batch_start)

if TYPE_CHECKING:
    from generator.settings import RenderSettings

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


def segment_end(start: int, settings: RenderSettings) -> int:
    """A segment starting at iteration `start` runs to the next multiple of checkpoint_every, or to the end.
    Jobs reach the actors with their RenderSettings as they are (a frozen dataclass: pickled by Ray)."""
    return min(settings.iterations, (start // settings.checkpoint_every + 1) * settings.checkpoint_every)


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

    def __init__(self, models: str, device: str, models_dir: str | None, threads: int, levers: dict[str, Any] | None = None):
        from collection.render.threads import setup_torch

        setup_torch(device, threads)  # the actor's share of CPUs, not the node's cores
        self.now: dict[str, Any] = {}
        self.error: tuple[str, str | None] | None = None
        try:
            from generator.loop import Levers, Renderer
            from generator.models import load_models

            from collection.render.best_of import Judges

            self.models = load_models(models, device, Path(models_dir) if models_dir else None)
            self.renderer = Renderer(self.models, Levers.from_dict(levers or {}))  # the build's recorded levers
            self.judges = Judges(Path(models_dir) if models_dir else None)  # best-of-K, loaded on first use
        except UserError as e:  # e.g. no weights on this node: reported with each segment instead of a restart loop
            self.error = (f"on {socket.gethostname()}: {e.message}", e.hint)

    def info(self) -> dict[str, Any]:
        """pid, host and the segment in progress (runs beside render_segment, in the "control" group)."""
        return {"pid": os.getpid(), "host": socket.gethostname(), **self.now}

    def render_segment(self, jobs: list) -> Segment:
        from generator.candidates import run_batch
        from generator.loop import Callbacks, Interrupted

        start = batch_start(jobs)
        end = segment_end(start, jobs[0].settings)
        seg = Segment(tuple(j.id for j in jobs), start, end, os.getpid(), socket.gethostname())
        if self.error:
            seg.error = self.error
            return seg
        now = self.now = {"ids": seg.ids, "start": start, "end": end, "iteration": start}
        judge = self.judges.for_batch(self.models, jobs)
        # Best-of-K candidates advance one after another, so iterations say little about a segment's
        # end: it ends once every token of the batch has handed over a new checkpoint.
        stop = (lambda: len(seg.checkpoints) >= len(jobs)) if judge else (lambda: now["iteration"] >= end)
        cb = Callbacks(
            on_progress=lambda p: now.__setitem__("iteration", p.iteration),
            on_checkpoint=seg.checkpoints.__setitem__,
            on_image=lambda tid, kind, it, img: seg.images.append((tid, kind, it, img)),
            on_result=seg.results.append,
            should_stop=stop,  # the loop checkpoints every token, then raises Interrupted
        )
        try:
            run_batch(self.renderer, jobs, cb, judge)
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


# ---- the executor (runs in the driver's process) ------------------------------------------------

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
        from collection.render.threads import available_cpus

        ray.init(num_cpus=opts.num_cpus or available_cpus(), include_dashboard=False, **quiet)
        return True
    try:
        ray.init(address=address, **quiet)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise UserError(f"cannot join the Ray cluster at {address}: {e}",
                        hint="check `ray status` on the head node; ray://HOST:10001 needs the head's Ray Client port") from None
    return True


class RayExecutor:
    """Keeps every worker busy with one batch segment at a time, and emits what comes back."""

    name = "ray"
    detail = ""

    def __init__(self, address: str | None = None, models_dir: Path | None = None, options: RayOptions | None = None):
        self.ray = import_ray()
        self.opts = options or RayOptions.from_env()
        self.models_dir = models_dir
        self.info = RunInfo()
        self.started = connect(self.ray, address, self.opts)
        self.resources = self.ray.cluster_resources()
        self.actor_cls = self.ray.remote(concurrency_groups={"control": 1})(RenderWorker)
        self.names = itertools.count()
        self.dev = "cpu"
        self.levers = None  # generator.loop.Levers recorded for the build (collection.render.levers); None: the default

    def device(self, requested: str | None) -> str:
        self.dev = cluster_device(requested, self.resources)
        return self.dev

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()
            self.started = False

    def run(self, models: str, batches: list[list], emit: Emit, should_stop) -> None:
        ray = self.ray
        n = worker_count(self.opts, self.dev, self.resources, len(batches))
        self.info.workers = max(self.info.workers, n)
        args = (models, self.dev, str(self.models_dir) if self.models_dir else None, max(1, int(self.opts.cpus_per_worker)),
                self.levers.to_dict() if self.levers else None)
        actors: list = []

        def spawn():
            a = self.actor_cls.options(
                name=f"{ACTOR_PREFIX}-{os.getpid()}-{next(self.names)}", num_cpus=self.opts.cpus_per_worker,
                num_gpus=self.opts.gpus_per_worker if self.dev == "cuda" else 0,
                max_restarts=self.opts.max_restarts, max_task_retries=self.opts.max_task_retries,
            ).remote(*args)
            actors.append(a)
            return a

        pending = deque((jobs, True) for jobs in batches)
        idle = [spawn() for _ in range(n)]
        running: dict = {}  # ObjectRef -> (actor, jobs)
        try:
            while (pending or running) and not should_stop():
                while idle and pending:
                    jobs, first = pending.popleft()
                    if first:
                        emit(BatchStarted(tuple(j.id for j in jobs), batch_start(jobs), jobs[0].settings.iterations))
                    actor = idle.pop()
                    running[actor.render_segment.remote(jobs)] = (actor, jobs)
                ready, _ = ray.wait(list(running), num_returns=1, timeout=0.5)  # the timeout notices Ctrl-C
                for ref in ready:
                    actor, jobs = running.pop(ref)
                    nxt, lost = self.receive(ref, jobs, emit)
                    if lost:
                        ray.kill(actor)
                        actor = spawn()
                    idle.append(actor)
                    if nxt:
                        pending.appendleft((nxt, False))  # same batch first: tokens finish sooner
        finally:
            for a in actors:
                ray.kill(a)

    def receive(self, ref, jobs, emit: Emit) -> tuple[list | None, bool]:
        """Emit one segment's outputs. Returns (the batch's next segment or None, whether the worker is lost)."""
        ex = self.ray.exceptions
        ids = tuple(j.id for j in jobs)
        try:
            seg: Segment = self.ray.get(ref)
        except ex.RayTaskError as e:  # the render raised: as in the local executor, fail this batch only
            cause = e.cause if isinstance(getattr(e, "cause", None), BaseException) else e
            emit(BatchFailed(ids, f"{type(cause).__name__}: {cause}"))
            return None, False
        except ex.RayError as e:  # restarts and retries used up (node gone, a batch that kills its worker)
            emit(BatchFailed(ids, f"worker lost: {str(e).splitlines()[0]}"))
            return None, True
        if seg.error:
            raise UserError(seg.error[0], hint=seg.error[1])
        self.info.segments.append((seg.ids, seg.start, seg.end, seg.pid, seg.host))
        for tid, kind, it, img in seg.images:
            emit(ImageOut(tid, kind, it, img))
        losses = tuple(r.final_loss for r in seg.results) or tuple(float(ck.get("loss", float("nan")))
                                                                   for ck in seg.checkpoints.values())
        emit(Progress(ids, seg.end, jobs[0].settings.iterations, losses))
        if seg.results:
            for r in seg.results:
                emit(Finished(r))
            return None, False
        for tid, ck in seg.checkpoints.items():
            emit(Checkpoint(tid, ck))
        return [replace(j, checkpoint=seg.checkpoints[j.id]) for j in jobs], False
