"""The local executor: paints batches in this process, one after another, and emits events."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from buildfiles.errors import UserError
from collection.render.render_events import (BatchFailed, BatchStarted, Checkpoint, Emit, Finished, ImageOut, Progress,
                                      RunInfo, batch_start)


def pick_device(device: str | None) -> str:
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {device}: no CUDA device is available here", hint="use --device cpu", exit_code=2)
    if device != "cpu" and not device.startswith("cuda"):
        raise UserError(f"unknown device {device!r}", hint="use cpu, cuda or cuda:N", exit_code=2)
    return device


class LocalExecutor:
    name = "local"

    def __init__(self, models_dir: Path | None = None, threads: int | None = None):
        self.models_dir, self.threads = models_dir, threads
        self.info = RunInfo(workers=1)
        self.dev = "cpu"
        self.detail = ""
        self._caller_threads: int | None = None
        self.levers = None  # generator.loop.Levers the build paints with (collection.render.levers); None: the default
        self._loaded: tuple[str, object] | None = None  # the last models loaded: a calibration's are the first batch's

    def _models(self, models: str):
        from generator.models import load_models

        if self._loaded is None or self._loaded[0] != models:
            self._loaded = None  # one pair in memory at a time
            self._loaded = (models, load_models(models, self.dev, self.models_dir))
        return self._loaded[1]

    def calibrate(self, models: str, jobs: Sequence, build_iterations: int, log: Callable[[str], None]):
        """Time the levers this device supports on `jobs` (generator.calibrate); paints nothing to keep."""
        from generator.calibrate import calibrate

        return calibrate(self._models(models), jobs, build_iterations=build_iterations, log=log)

    def device(self, requested: str | None) -> str:
        import torch

        from collection.render.threads import setup_torch

        self.dev = pick_device(requested)
        self._caller_threads = torch.get_num_threads()  # given back on close: a render leaves its caller's count alone
        n = setup_torch(self.dev, self.threads)
        self.detail = f"{n} torch thread{'s' if n != 1 else ''}" if self.dev == "cpu" else ""
        return self.dev

    def run(self, models: str, batches: Sequence[Sequence], emit: Emit, should_stop: Callable[[], bool]) -> None:
        from collection.render.best_of import Judges
        from generator.candidates import run_batch
        from generator.loop import Callbacks, Interrupted, Levers, Renderer

        m = self._models(models)
        renderer = Renderer(m, self.levers or Levers())
        judges = Judges(self.models_dir)  # best-of-K: loaded only when a batch asks for candidates
        cb = Callbacks(
            on_progress=lambda p: emit(Progress(p.token_ids, p.iteration, p.total, p.losses)),
            on_checkpoint=lambda tid, ck: emit(Checkpoint(tid, ck)),
            on_image=lambda tid, kind, it, img: emit(ImageOut(tid, kind, it, img)),
            on_result=lambda r: emit(Finished(r)),
            should_stop=should_stop,
        )
        for batch in batches:
            if should_stop():
                return
            ids = tuple(j.id for j in batch)
            emit(BatchStarted(ids, batch_start(batch), batch[0].settings.iterations))
            try:
                run_batch(renderer, batch, cb, judges.for_batch(m, batch))
            except Interrupted:
                return  # every token of the batch checkpointed; the driver sees the stop request
            except (UserError, KeyboardInterrupt):
                raise
            except _out_of_memory() as e:  # the next batch of this size would fail the same way: stop, say what to lower
                from collection.render.memory import oom_message

                raise UserError(oom_message(batch[0].settings, self.dev),
                                hint="finished tokens and checkpoints are kept; lower the settings and run again",
                                exit_code=1) from e
            except Exception as e:  # one bad batch must not lose the others
                emit(BatchFailed(ids, f"{type(e).__name__}: {e}"))

    def close(self) -> None:
        self._loaded = None
        n = self._caller_threads
        if n:
            import torch

            torch.set_num_threads(n)


def _out_of_memory() -> type[BaseException]:
    import torch

    # torch.OutOfMemoryError (CUDA and other accelerators) since torch 2.5; torch.cuda's before
    return getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
