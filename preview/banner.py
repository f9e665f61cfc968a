"""The collection banner in the preview, and the TEST / DEMO RENDER ribbon drawn on contact sheets.

The banner itself (which tokens, how they are drawn) is metadata/banner.py's: it is published as
images/banner.png and named by collection.json's `banner_image`. The preview draws it with the same
rule, so after `metadata` it writes nothing new; before `metadata`, it shows what will be published.
"""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageFont

from buildfiles.atomicio import write_bytes
from preview.sources import BuildView, TokenView
from preview.thumbs import UnreadableImage
from metadata.banner import BANNER_NAME, BANNER_TILE, BANNER_TILES, UnreadablePicture, banner_ids, compose_banner

BANNER_FILE = f"images/{BANNER_NAME}"   # build-relative: the very file the metadata step publishes
__all__ = ["BANNER_FILE", "BANNER_TILE", "BANNER_TILES", "banner_tokens", "write_banner", "label_text",
           "draw_corner_ribbon", "draw_label_badge"]
RIBBON = (220, 38, 38)       # red: a warning, not decoration
RIBBON_TEXT = (255, 255, 255)
LABEL_TEXT = {"test": "TEST RENDER", "demo": "DEMO RENDER"}


def banner_tokens(view: BuildView, n: int = BANNER_TILES) -> list[TokenView]:
    by_id = {t.id: t for t in view.tokens if t.image}
    return [by_id[i] for i in banner_ids(((t.id, t.special, t.rank) for t in by_id.values()), n)]


def label_text(labels) -> str | None:
    """One ribbon text for a set of labels: "TEST RENDER", "DEMO RENDER" or both."""
    return " / ".join(LABEL_TEXT[k] for k in ("test", "demo") if k in labels) or None


def write_banner(view: BuildView) -> str | None:
    """BUILD/images/banner.png from the view's tokens; None (and no file) when nothing is rendered yet."""
    tokens = banner_tokens(view)
    out = view.build_dir / BANNER_FILE
    if not tokens:
        out.unlink(missing_ok=True)
        return None
    try:
        data = compose_banner([view.build_dir / t.image for t in tokens])
    except UnreadablePicture as e:
        raise UnreadableImage(e.path.relative_to(view.build_dir).as_posix(), e.reason).user_error() from None
    try:
        if out.read_bytes() == data:
            return BANNER_FILE
    except FileNotFoundError:
        pass
    write_bytes(out, data)
    return BANNER_FILE


def draw_corner_ribbon(im: Image.Image, text: str, size: int) -> None:
    """A diagonal ribbon across the top-left corner, `size` pixels along each edge."""
    size = max(24, min(size, im.width, im.height))
    band = max(10, size // 4)
    font = ImageFont.load_default(size=max(7, int(band * 0.55)))
    # Draw the band horizontally on its own layer, rotate it 45 degrees and paste it on the corner.
    length = int(size * 1.5)
    layer = Image.new("RGBA", (length, band), RIBBON + (235,))
    d = ImageDraw.Draw(layer)
    w = d.textlength(text, font=font)
    while w > length - 4 and font.size > 6:
        font = ImageFont.load_default(size=font.size - 1)
        w = d.textlength(text, font=font)
    d.text(((length - w) / 2, (band - font.size) / 2 - 1), text, font=font, fill=RIBBON_TEXT)
    rot = layer.rotate(45, expand=True, resample=Image.Resampling.BICUBIC)
    # centre the band on the diagonal from (0, size*0.7) to (size*0.7, 0)
    cx = cy = int(size * 0.35)
    box = Image.new("RGBA", im.size, (0, 0, 0, 0))
    box.paste(rot, (cx - rot.width // 2, cy - rot.height // 2), rot)
    base = im.convert("RGBA")
    base.alpha_composite(box)
    im.paste(base.convert(im.mode))


def draw_label_badge(draw: ImageDraw.ImageDraw, text: str, right: int, top: int, font_size: int) -> None:
    """A red "TEST RENDER" badge ending at `right` (sheet headers)."""
    font = ImageFont.load_default(size=font_size)
    w = draw.textlength(text, font=font)
    pad = max(3, font_size // 3)
    draw.rectangle([right - w - 2 * pad, top, right, top + font_size + 2 * pad], fill=RIBBON)
    draw.text((right - w - pad, top + pad - 1), text, font=font, fill=RIBBON_TEXT)
