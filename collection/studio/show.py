"""Showing the picture as it forms: inline in a notebook, or a file beside it in a terminal.

The loop emits a "preview" image every `preview_every` iterations (generator/loop.py); the
render writer keeps it as progress/{id}.png like any build. The studio shows it too: under
IPython with a kernel (Jupyter, Colab) it is one output updated in place; elsewhere the file
`progress.png` in the studio folder is replaced atomically, so an image viewer watching it
never reads half a PNG.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Callable

from buildfiles import atomicio

Show = Callable[[int, int, Any], None]   # (token id, iteration, PIL image)


def in_notebook() -> bool:
    """True under IPython with a kernel (a notebook or Colab), not in a terminal IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


class InlineDisplay:
    """One notebook output per token, updated in place (IPython.display's display ids)."""

    def __init__(self):
        self.handles: dict[int, Any] = {}

    def __call__(self, token_id: int, iteration: int, image) -> None:
        from IPython.display import display

        if token_id in self.handles:
            self.handles[token_id].update(image)
        else:
            self.handles[token_id] = display(image, display_id=True)


class FileDisplay:
    """folder/progress.png (one token) or folder/progress-{id}.png, replaced atomically."""

    def __init__(self, folder: Path, single: bool = True):
        self.folder, self.single = Path(folder), single

    def path(self, token_id: int) -> Path:
        return self.folder / ("progress.png" if self.single else f"progress-{token_id}.png")

    def __call__(self, token_id: int, iteration: int, image) -> None:
        buf = io.BytesIO()
        image.save(buf, "PNG")
        atomicio.write_bytes(self.path(token_id), buf.getvalue())


def make_show(folder: Path, mode: str = "auto", single: bool = True) -> Show | None:
    """mode: auto (inline in a notebook, else file), inline, file, or none."""
    if mode == "none":
        return None
    if mode == "inline" or (mode == "auto" and in_notebook()):
        return InlineDisplay()
    return FileDisplay(folder, single)


class ShowingExecutor:
    """An executor that shows every "preview" image the one it wraps emits, then passes every event on."""

    def __init__(self, inner, show: Show | None):
        self.inner, self.show = inner, show

    def __getattr__(self, name: str):  # name, info, detail: the wrapped executor's
        return getattr(self.inner, name)

    def device(self, requested: str | None) -> str:
        return self.inner.device(requested)

    def run(self, models: str, batches, emit, should_stop) -> None:
        from collection.render.render_events import ImageOut

        def tee(ev) -> None:
            emit(ev)
            if self.show is not None and isinstance(ev, ImageOut) and ev.kind == "preview":
                self.show(ev.id, ev.iteration, ev.image)

        self.inner.run(models, batches, tee, should_stop)

    def close(self) -> None:
        self.inner.close()
