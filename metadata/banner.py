"""The collection banner: a strip of real tokens side by side, never one token stretched.

It is published with the images (images/banner.png, so `ipfs-car pack images/` gives the same
CID) and collection.json's `banner_image` points at it. The metadata step draws it after rarity
is known; the preview draws it with the same rule from rarity.json, so both write the same bytes
and a preview after `metadata` leaves the published folder untouched.

Which tokens: specials first, then the rarest, then by id; eight of them, each fitted into its
own square (small draft renders enlarged by whole pixels, nearest-neighbour, so they stay crisp).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable

from PIL import Image

from metadata.pictures import BACKGROUND, DECODE_ERRORS, fit_picture

BANNER_NAME = "banner.png"          # its name inside the images folder
BANNER_TILES = 8
BANNER_TILE = 240                   # 8 x 240 = 1920 x 240


def banner_ids(tokens: Iterable[tuple[int, str | None, int | None]], n: int = BANNER_TILES) -> list[int]:
    """(id, special, rarity rank or None) of the rendered tokens -> the ids shown, left to right."""
    key = lambda t: (t[1] is None, t[2] if t[2] is not None else float("inf"), t[0])  # noqa: E731
    return [t[0] for t in sorted(tokens, key=key)[:n]]


class UnreadablePicture(Exception):
    """A picture of the strip that Pillow cannot decode; the caller names it in its own words."""

    def __init__(self, path: Path, reason: str):
        super().__init__(str(path), reason)
        self.path, self.reason = Path(path), reason


def compose_banner(pictures: list[Path], side: int = BANNER_TILE) -> bytes:
    """The strip as PNG bytes (deterministic: same pictures, same bytes); UnreadablePicture names
    a picture that cannot be decoded."""
    strip = Image.new("RGB", (side * len(pictures), side), BACKGROUND)
    for k, src in enumerate(pictures):
        try:
            im = fit_picture(src, side)
        except DECODE_ERRORS as e:
            raise UnreadablePicture(src, str(e) or type(e).__name__) from None
        if im.size != (side, side):
            # whole-pixel enlargement left a margin (e.g. 64 -> 192 in 240): fill the square exactly
            im = im.resize((side, side), Image.Resampling.NEAREST if max(im.size) < side else Image.Resampling.LANCZOS)
        strip.paste(im, (k * side, 0))
    buf = io.BytesIO()
    strip.save(buf, "PNG", optimize=False, compress_level=6)
    return buf.getvalue()
