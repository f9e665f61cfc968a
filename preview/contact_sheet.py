"""Contact sheets: pages of captioned thumbnails, drawn with Pillow only.

A sheet is described by a `SheetJob` (plain data, so it can cross a process
boundary); `render_sheet` draws one page and is the unit of parallel work, which
keeps thumbnailing and page drawing in the same process: a thumbnail is decoded
once, pasted, and cached for the next run and for the gallery.
"""

from __future__ import annotations

import io
import math
import multiprocessing
import os
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Sequence

from PIL import Image, ImageDraw, ImageFont

from buildfiles.atomicio import write_bytes
from preview.sources import TokenView
from preview.thumbs import get_thumb

BACKGROUND = (24, 24, 27)
TILE = (39, 39, 42)
TEXT = (228, 228, 231)
MUTED = (161, 161, 170)
CAPTION_LINES = 3          # "#id", then up to two lines of trait values
LABEL_SHORT = {"test": "TEST RENDER", "demo": "DEMO RENDER"}
PARALLEL_MIN_TILES = 96    # below this, starting worker processes costs more than it saves


@dataclass(frozen=True)
class Tile:
    src: str | None            # build-relative image; None draws a "not rendered" placeholder
    lines: tuple[str, ...]     # caption; the first line is emphasised
    label: str | None = None   # "test" / "demo": a ribbon across the tile's corner
    empty: str = "not rendered"  # what the tile says when it has no image


@dataclass(frozen=True)
class SheetJob:
    out: str                   # build-relative output path
    title: str
    tiles: tuple[Tile | None, ...]   # None leaves its slot blank (to start a new row)
    columns: int
    thumb_size: int
    caption_lines: int = CAPTION_LINES


@dataclass(frozen=True)
class SheetResult:
    path: Path
    thumbs_made: int
    thumbs_cached: int


@dataclass(frozen=True)
class Layout:
    thumb: int
    margin: int
    font_size: int
    line_h: int
    caption_h: int
    header_h: int

    @classmethod
    def for_thumb(cls, thumb: int, caption_lines: int = CAPTION_LINES) -> "Layout":
        fs = max(10, min(18, thumb // 15))
        line_h = fs + max(2, fs // 3)
        margin = max(6, thumb // 24)
        return cls(thumb, margin, fs, line_h, line_h * caption_lines + margin // 2, 2 * (fs + 6) + margin)

    def size(self, columns: int, rows: int) -> tuple[int, int]:
        w = columns * self.thumb + (columns + 1) * self.margin
        h = self.header_h + rows * (self.thumb + self.caption_h + self.margin) + self.margin
        return w, h

    def origin(self, index: int, columns: int) -> tuple[int, int]:
        r, c = divmod(index, columns)
        x = self.margin + c * (self.thumb + self.margin)
        y = self.header_h + r * (self.thumb + self.caption_h + self.margin)
        return x, y


def token_tile(t: TokenView) -> Tile:
    head = f"#{t.id}" + (f"  * {t.special}" if t.special else "")
    body = " · ".join(t.traits.values()) if t.traits else t.name
    return Tile(t.image, (head, body), t.label if t.image else None)


def paginate(items: Sequence, per_page: int) -> list[tuple]:
    return [tuple(items[i : i + per_page]) for i in range(0, len(items), per_page)] or [()]


def render_sheet(build_dir: Path, job: SheetJob) -> SheetResult:
    from preview.banner import draw_corner_ribbon, draw_label_badge, label_text

    lay = Layout.for_thumb(job.thumb_size, job.caption_lines)
    rows = max(1, math.ceil(len(job.tiles) / job.columns))
    page = Image.new("RGB", lay.size(job.columns, rows), BACKGROUND)
    draw = ImageDraw.Draw(page)
    font, bold = _font(lay.font_size), _font(lay.font_size + 4)
    badge = label_text({t.label for t in job.tiles if t is not None and t.label})
    title_w = page.width - 2 * lay.margin
    if badge:
        # the header says it too, so a sheet cropped to its top still tells the truth
        title_w -= int(bold.getlength(badge)) + 3 * lay.margin
        draw_label_badge(draw, badge, page.width - lay.margin, lay.margin, lay.font_size + 2)
    draw.text((lay.margin, lay.margin), _fit(job.title, bold, max(10, title_w)), font=bold, fill=TEXT)

    made = cached = 0
    for i, tile in enumerate(job.tiles):
        if tile is None:
            continue
        x, y = lay.origin(i, job.columns)
        draw.rectangle([x, y, x + lay.thumb - 1, y + lay.thumb - 1], fill=TILE)
        if tile.src is None:
            _placeholder(draw, x, y, lay, font, tile.empty)
        else:
            th = get_thumb(build_dir, tile.src, job.thumb_size)
            made, cached = made + th.made, cached + (not th.made)
            im = th.image
            if tile.label:
                im = im.copy()
                draw_corner_ribbon(im, LABEL_SHORT.get(tile.label, tile.label.upper()), size=max(24, min(im.size) * 2 // 5))
            page.paste(im, (x + (lay.thumb - im.width) // 2, y + (lay.thumb - im.height) // 2))
        _caption(draw, tile.lines, x, y + lay.thumb + lay.margin // 2, lay, font, job.caption_lines)

    buf = io.BytesIO()
    # Encoding dominates a cached re-run. Pages are photographic, where deflate's
    # string matching finds little: run-length + Huffman is ~15% faster than
    # level 1 for ~2% more bytes, and higher levels buy ~8% for 20% more time.
    page.save(buf, "PNG", compress_level=1, compress_type=zlib.Z_RLE)
    out = write_bytes(build_dir / job.out, buf.getvalue())
    return SheetResult(out, made, cached)


def render_sheets(
    build_dir: Path,
    jobs: Sequence[SheetJob],
    *,
    workers: int | None = None,
    on_done: Callable[[SheetResult], None] | None = None,
) -> list[SheetResult]:
    """Render every job, in worker processes when there is enough work; results in job order."""
    workers = workers or _cpus()
    tiles = sum(len(j.tiles) for j in jobs)
    if workers <= 1 or len(jobs) <= 1 or tiles < PARALLEL_MIN_TILES:
        results = []
        for j in jobs:
            results.append(render_sheet(build_dir, j))
            if on_done:
                on_done(results[-1])
        return results
    # fork where there is one: spawn re-imports __main__, which breaks any script
    # without a main guard (and stdin). Workers only run Pillow, so torch's idle
    # thread pool in a `build` parent is never touched in the child.
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    out: list[SheetResult | None] = [None] * len(jobs)
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=ctx) as ex:
        futures = {ex.submit(render_sheet, build_dir, j): i for i, j in enumerate(jobs)}
        for f in as_completed(futures):
            out[futures[f]] = f.result()
            if on_done:
                on_done(out[futures[f]])
    return out  # type: ignore[return-value]


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def _max_chars(font, width: int, lines: int = 1) -> int:
    # No glyph of the default font is narrower than ~1/5 of its size, so more characters
    # than this can never fit: cut there *before* measuring. A 10 KB trait value would
    # otherwise be measured thousands of times at its full length (quadratic).
    return lines * (int(width / max(1.0, font.size / 5)) + 2)


def _fit(text: str, font, width: int) -> str:
    cap = _max_chars(font, width)
    clipped = len(text) > cap
    text = text[:cap]
    if not clipped and font.getlength(text) <= width:
        return text
    # Longest prefix that fits with its ellipsis: binary search, O(log n) measurements.
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if font.getlength(text[:mid] + "…") <= width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "…"


def _wrap(text: str, font, width: int, max_lines: int) -> list[str]:
    cap = _max_chars(font, width, max_lines)
    if len(text) > cap:
        text = text[:cap] + "…"  # whatever is cut here could never have been shown
    words, lines, cur = text.split(" "), [], ""
    for w in words:
        trial = f"{cur} {w}" if cur else w
        if font.getlength(trial) <= width or not cur:
            cur = trial
        else:
            lines.append(cur)
            cur = w
    lines.append(cur)
    if len(lines) > max_lines:
        # the overflow joins the last line, which _fit then cuts with an ellipsis
        lines = lines[: max_lines - 1] + [" ".join(lines[max_lines - 1 :])]
    return [_fit(line, font, width) for line in lines]


def _caption(draw: ImageDraw.ImageDraw, lines: Iterable[str], x: int, y: int, lay: Layout, font,
             max_lines: int = CAPTION_LINES) -> None:
    lines = list(lines)
    if not lines:
        return
    draw.text((x, y), _fit(lines[0], font, lay.thumb), font=font, fill=TEXT)
    rest = _wrap(" ".join(lines[1:]), font, lay.thumb, max_lines - 1) if len(lines) > 1 else []
    for k, line in enumerate(rest, start=1):
        draw.text((x, y + k * lay.line_h), line, font=font, fill=MUTED)


def _placeholder(draw: ImageDraw.ImageDraw, x: int, y: int, lay: Layout, font, label: str = "not rendered") -> None:
    t = lay.thumb
    draw.line([x, y, x + t - 1, y + t - 1], fill=BACKGROUND, width=2)
    draw.line([x, y + t - 1, x + t - 1, y], fill=BACKGROUND, width=2)
    w = font.getlength(label)
    draw.rectangle([x + (t - w) / 2 - 4, y + t / 2 - lay.line_h / 2 - 2, x + (t + w) / 2 + 4, y + t / 2 + lay.line_h / 2 + 2], fill=TILE)
    draw.text((x + (t - w) / 2, y + (t - lay.font_size) / 2), label, font=font, fill=MUTED)
