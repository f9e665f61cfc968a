"""What an executor hands back to the render driver, and what an executor is.

The driver (collection/render/render_step.py) owns the plan, the state, which tokens to paint, the
files, the progress display and the report. An executor (local, Ray) only runs batches of
`generator.loop.TokenJob`s and emits these events, in order per batch:

    BatchStarted  once per batch, before its first iteration (or first segment on Ray)
    Progress      iterations done so far for a batch (every iteration locally, every segment on Ray)
    ImageOut      a snapshot or video frame
    Checkpoint    a token's resumable state (every checkpoint_every iterations)
    Finished      a token's final image and facts (generator.loop.TokenResult)
    BatchFailed   the batch raised; its tokens are failed, the other batches go on

Events are plain data: an executor on another machine sends the same ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence, Union


@dataclass(frozen=True)
class BatchStarted:
    ids: tuple[int, ...]
    start: int          # the iteration it resumes from (0 when fresh)
    total: int          # iterations of a finished token


@dataclass(frozen=True)
class Progress:
    ids: tuple[int, ...]
    iteration: int
    total: int
    losses: tuple[float, ...]


@dataclass(frozen=True)
class ImageOut:
    id: int
    kind: str           # "snapshot" or "frame"
    iteration: int
    image: Any          # PIL image


@dataclass(frozen=True)
class Checkpoint:
    id: int
    state: dict[str, Any]


@dataclass(frozen=True)
class Finished:
    result: Any         # generator.loop.TokenResult


@dataclass(frozen=True)
class BatchFailed:
    ids: tuple[int, ...]
    error: str


Event = Union[BatchStarted, Progress, ImageOut, Checkpoint, Finished, BatchFailed]
Emit = Callable[[Event], None]


@dataclass
class RunInfo:
    """What an executor tells the report about how it ran (Ray: workers and segments)."""

    workers: int = 0
    # every segment received, in order: (token ids, from iteration, to iteration, worker pid, host)
    segments: list[tuple[tuple[int, ...], int, int, int, str]] = field(default_factory=list)


class Executor(Protocol):
    """Runs batches of TokenJobs on some device(s), reporting only through `emit`."""

    name: str
    info: RunInfo
    detail: str     # shown beside the device once device() ran, e.g. "2 torch threads"

    def device(self, requested: str | None) -> str:
        """The device string jobs run on (checks that it exists where the work runs)."""

    def run(self, models: str, batches: Sequence[Sequence[Any]], emit: Emit, should_stop: Callable[[], bool]) -> None:
        """Paint every batch with `models`, or return early once should_stop() (every running token checkpointed)."""

    def close(self) -> None:
        ...


def batch_start(jobs: Sequence[Any]) -> int:
    """The iteration a batch resumes from (its tokens share it: generator.loop.batch_key)."""
    ck = jobs[0].checkpoint
    return int(ck["iteration"]) if ck else 0
