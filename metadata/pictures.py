"""A rendered picture fitted into a square: the one rule the preview's thumbnails and the collection
banner share, so a token looks the same on a contact sheet, in the gallery and on the banner.

Pillow only (no torch, nothing of collection), so the metadata step can draw the banner it publishes.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

BACKGROUND = (24, 24, 27)   # behind transparent pixels and around pictures that are not square

# What Pillow raises for a file it cannot decode: OSError covers "image file is truncated" and
# UnidentifiedImageError; SyntaxError and ValueError come from broken headers.
DECODE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def fit_picture(src: Path, size: int) -> Image.Image:
    """`src` fitted inside size x size, aspect ratio kept, as RGB. Raises one of DECODE_ERRORS."""
    with Image.open(src) as im:
        # draft() lets JPEG decode at 1/2../1/8 scale. reducing_gap=1 makes thumbnail()
        # box-average by the whole factor first (512 -> 256 is one reduce(2), 20x
        # faster than Lanczos at full size) and resample only what is left.
        im.draft("RGB", (size, size))
        im.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=1.0)
        # Draft renders (64 px) would sit as stamps in a 256 px tile: enlarge by a whole
        # factor with nearest-neighbour, so the pixels stay honest rather than blurred.
        factor = size // max(im.size)
        if factor >= 2:
            return to_rgb(im.resize((im.width * factor, im.height * factor), Image.Resampling.NEAREST))
        return to_rgb(im)


def to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im.copy() if im.readonly else im
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        bg = Image.new("RGB", rgba.size, BACKGROUND)
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    if im.mode.startswith("I;16") or im.mode == "I":
        return im.point(lambda v: v / 257).convert("RGB")
    return im.convert("RGB")
