"""The render step: plan.json in, images/ snapshots/ animations/ renders/ out, resumable.

The generator paints (generator.loop.Renderer, which writes nothing); this module decides
what still needs painting, hands it jobs and checkpoints, and writes everything it reports
atomically into the build directory:

    images/{id}.png              final image, PNG text: prompt, seed, models, settings
    snapshots/{id}/{iter:04d}.png
    frames/{id}/{iter:05d}.png   progress frames, kept on disk so a resumed video is whole
    animations/{id}.mp4
    renders/{id}.json            render facts
    checkpoints/{id}.pt          while unfinished
    state.sqlite
"""

from __future__ import annotations

import hashlib
import io
import json
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from buildfiles import atomicio
from buildfiles.errors import UserError
from buildfiles.hashing import sha256_bytes
from buildfiles.lock import build_lock
from buildfiles.plan import Plan, PlannedToken, load_plan
from buildfiles.records import RenderRecord, image_path, write_record
from collection.best_of import Judges, write_candidates
from collection.reroll import effective_plan

BUNDLED_JAX = Path(__file__).parent / "assets" / "jax.png"


@dataclass
class RenderReport:
    rendered: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    seconds: float = 0.0
    errors: dict[int, str] = field(default_factory=dict)

    @property
    def counts(self) -> dict[str, int]:
        return {"rendered": len(self.rendered), "skipped": len(self.skipped), "failed": len(self.failed)}


# ---- pure helpers ---------------------------------------------------------------------------

def fingerprint(token: PlannedToken, settings_dict: dict[str, Any]) -> str:
    """What a token's pixels depend on. A changed fingerprint invalidates its state and checkpoint."""
    blob = json.dumps({"prompt": token.prompt, "seed": token.seed, "settings": settings_dict}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def pick_device(device: str | None) -> str:
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {device}: no CUDA device is available here", hint="use --device cpu", exit_code=2)
    if device != "cpu" and not device.startswith("cuda"):
        raise UserError(f"unknown device {device!r}", hint="use cpu, cuda or cuda:N", exit_code=2)
    return device


def resolve_input(build_dir: Path, rel: str) -> Path:
    p = build_dir / rel
    if p.exists():
        return p
    if rel == "jax" and BUNDLED_JAX.exists():
        return BUNDLED_JAX
    raise UserError(f"input image {p} not found", hint="re-run `roboz-collection plan` to copy inputs into the build directory")


# ---- file writers (the side effects) -------------------------------------------------------

class BuildWriter:
    """Turns the renderer's callbacks into atomic files and state rows."""

    def __init__(self, build_dir: Path, state, tokens: dict[int, tuple[PlannedToken, Any, str]], models_name: str, tiny: bool):
        self.dir = build_dir
        self.state = state
        self.tokens = tokens  # id -> (token, settings, fingerprint)
        self.models_name = models_name
        self.tiny = tiny

    def checkpoint_path(self, token_id: int) -> Path:
        return self.dir / "checkpoints" / f"{token_id}.pt"

    def on_checkpoint(self, token_id: int, ckpt: dict[str, Any]) -> None:
        import torch

        ckpt = {**ckpt, "fingerprint": self.tokens[token_id][2]}
        buf = io.BytesIO()
        torch.save(ckpt, buf)
        path = self.checkpoint_path(token_id)
        atomicio.write_bytes(path, buf.getvalue())
        self.state.rendering(token_id, self.tokens[token_id][2], ckpt["iteration"], str(path.relative_to(self.dir)))

    def on_image(self, token_id: int, kind: str, iteration: int, image) -> None:
        from generator.outputs import png_bytes

        if kind == "snapshot":
            path = self.dir / "snapshots" / str(token_id) / f"{iteration:04d}.png"
        else:
            path = self.dir / "frames" / str(token_id) / f"{iteration:05d}.png"
        atomicio.write_bytes(path, png_bytes(image, tiny=self.tiny))

    def on_result(self, r) -> None:
        from generator.outputs import mp4_bytes, png_bytes

        token, settings, fp = self.tokens[r.id]
        sd = settings.to_dict()
        seed = r.seed if r.seed is not None else token.seed  # best-of-K: the chosen candidate's
        png = png_bytes(r.image, prompt=token.prompt, seed=seed, models=self.models_name, settings=sd, tiny=self.tiny)
        atomicio.write_bytes(image_path(self.dir, r.id), png)
        if settings.video:
            frames_dir = self.dir / "frames" / str(r.id)
            frames = sorted(p for p in frames_dir.glob("*.png") if int(p.stem) <= r.iterations)
            if frames:
                atomicio.write_bytes(self.dir / "animations" / f"{r.id}.mp4", mp4_bytes(frames, settings.video.fps))
        write_record(self.dir, RenderRecord(
            id=r.id, seed=seed, models=self.models_name, tiny=self.tiny, iterations=r.iterations,
            size=tuple(r.image.size), final_loss=r.final_loss, seconds=round(r.seconds, 3), device=r.device,
            settings=sd, prompt=token.prompt, image_sha256=sha256_bytes(png),
            extra=write_candidates(self.dir, r, self.tiny),
        ))
        self.state.done(r.id, fp, r.iterations)
        self.checkpoint_path(r.id).unlink(missing_ok=True)


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


# ---- the step ------------------------------------------------------------------------------

def _load_checkpoint(build_dir: Path, token_id: int, fp: str):
    """The token's checkpoint if it belongs to this token's current fingerprint.

    The file, not the state row, is the truth: a crash between writing the file and
    updating the row must not lose the progress in it.
    """
    import torch

    path = build_dir / "checkpoints" / f"{token_id}.pt"
    if not path.exists():
        return None
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)  # our own plain-tensor file: no pickled code
    except Exception:
        return None  # unreadable (cannot happen with atomic writes, but never worth a crash): start over
    return ck if ck.get("fingerprint") == fp else None


def _job(build_dir: Path, token: PlannedToken, settings, checkpoint):
    from PIL import Image

    from generator.loop import ImagePrompt, TokenJob
    from generator.prompts import parse_prompt

    init = Image.open(resolve_input(build_dir, settings.init_image)).convert("RGB") if settings.init_image else None
    prompts = []
    for item in settings.image_prompts:
        p = parse_prompt(item)
        prompts.append(ImagePrompt(Image.open(resolve_input(build_dir, p.text)).convert("RGB"), p.weight, p.stop))
    return TokenJob(token.id, token.prompt, token.seed, settings, init, tuple(prompts), checkpoint)


def select_tokens(build_dir: Path, plan: Plan, state, models: str | None, dev: str,
                  skipped: list[int], only: set[int] | None = None) -> tuple[dict[str, list[PlannedToken]], dict[int, tuple]]:
    """Decide per token: skip (done, same fingerprint, image present; appended to `skipped`) or render (maybe resume).

    Returns (models name -> tokens to render, id -> (token, settings, fingerprint)); shared by both executors.
    """
    from collection.state import DONE
    from generator.registry import parse_models
    from generator.settings import RenderSettings

    todo: dict[str, list] = {}
    meta: dict[int, tuple] = {}
    for token in plan.tokens:
        if only is not None and token.id not in only:  # reroll: exactly the re-rolled tokens
            continue
        settings = RenderSettings.from_dict(plan.render_dict(token))
        if models:
            settings = settings.with_overrides({"models": models})
        if settings.precision == "fp16" and not dev.startswith("cuda"):
            raise UserError("precision fp16 needs a CUDA device", hint="use precision bf16 or fp32 on CPU", exit_code=2)
        name = str(parse_models(settings.models))
        fp = fingerprint(token, settings.to_dict())
        row = state.get(token.id)
        if row and row.status == DONE and row.fingerprint == fp and (build_dir / "images" / f"{token.id}.png").exists():
            skipped.append(token.id)
            continue
        meta[token.id] = (token, settings, fp)
        todo.setdefault(name, []).append(token)
    return todo, meta


def _clear_partial_writes(build_dir: Path, token_id: int) -> None:
    """Remove temp files a killed process left mid-write (atomicio's `.NAME.*.tmp`) in the token's folders."""
    for d in (build_dir / "frames" / str(token_id), build_dir / "snapshots" / str(token_id)):
        for p in d.glob(".*.tmp"):
            p.unlink(missing_ok=True)


def load_jobs(build_dir: Path, state, meta: dict[int, tuple], tokens: list[PlannedToken]) -> list:
    """TokenJobs for `tokens`, each resuming from its checkpoint when it has a valid one (else marked pending)."""
    jobs = []
    for token in tokens:
        _clear_partial_writes(build_dir, token.id)
        _, settings, fp = meta[token.id]
        ck = _load_checkpoint(build_dir, token.id, fp)
        if ck is None:
            state.pending(token.id, fp)
        jobs.append(_job(build_dir, token, settings, ck))
    return jobs


def render_build(build_dir: Path, *, models: str | None = None, device: str | None = None,
                 models_dir: Path | None = None, progress: bool = True, executor: str = "local",
                 ray_address: str | None = None, only: set[int] | None = None) -> RenderReport:
    """Render every token of build_dir/plan.json that is not done yet (of `only`, when given); see the module docstring for outputs.
    Holds the build directory's lock (buildfiles.lock) throughout."""
    if executor not in ("local", "ray"):
        raise UserError(f"unknown executor {executor!r}", hint="use --executor local or --executor ray", exit_code=2)
    if not Path(build_dir).is_dir():
        load_plan(build_dir)  # says plan.json is missing and how to make it
    with build_lock(build_dir, "render"):
        return _render_build(Path(build_dir), models=models, device=device, models_dir=models_dir, progress=progress,
                             executor=executor, ray_address=ray_address, only=only)


def _render_build(build_dir: Path, *, models: str | None, device: str | None, models_dir: Path | None,
                  progress: bool, executor: str, ray_address: str | None, only: set[int] | None = None) -> RenderReport:
    if executor == "ray":  # same selection, writer and state; tokens painted by Ray actors (collection/ray_executor.py)
        from collection.ray_executor import render_build_ray

        return render_build_ray(Path(build_dir), models=models, device=device, models_dir=models_dir, progress=progress,
                                address=ray_address)
    plan: Plan = effective_plan(build_dir, load_plan(build_dir))  # re-rolled seeds laid over the plan

    import torch

    from collection.state import RenderState
    from generator.loop import Callbacks, Interrupted, Renderer
    from generator.models import load_models

    t0 = time.perf_counter()
    dev = pick_device(device)
    if dev.startswith("cuda"):
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    report = RenderReport()
    state = RenderState(build_dir / "state.sqlite")
    try:
        todo, meta = select_tokens(build_dir, plan, state, models, dev, report.skipped, only)
        total = len(plan.tokens)
        display = _Display(total, len(report.skipped), enabled=progress)
        with stop_on_signals() as stop, display:
            for name, tokens in todo.items():
                m = load_models(name, dev, models_dir)
                writer = BuildWriter(build_dir, state, meta, m.name, m.tiny)
                jobs = load_jobs(build_dir, state, meta, tokens)
                renderer = Renderer(m)
                judges = Judges(models_dir)
                cb = Callbacks(
                    on_progress=display.on_progress,
                    on_checkpoint=writer.on_checkpoint,
                    on_image=writer.on_image,
                    on_result=lambda r: (writer.on_result(r), report.rendered.append(r.id), display.token_done()),
                    should_stop=lambda: stop[0],
                )
                from generator.loop import make_batches

                for batch in make_batches(jobs):
                    for j in batch:
                        state.rendering(j.id, meta[j.id][2], int(j.checkpoint["iteration"]) if j.checkpoint else 0,
                                        str(writer.checkpoint_path(j.id).relative_to(build_dir)) if j.checkpoint else None)
                    display.start_batch([j.id for j in batch], batch[0].settings.iterations,
                                        int(batch[0].checkpoint["iteration"]) if batch[0].checkpoint else 0)
                    try:
                        renderer.run_batch(batch, cb, judges.for_batch(m, batch))
                    except Interrupted:
                        raise KeyboardInterrupt from None
                    except (UserError, KeyboardInterrupt):
                        raise
                    except Exception as e:  # one bad batch must not lose the others
                        for j in batch:
                            state.failed(j.id, meta[j.id][2], f"{type(e).__name__}: {e}")
                            report.failed.append(j.id)
                            report.errors[j.id] = f"{type(e).__name__}: {e}"
    finally:
        state.close()
    report.seconds = time.perf_counter() - t0
    return report


class LiveDisplay:
    """A rich Progress used as a context manager, and a no-op when disabled (--no-progress)."""

    enabled: bool
    progress: Any

    def __enter__(self):
        if self.enabled:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self.enabled:
            self.progress.__exit__(*exc)


class _Display(LiveDisplay):
    """One rich live display: tokens done/total, current tokens, iteration, it/s, ETA, loss."""

    def __init__(self, total: int, done: int, enabled: bool):
        self.enabled = enabled
        self.total, self.done = total, done
        if not enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            TextColumn("{task.fields[loss]}"),
            transient=False,
        )
        self.tokens_task = self.progress.add_task("tokens", total=total, completed=done, rate="", loss="")
        self.iter_task = None

    def start_batch(self, ids: list[int], iterations: int, start: int) -> None:
        if not self.enabled:
            return
        label = "token " + ",".join(map(str, ids[:4])) + ("…" if len(ids) > 4 else "")
        if self.iter_task is not None:
            self.progress.remove_task(self.iter_task)
        self.iter_task = self.progress.add_task(label, total=iterations, completed=start, rate="", loss="")
        self._t = time.perf_counter()
        self._start = start

    def on_progress(self, p) -> None:
        if not self.enabled or self.iter_task is None:
            return
        el = time.perf_counter() - self._t
        rate = (p.iteration - self._start) / el if el > 0 else 0.0
        loss = sum(p.losses) / len(p.losses)
        self.progress.update(self.iter_task, completed=p.iteration, rate=f"{rate:.2f} it/s", loss=f"loss {loss:.4f}")

    def token_done(self) -> None:
        self.done += 1
        if self.enabled:
            self.progress.update(self.tokens_task, completed=self.done)
