"""Thumbnails, cached in BUILD/.thumbs/{size}/ so re-running the preview is fast.

`images/7.png` thumbnails to `.thumbs/256/images/7.jpg`. The entry's JPEG comment
holds a key made of the source's mtime and size, so a re-rendered image is noticed
and its entry overwritten. Names stay the same across runs because the gallery
links these files directly. (A key in the file name would force a directory scan
per entry to remove the old one: quadratic at 10,000 tokens.)
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from buildfiles.errors import UserError
from metadata.pictures import DECODE_ERRORS, fit_picture

THUMB_DIR = ".thumbs"
THUMB_VERSION = 3  # bump when make_thumb's output changes, so old entries are remade


class UnreadableImage(Exception):
    """A source image that Pillow cannot decode (truncated, empty, not an image).

    Plain args, so it crosses the process pool intact; the parent turns it into one
    UserError line naming the file.
    """

    def __init__(self, src: str, reason: str):
        super().__init__(src, reason)
        self.src, self.reason = src, reason

    def user_error(self) -> UserError:
        hint = "re-render it (delete the file and run `roboz-collection render BUILD_DIR`)"
        parts = self.src.split("/")
        if len(parts) == 2 and parts[0] == "images" and parts[1].removesuffix(".png").isdigit():
            hint = f"re-render token {parts[1].removesuffix('.png')}: delete {self.src} and run `roboz-collection render BUILD_DIR`"
        return UserError(f"{self.src} cannot be read: {self.reason}", hint=hint)


@dataclass(frozen=True)
class Thumb:
    image: Image.Image
    path: str     # build-relative cache path
    made: bool    # False: served from the cache


def thumb_relpath(src_rel: str, size: int) -> str:
    return f"{THUMB_DIR}/{size}/{src_rel.rsplit('.', 1)[0]}.jpg"


def cache_key(st: os.stat_result) -> bytes:
    return f"roboz-thumb/{THUMB_VERSION}:{st.st_mtime_ns}:{st.st_size}".encode()


def cached_thumb_path(build_dir: Path, src_rel: str, size: int) -> str | None:
    """The cache entry for `src_rel` if it exists and is current, else None (reads headers only)."""
    rel = thumb_relpath(src_rel, size)
    try:
        key = cache_key(os.stat(build_dir / src_rel))
        with Image.open(build_dir / rel) as im:
            return rel if im.info.get("comment") == key else None
    except (FileNotFoundError, OSError):
        return None


def make_thumb(src: Path, size: int) -> Image.Image:
    """Fit `src` inside size x size, keeping its aspect ratio. UnreadableImage if it cannot be decoded."""
    try:
        return fit_picture(src, size)
    except DECODE_ERRORS as e:
        rel = "/".join(Path(src).parts[-2:])
        raise UnreadableImage(rel, str(e) or type(e).__name__) from None


def get_thumb(build_dir: Path, src_rel: str, size: int) -> Thumb:
    src = build_dir / src_rel
    try:
        key = cache_key(os.stat(src))
    except OSError as e:
        raise UnreadableImage(src_rel, e.strerror or str(e)) from None
    rel = thumb_relpath(src_rel, size)
    path = build_dir / rel
    try:
        with Image.open(path) as im:
            if im.info.get("comment") == key:
                im.load()
                return Thumb(im.convert("RGB"), rel, made=False)
    except FileNotFoundError:
        pass
    except OSError:
        pass  # a truncated entry (a crash mid-write): remake it
    try:
        im = make_thumb(src, size)
    except UnreadableImage as e:
        raise UnreadableImage(src_rel, e.reason) from None
    data = _store(path, im, key)
    # Hand back the decoded JPEG, not the pre-JPEG pixels, so a sheet drawn on a
    # cold cache is byte-identical to one drawn from the cache.
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        return Thumb(im.convert("RGB"), rel, made=True)


def _store(path: Path, im: Image.Image, key: bytes) -> bytes:
    # Atomic rename, but no fsync: the cache is disposable and entries are verified
    # on read; 10,000 fsyncs would cost more than making the thumbnails.
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=88, comment=key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(buf.getvalue())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return buf.getvalue()
