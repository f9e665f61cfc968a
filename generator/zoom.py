"""Zoom video: the last frames of a render, each the one before zoomed in and painted again.

With `zoom: {frames: F, scale: s, iterations: K}` the last F·K of a token's `iterations` make
the video: the picture paints until iteration `start = iterations − F·K`; then, F times, the
current image is zoomed by `s` about its centre, encoded back into the latent (with a fresh
optimiser) and painted for K iterations. The video is the picture at `start` and after each
frame: F + 1 frames. Everything here is pure; the loop (generator/loop.py) calls it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from PIL import Image
from pydantic import Field


@dataclass(frozen=True)
class ZoomSettings:
    __pydantic_config__ = {"extra": "forbid"}

    frames: Annotated[int, Field(gt=0, le=10_000)] = 30
    scale: Annotated[float, Field(gt=1.0, le=4.0)] = 1.02
    iterations: Annotated[int, Field(gt=0)] = 10
    fps: Annotated[int, Field(gt=0, le=120)] = 12


def zoom_start(iterations: int, z: ZoomSettings) -> int:
    """The iteration at which the first zoom happens."""
    return iterations - z.frames * z.iterations


def zoom_points(iterations: int, z: ZoomSettings) -> tuple[int, ...]:
    """Iterations at whose start the image is zoomed (one per frame)."""
    start = zoom_start(iterations, z)
    return tuple(start + k * z.iterations for k in range(z.frames))


def frame_iterations(iterations: int, z: ZoomSettings) -> tuple[int, ...]:
    """Iterations whose picture is a video frame: every zoom point, then the last iteration."""
    return (*zoom_points(iterations, z), iterations)


def check(iterations: int, z: ZoomSettings) -> None:
    if zoom_start(iterations, z) < 0:
        raise ValueError(f"zoom needs frames × iterations = {z.frames} × {z.iterations} = {z.frames * z.iterations} "
                         f"iterations, more than the render's {iterations}; raise iterations or lower zoom frames/iterations")


def zoom_box(size: tuple[int, int], scale: float) -> tuple[float, float, float, float]:
    """The centred crop (left, top, right, bottom) that, resized to `size`, zooms in by `scale`."""
    w, h = size
    cw, ch = w / scale, h / scale
    left, top = (w - cw) / 2, (h - ch) / 2
    return left, top, left + cw, top + ch


def zoom_image(image: Image.Image, scale: float) -> Image.Image:
    """`image` zoomed in by `scale` about its centre, same size (Lanczos)."""
    return image.resize(image.size, Image.LANCZOS, box=zoom_box(image.size, scale))


def zoom_from_data(data) -> ZoomSettings | None:
    if data is None or isinstance(data, ZoomSettings):
        return data
    return ZoomSettings(**data)
