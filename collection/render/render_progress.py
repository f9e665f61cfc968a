"""Render progress for people and for machines, from the driver's events.

    live display   rich, on a terminal: tokens done/total, iterations (it/s, ETA), the running batch and its loss
    plain lines    when stdout is not a terminal (a log file, nohup, CI, a notebook cell) or with --no-progress:
                   one line per token started/finished/failed, and a progress line at least every 30 s
    JSON lines     --log-json FILE: the same events appended as one JSON object per line

One `RenderProgress` counts and times; views only format. A timer thread keeps plain and JSON
progress lines coming while a long iteration or a Ray segment runs.
"""

from __future__ import annotations

import json
import math
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

EVERY_ENV = "ROBOZ_LOG_EVERY"   # seconds between progress lines (default 30)


@dataclass(frozen=True)
class Snapshot:
    done: int               # tokens finished (this run and earlier runs)
    total: int
    failed: int
    iterations_done: int    # this run
    iterations_total: int   # this run
    it_per_s: float
    eta_s: float | None
    loss: float | None


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _duration(s: float | None) -> str:
    if s is None:
        return "?"
    s = int(round(s))
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {s % 3600 // 60:02d} min"


class RenderProgress:
    def __init__(self, total: int, skipped: int, views: list, every: float | None = None):
        self.total, self.done, self.failed = total, skipped, 0
        self.views = views
        self.every = float(os.environ.get(EVERY_ENV, 30)) if every is None else every
        self.it_done = self.it_total = 0
        self.batch_at: dict[tuple[int, ...], int] = {}
        self.loss: float | None = None
        self.t0 = time.perf_counter()
        self.last_line = self.t0
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    # -- lifecycle --

    def __enter__(self) -> "RenderProgress":
        for v in self.views:
            v.open()
        if self.every > 0 and any(v.wants_ticks for v in self.views):
            self._timer = threading.Thread(target=self._tick_loop, name="render-progress", daemon=True)
            self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._timer:
            self._timer.join(timeout=5)
        for v in self.views:
            v.close()

    def _tick_loop(self) -> None:
        while not self._stop.wait(min(self.every, 1.0)):
            with self.lock:
                if time.perf_counter() - self.last_line >= self.every:
                    self._line()

    def _line(self) -> None:
        self.last_line = time.perf_counter()
        snap = self.snapshot()
        for v in self.views:
            v.progress_line(snap)

    def _emit(self, method: str, *args) -> None:
        with self.lock:
            for v in self.views:
                getattr(v, method)(*args)

    # -- numbers --

    def snapshot(self) -> Snapshot:
        el = time.perf_counter() - self.t0
        rate = self.it_done / el if el > 0 else 0.0
        left = self.it_total - self.it_done
        eta = left / rate if rate > 0 else (0.0 if left <= 0 else None)
        return Snapshot(self.done, self.total, self.failed, self.it_done, self.it_total, rate, eta, _finite(self.loss))

    # -- what the driver reports --

    def begin(self, to_render: int, executor: str, device: str) -> None:
        self._emit("begin", self.total, self.done, to_render, executor, device)

    def add_iterations(self, n: int) -> None:
        with self.lock:
            self.it_total += n
            for v in self.views:
                v.update(self.snapshot())

    def batch_started(self, ids: tuple[int, ...], seeds: list[int], start: int, total: int) -> None:
        with self.lock:
            self.batch_at[ids] = start
            for v in self.views:
                v.batch_started(ids, seeds, start, total)

    def progress(self, ids: tuple[int, ...], iteration: int, total: int, losses: tuple[float, ...]) -> None:
        with self.lock:
            self.it_done += (iteration - self.batch_at.get(ids, iteration)) * len(ids)
            self.batch_at[ids] = iteration
            if losses:
                self.loss = sum(losses) / len(losses)
            snap = self.snapshot()
            for v in self.views:
                v.batch_progress(ids, iteration, total, snap)
            if self.every >= 0 and time.perf_counter() - self.last_line >= self.every:
                self._line()

    def finished(self, token_id: int, seed: int, seconds: float, loss: float | None, iterations: int) -> None:
        with self.lock:
            self.done += 1
            for v in self.views:
                v.token_finished(token_id, seed, seconds, _finite(loss), iterations, self.snapshot())

    def candidates_planned(self, token_id: int, seeds: list[int]) -> None:
        with self.lock:
            for v in self.views:
                v.candidates_planned(token_id, seeds)

    def candidates_judged(self, token_id: int, candidates: list[dict], winner: int, judge: str | None) -> None:
        """`candidates`: [{"seed", "score", "stop_iteration"}] as renders/{id}.json lists them."""
        with self.lock:
            for v in self.views:
                v.candidates_judged(token_id, candidates, winner, judge)

    def token_stopped(self, token_id: int, stopped: dict) -> None:
        """iterations: auto: renders/{id}.json's `auto_stop` (where and why it stopped, which picture it keeps)."""
        with self.lock:
            for v in self.views:
                v.token_stopped(token_id, stopped)

    def token_failed(self, token_id: int, error: str) -> None:
        with self.lock:
            self.failed += 1
            for v in self.views:
                v.token_failed(token_id, error, self.snapshot())

    def end(self, rendered: int, skipped: int, failed: int, seconds: float) -> None:
        self._emit("end", rendered, skipped, failed, seconds)


class View:
    """Does nothing; views override what they show."""

    wants_ticks = False

    def open(self) -> None: ...
    def close(self) -> None: ...
    def begin(self, total: int, done: int, to_render: int, executor: str, device: str) -> None: ...
    def update(self, snap: Snapshot) -> None: ...
    def batch_started(self, ids, seeds, start: int, total: int) -> None: ...
    def batch_progress(self, ids, iteration: int, total: int, snap: Snapshot) -> None: ...
    def token_finished(self, token_id, seed, seconds, loss, iterations, snap: Snapshot) -> None: ...
    def token_failed(self, token_id, error: str, snap: Snapshot) -> None: ...
    # best-of-K: the seeds a token tries (at its start), then every candidate's score and the winner
    def candidates_planned(self, token_id, seeds) -> None: ...
    def candidates_judged(self, token_id, candidates, winner, judge) -> None: ...
    def token_stopped(self, token_id, stopped: dict) -> None: ...
    def progress_line(self, snap: Snapshot) -> None: ...
    def end(self, rendered: int, skipped: int, failed: int, seconds: float) -> None: ...


def _ids(ids) -> str:
    return ",".join(map(str, ids[:4])) + ("…" if len(ids) > 4 else "")


class PlainView(View):
    """Plain lines on stdout, flushed at once (what a log file, a pipe or a notebook needs)."""

    wants_ticks = True

    def __init__(self, out: TextIO | None = None):
        self.out = out

    def _print(self, line: str) -> None:
        out = self.out or sys.stdout
        print(line, file=out, flush=True)

    def begin(self, total, done, to_render, executor, device):
        self._print(f"render: {total} tokens, {done} already done, {to_render} to paint ({executor} executor, {device})")

    def batch_started(self, ids, seeds, start, total):
        for tid, seed in zip(ids, seeds):
            frm = f", resuming at iteration {start}" if start else ""
            self._print(f"token {tid} started: seed {seed}, {total} iterations{frm}")

    def token_finished(self, token_id, seed, seconds, loss, iterations, snap):
        loss_s = f"{loss:.4f}" if loss is not None else "n/a"
        self._print(f"token {token_id} finished: seed {seed}, {seconds:.1f} s, loss {loss_s} ({snap.done}/{snap.total} done)")

    def token_failed(self, token_id, error, snap):
        self._print(f"token {token_id} failed: {error}")

    def candidates_planned(self, token_id, seeds):
        self._print(f"token {token_id} best of {len(seeds)}: candidate seeds {', '.join(map(str, seeds))}")

    def candidates_judged(self, token_id, candidates, winner, judge):
        def one(c):
            score = "n/a" if c.get("score") is None else f"{c['score']:.4f}"
            return f"{c['seed']} {score}" + (" (winner)" if c["seed"] == winner else f" (dropped at {c.get('stop_iteration')})")
        self._print(f"token {token_id} candidates judged by {judge}: {', '.join(one(c) for c in candidates)}; "
                    f"winner seed {winner}")

    def token_stopped(self, token_id, stopped):
        why = "its judge score stopped improving" if stopped["reason"] == "converged" else "max_iterations reached"
        score = "n/a" if stopped.get("score") is None else f"{stopped['score']:.4f}"
        keeps = ("its last picture" if stopped["kept"] == stopped["iteration"]
                 else f"the picture of iteration {stopped['kept']}")
        self._print(f"token {token_id} stopped at iteration {stopped['iteration']} ({why}); keeps {keeps}, "
                    f"judge score {score}")

    def progress_line(self, snap):
        self._print(f"progress: {snap.done}/{snap.total} tokens, {snap.iterations_done}/{snap.iterations_total} iterations, "
                    f"{snap.it_per_s:.2f} it/s, ETA {_duration(snap.eta_s)}")


class JsonView(View):
    """--log-json FILE: every event as one JSON line, appended and flushed (strict JSON: no NaN)."""

    wants_ticks = True

    def __init__(self, path: Path):
        self.path = Path(path)
        self.fh: TextIO | None = None

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(self.path, "a", encoding="utf-8")

    def close(self) -> None:
        if self.fh:
            self.fh.close()
            self.fh = None

    def _write(self, event: str, **fields: Any) -> None:
        if self.fh is None:
            return
        rec = {"event": event, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **fields}
        self.fh.write(json.dumps(rec, allow_nan=False, sort_keys=True) + "\n")
        self.fh.flush()

    def begin(self, total, done, to_render, executor, device):
        self._write("render_started", tokens=total, done=done, to_render=to_render, executor=executor, device=device)

    def batch_started(self, ids, seeds, start, total):
        for tid, seed in zip(ids, seeds):
            self._write("token_started", id=tid, seed=seed, iterations=total, from_iteration=start)

    def token_finished(self, token_id, seed, seconds, loss, iterations, snap):
        self._write("token_finished", id=token_id, seed=seed, seconds=round(seconds, 3), loss=loss, iterations=iterations)

    def token_failed(self, token_id, error, snap):
        self._write("token_failed", id=token_id, error=error)

    def candidates_planned(self, token_id, seeds):
        self._write("token_candidates", id=token_id, seeds=list(seeds))

    def candidates_judged(self, token_id, candidates, winner, judge):
        self._write("token_judged", id=token_id, candidates=list(candidates), winner=winner, judge=judge)

    def token_stopped(self, token_id, stopped):
        self._write("token_stopped", id=token_id, **stopped)

    def progress_line(self, snap):
        d = asdict(snap)
        d["it_per_s"] = round(d["it_per_s"], 3)
        d["eta_s"] = None if d["eta_s"] is None else round(d["eta_s"], 1)
        self._write("progress", **d)

    def end(self, rendered, skipped, failed, seconds):
        self._write("render_finished", rendered=rendered, skipped=skipped, failed=failed, seconds=round(seconds, 3))


class RichView(View):
    """One rich live display: tokens done/total; iterations with it/s and ETA; the running batch and its loss."""

    def __init__(self):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            TextColumn("{task.fields[loss]}"),
            transient=False,
        )
        self.tokens = self.iters = self.batch = None

    def open(self):
        self.progress.__enter__()

    def close(self):
        self.progress.__exit__(None, None, None)

    def begin(self, total, done, to_render, executor, device):
        label = "tokens" if executor == "local" else f"tokens ({executor})"
        self.tokens = self.progress.add_task(label, total=total, completed=done, rate="", loss="")
        self.iters = self.progress.add_task("iterations", total=0, rate="", loss="")

    def update(self, snap):
        if self.iters is not None:
            self.progress.update(self.iters, total=snap.iterations_total, completed=snap.iterations_done,
                                 rate=f"{snap.it_per_s:.2f} it/s")

    def batch_started(self, ids, seeds, start, total):
        if self.batch is not None:
            self.progress.remove_task(self.batch)
        self.batch = self.progress.add_task("token " + _ids(ids), total=total, completed=start, rate="", loss="")

    def batch_progress(self, ids, iteration, total, snap):
        if self.batch is not None:
            self.progress.update(self.batch, description="token " + _ids(ids), total=total, completed=iteration,
                                 loss=f"loss {snap.loss:.4f}" if snap.loss is not None else "")
        self.update(snap)

    def token_finished(self, token_id, seed, seconds, loss, iterations, snap):
        if self.tokens is not None:
            self.progress.update(self.tokens, completed=snap.done)
        self.update(snap)
