"""The render step's driver: plan.json in, images/ snapshots/ animations/ renders/ out, resumable.

The driver owns everything but the painting:

    plan      each token's RenderSettings, read from plan.json once (generator.settings.plan_settings)
    state     state.sqlite rows (buildfiles.state), under the build directory's lock
    selection skip done tokens, resume checkpoints, group by models, make batches
    writer    atomic files and records (collection.render.render_writer)
    progress  live display, plain lines, JSON lines (collection.render.render_progress)
    report    what was rendered, skipped, failed

An executor (collection.render.local_executor, collection.render.ray_executor) only runs the batches it is given
and emits events (collection.render.render_events); it never touches the build directory. Seams for
other work: `plan_work` decides each token's seed and settings, `render_works` paints any list of
TokenWork, and an executor is anything with `device`, `run` and `close`.
"""

from __future__ import annotations

import hashlib
import json
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from buildfiles.errors import UserError
from buildfiles.lock import build_lock
from buildfiles.plan import Plan, PlannedToken, load_plan
from buildfiles.records import RecordError, image_matches, image_path, read_record
from buildfiles.rerolls import effective_plan
from collection.render.render_events import (BatchFailed, BatchStarted, Checkpoint, Event, Executor, Finished, ImageOut,
                                      Progress, batch_start)
from collection.render.render_writer import (AUTO_STOP_KEY, BuildWriter, TokenWork, clear_partial_writes, load_checkpoint,
                                             make_job, warn)

if TYPE_CHECKING:
    from generator.settings import RenderSettings

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class RenderOptions:
    """How a build is painted, beside what its plan says: one frozen object from the command line
    (collection.commands.render.render_options) through `build` to the executor."""

    models: str | None = None        # --models: replaces the plan's models
    device: str | None = None        # cpu, cuda, cuda:N; None: cuda when present
    models_dir: Path | None = None   # weights copied by hand
    executor: str = "local"          # one of EXECUTORS
    ray_address: str | None = None
    ray_options: Any = None          # collection.render.ray_executor.RayOptions (tests, benchmarks)
    threads: int | None = None       # CPU threads for torch
    progress: bool = True            # the live display on a terminal (plain lines otherwise)
    log_json: Path | None = None     # progress events appended as JSON lines
    levers: str = "auto"             # collection.render.levers.MODES: calibrate on the first run, or "none"


@dataclass
class RenderReport:
    rendered: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    seconds: float = 0.0
    errors: dict[int, str] = field(default_factory=dict)
    workers: int = 0
    # Ray: every segment received, in order: (token ids, from iteration, to iteration, worker pid, host)
    segments: list[tuple[tuple[int, ...], int, int, int, str]] = field(default_factory=list, repr=False)

    @property
    def counts(self) -> dict[str, int]:
        return {"rendered": len(self.rendered), "skipped": len(self.skipped), "failed": len(self.failed)}


# ---- pure helpers ---------------------------------------------------------------------------

def fingerprint(token: PlannedToken, settings: RenderSettings, seed: int | None = None) -> str:
    """What a token's pixels depend on. A changed fingerprint invalidates its state and checkpoint.
    The settings enter in plan.json's form, which render records keep: a record alone can tell."""
    return _fingerprint(token.prompt, token.seed if seed is None else seed, settings.to_dict())


def _fingerprint(prompt: str | None, seed: int, settings_dict: dict[str, Any]) -> str:
    blob = json.dumps({"prompt": prompt, "seed": seed, "settings": settings_dict}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def plan_work(plan: Plan, models: str | None = None, device: str = "cpu", only: set[int] | None = None,
              build_dir: Path | None = None) -> list[TokenWork]:
    """The plan's tokens (those in `only`, when given) as TokenWork: settings read from the plan once
    (tokens with equal overrides share them); the seed is the plan's (buildfiles.rerolls.effective_plan
    lays re-rolled seeds over it first). `models` (--models) replaces the plan's models.

    Own model files that plan.json names relative to the build directory are found from `build_dir`
    for loading, while fingerprints and records keep the plan's relative paths: a moved project's
    finished tokens stay finished."""
    from dataclasses import replace

    from generator.registry import parse_models
    from generator.settings import plan_settings

    tokens = [t for t in plan.tokens if only is None or t.id in only]  # reroll: exactly the re-rolled tokens
    base = Path(build_dir).resolve() if build_dir is not None else None
    ready: dict[int, tuple[RenderSettings, Any]] = {}  # per distinct settings object: (settings, models choice)
    out = []
    for token, planned in zip(tokens, plan_settings(plan.render, [t.render for t in tokens])):
        if id(planned) not in ready:
            try:
                settings = replace(planned, models=models) if models else planned
            except ValueError as e:  # --models against the plan's other settings (e.g. a judge the pair cannot use)
                raise UserError(f"--models {models}: {e}", hint="choose other models, or plan again", exit_code=2) from None
            if settings.precision != "fp32" and not device.startswith("cuda"):
                from generator.calibrate import precision_problem

                problem = precision_problem(settings.precision, device)
                if problem:  # bf16 emulated on a CPU without it runs ~30x slower: refused before anything is painted
                    why, _, fix = problem.partition("; ")
                    raise UserError(f"render.precision: {why}", hint=fix, exit_code=2)
            ready[id(planned)] = (settings, parse_models(settings.models, base=base))
        settings, choice = ready[id(planned)]
        out.append(TokenWork(token, token.seed, settings, fingerprint(token, settings), choice))
    return out


def is_done(build_dir: Path, state, work: TokenWork) -> bool:
    """Done with the same fingerprint, and its image is the one the renderer wrote.

    Without a state row (state.sqlite lost or replaced), the render record tells: same prompt,
    seed and settings means the same pixels, and the row is written back.
    """
    from buildfiles.state import DONE

    image = image_path(build_dir, work.id)
    if not image.exists():
        return False
    row = state.get(work.id)
    if row is not None and not (row.status == DONE and row.fingerprint == work.fingerprint):
        return False
    try:
        rec = read_record(build_dir, work.id)
    except RecordError:
        rec = None
    if row is None:
        if rec is None or _fingerprint(rec.prompt, rec.seed, rec.settings) != work.fingerprint or not image_matches(build_dir, rec):
            return False
        state.done(work.id, work.fingerprint, rec.iterations)
        return True
    if rec is None:  # done, but what metadata needs about the picture is gone: paint it again (same pixels)
        warn(f"renders/{work.id}.json is missing or unreadable although token {work.id} is done: rendering it again")
        return False
    if image_matches(build_dir, rec) is False:
        warn(f"{image} is not the image rendered for token {work.id} (its sha256 differs from renders/{work.id}.json): "
             "rendering it again")
        return False
    return True


@contextmanager
def stop_on_signals() -> Iterator[list[bool]]:
    """SIGINT/SIGTERM set a flag instead of killing the process: the loop checkpoints, then stops."""
    flag = [False]

    def handler(signum, frame):
        flag[0] = True

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield flag
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def make_executor(executor: str, *, models_dir: Path | None, threads: int | None, ray_address: str | None,
                  ray_options=None) -> Executor:
    if executor == "local":
        from collection.render.local_executor import LocalExecutor

        return LocalExecutor(models_dir, threads)
    if executor == "ray":
        from collection.render.ray_executor import RayExecutor

        return RayExecutor(ray_address, models_dir, ray_options)
    raise UserError(f"unknown executor {executor!r}", hint="use --executor local or --executor ray", exit_code=2)


def make_progress(total: int, skipped: int, progress: bool, log_json: Path | None):
    """Live display on a terminal; plain lines when stdout is not one or with progress=False; JSON lines with log_json."""
    from collection.render.render_progress import JsonView, PlainView, RenderProgress, RichView

    views: list = [RichView() if progress and sys.stdout.isatty() else PlainView()]
    if log_json:
        views.append(JsonView(log_json))
    return RenderProgress(total, skipped, views)


# ---- the driver ------------------------------------------------------------------------------

def render_build(build_dir: Path, options: RenderOptions | None = None, *, only: set[int] | None = None,
                 **fields: Any) -> RenderReport:
    """Render every token of build_dir/plan.json (of `only`, when given) that is not done yet, with re-rolled
    seeds laid over the plan, holding the build directory's lock. `fields` (progress=False, executor="ray",
    …) are a short form of RenderOptions for scripts and tests; an unknown one is a TypeError."""
    o = replace(options or RenderOptions(), **fields)
    if o.executor not in EXECUTORS:
        raise UserError(f"unknown executor {o.executor!r}", hint="use --executor local or --executor ray", exit_code=2)
    build_dir = Path(build_dir)
    if not build_dir.is_dir():
        load_plan(build_dir)  # says plan.json is missing and how to make it
    with build_lock(build_dir, "render"):
        plan = effective_plan(build_dir, load_plan(build_dir))
        ex = make_executor(o.executor, models_dir=o.models_dir, threads=o.threads, ray_address=o.ray_address,
                           ray_options=o.ray_options)
        try:
            dev = ex.device(o.device)
            return render_works(build_dir, plan_work(plan, o.models, dev, only, build_dir), ex, dev, progress=o.progress,
                                log_json=o.log_json, levers=o.levers)
        finally:
            ex.close()


def render_works(build_dir: Path, works: list[TokenWork], ex: Executor, dev: str, *, progress: bool = True,
                 log_json: Path | None = None, levers: str = "auto") -> RenderReport:
    """Paint `works` that are not done yet with executor `ex`, with the build's levers (recorded, or
    calibrated now when `levers` is "auto": collection.render.levers); the caller holds the lock."""
    from buildfiles.state import RenderState

    t0 = time.perf_counter()
    report = RenderReport()
    state = RenderState(build_dir / "state.sqlite")
    try:
        todo: dict[str, list[TokenWork]] = {}
        for w in works:
            if is_done(build_dir, state, w):
                report.skipped.append(w.id)
            else:
                todo.setdefault(w.models, []).append(w)
        by_id = {w.id: w for w in works}
        if todo and hasattr(ex, "levers"):
            from collection.render.levers import build_levers

            ex.levers = build_levers(build_dir, [w for g in todo.values() for w in g], ex, dev, levers, _say)
        with stop_on_signals() as stop, make_progress(len(works), len(report.skipped), progress, log_json) as prog:
            prog.begin(sum(map(len, todo.values())), ex.name, f"{dev}, {ex.detail}" if ex.detail else dev)
            driver = _Driver(BuildWriter(build_dir, state, by_id), prog, report)
            driver.writer.levers = getattr(ex, "levers", None)
            for name, group in todo.items():
                batches = _batches(build_dir, state, group)
                prog.add_iterations(sum(j.settings.iterations - batch_start([j]) for b in batches for j in b))
                driver.jobs.update({j.id: j for b in batches for j in b})
                ex.run(name, batches, driver.handle, lambda: stop[0])
                if stop[0]:
                    raise KeyboardInterrupt  # every running token checkpointed; the next run resumes
            report.seconds = time.perf_counter() - t0
            prog.end(len(report.rendered), len(report.skipped), len(report.failed), report.seconds)
    finally:
        state.close()
        report.workers, report.segments = ex.info.workers, list(ex.info.segments)
    report.seconds = time.perf_counter() - t0
    return report


def _say(line: str) -> None:
    print(line, flush=True)


def _batches(build_dir: Path, state, works: list[TokenWork]) -> list[list]:
    """TokenJobs for `works`, each resuming from its checkpoint when it has a valid one (else marked pending), batched."""
    from generator.loop import make_batches

    jobs = []
    for w in works:
        clear_partial_writes(build_dir, w.id)
        ck = load_checkpoint(build_dir, w.id, w.fingerprint)
        if ck is None:
            state.pending(w.id, w.fingerprint)
        jobs.append(make_job(build_dir, w, ck))
    return make_batches(jobs)


class _Driver:
    """Applies an executor's events: files and rows (writer), progress, report."""

    def __init__(self, writer: BuildWriter, prog, report: RenderReport):
        self.writer, self.prog, self.report = writer, prog, report
        self.jobs: dict[int, Any] = {}

    def handle(self, ev: Event) -> None:
        w = self.writer
        if isinstance(ev, Progress):  # the most frequent first
            self.prog.progress(ev.ids, ev.iteration, ev.total, ev.losses)
        elif isinstance(ev, ImageOut):
            w.image(ev.id, ev.kind, ev.iteration, ev.image)
        elif isinstance(ev, Checkpoint):
            w.checkpoint(ev.id, ev.state)
        elif isinstance(ev, Finished):
            r = ev.result
            rec = w.finished(r)
            if getattr(r, "candidates", ()):  # best-of-K: every candidate's seed and score, and the winner
                self.prog.candidates_judged(r.id, list(rec.extra.get("candidates") or ()), rec.seed, r.judge)
            if rec.extra.get(AUTO_STOP_KEY):
                self.prog.token_stopped(r.id, rec.extra[AUTO_STOP_KEY])
            self.report.rendered.append(r.id)
            self.prog.finished(r.id, w.seed_of(r), r.seconds, r.final_loss, r.iterations)
        elif isinstance(ev, BatchStarted):
            for tid in ev.ids:
                w.started(tid, ev.start, self.jobs[tid].checkpoint is not None)
            self.prog.batch_started(ev.ids, [w.works[t].seed for t in ev.ids], ev.start, ev.total)
            for tid in ev.ids:
                k = w.works[tid].settings.candidates
                if k > 1:
                    from generator.candidates import candidate_seed

                    self.prog.candidates_planned(tid, [candidate_seed(w.works[tid].seed, i) for i in range(k)])
        elif isinstance(ev, BatchFailed):
            for tid in ev.ids:
                w.failed(tid, ev.error)
                self.report.failed.append(tid)
                self.report.errors[tid] = ev.error
                self.prog.token_failed(tid, ev.error)
        else:
            raise TypeError(f"unknown render event {ev!r}")
