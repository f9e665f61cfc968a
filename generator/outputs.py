"""Encoding results as bytes: the final PNG with its text chunks, and the progress video.

Bytes, not files: the caller decides where and how (atomically) they are written.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np
from PIL import Image
from PIL.PngImagePlugin import PngInfo

TEST_MODEL_KEY = "roboz:test-model"
TEST_MODELS_KEY = "roboz:test-models"  # which test pair: registry.TEST_MODELS' label


def png_bytes(image: Image.Image, *, prompt: str | None = None, seed: int | None = None, models: str | None = None,
              settings: dict | None = None, tiny: bool = False, test_models: str | None = None) -> bytes:
    """PNG with tEXt chunks naming what made it (prompt, seed, models, settings JSON, test-model flag and label)."""
    info = PngInfo()
    if prompt is not None:
        info.add_text("prompt", prompt)
    if seed is not None:
        info.add_text("seed", str(seed))
    if models is not None:
        info.add_text("models", models)
    if settings is not None:
        info.add_text("settings", json.dumps(settings, sort_keys=True))
    if tiny or test_models:
        info.add_text(TEST_MODEL_KEY, "true")
    if test_models:
        info.add_text(TEST_MODELS_KEY, test_models)
    buf = io.BytesIO()
    image.save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def mp4_bytes(frames: Iterable[Path | Image.Image], fps: int) -> bytes:
    """H.264 MP4 (yuv420p, plays in browsers and on OpenSea) from frames, via imageio-ffmpeg's bundled ffmpeg."""
    import imageio_ffmpeg

    frames = list(frames)
    if not frames:
        raise ValueError("no frames to encode")
    first = _load(frames[0])
    w, h = first.size
    fd, tmp = tempfile.mkstemp(suffix=".mp4")
    os.close(fd)
    try:
        # yuv420p needs even sides; macro_block_size=2 pads odd sizes by one pixel instead of 16.
        writer = imageio_ffmpeg.write_frames(tmp, (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
                                             macro_block_size=2, quality=8, ffmpeg_log_level="error")
        writer.send(None)
        for f in frames:
            writer.send(np.ascontiguousarray(np.asarray(_load(f).convert("RGB").resize((w, h)))))
        writer.close()
        return Path(tmp).read_bytes()
    finally:
        os.unlink(tmp)


def _load(f: Path | Image.Image) -> Image.Image:
    return f if isinstance(f, Image.Image) else Image.open(f)
