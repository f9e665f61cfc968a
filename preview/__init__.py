"""Preview: what an artist looks at to judge a collection.

    make_preview(build_dir)  ->  contact-sheets/sheet-001.png ...   pages of captioned thumbnails
                                 contact-sheets/by-<category>/<value>-001.png   (by_trait)
                                 contact-sheets/snapshots-<id>.png              (snapshot_token)
                                 images/banner.png                              a strip of tokens (as metadata draws it)
                                 gallery.html                                   static, offline page
                                 a rarity report printed to the terminal        (report)
    refresh_gallery(build_dir) ->  gallery.html again (after publish / mint: the status panel)

Reads plan.json, images/, snapshots/, animations/, renders/, metadata/, rarity.json,
cids.json, publish.json, mint.json; never imports torch. Thumbnails are cached in
.thumbs/, so a re-run only redoes pages.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from buildfiles.errors import UserError

SHEETS_DIR = "contact-sheets"
GATEWAY_ENV = "ROBOZ_IPFS_GATEWAY"   # the user's IPFS gateway for the page's links; none by default


@dataclass(frozen=True)
class PreviewOptions:
    """What the preview draws: one frozen object from the command line (`preview`, `build`)."""

    columns: int = 6
    rows: int = 8
    thumb_size: int = 256
    by_trait: str | None = None       # also one sheet per value of this category
    snapshot_token: int | None = None  # also a sheet of this token at its snapshot iterations
    workers: int | None = None        # sheet-drawing processes (None: the CPUs there are)
    gateway: str | None = None        # IPFS gateway for the page's CID links (None: $ROBOZ_IPFS_GATEWAY, else none)


@dataclass(frozen=True)
class PreviewReport:
    sheets: tuple[Path, ...]                          # the whole collection, paginated
    trait_sheets: dict[str, tuple[Path, ...]] = field(default_factory=dict)  # value -> pages
    snapshot_sheet: Path | None = None
    gallery: Path | None = None
    tokens: int = 0
    rendered: int = 0                                 # tokens with an image
    thumbs_made: int = 0
    thumbs_cached: int = 0
    rarity: bool = False                              # rarity.json was found
    seconds: float = 0.0


def make_preview(build_dir: Path, options: PreviewOptions | None = None, *, report: bool = True, console=None,
                 **fields: Any) -> PreviewReport:
    """Contact sheets, banner and gallery.html of a build; the rarity report printed when `report`.
    `fields` (thumb_size=32, …) are a short form of PreviewOptions; an unknown one is a TypeError."""
    from rich.console import Console

    from preview.banner import write_banner
    from preview.chain_status import gateway_base
    from preview.gallery import write_gallery
    from preview.rarity_report import print_report, summarize
    from preview.sources import load_build_view

    o = replace(options or PreviewOptions(), **fields)
    columns, rows, thumb_size, by_trait, snapshot_token = o.columns, o.rows, o.thumb_size, o.by_trait, o.snapshot_token
    if columns < 1 or rows < 1:
        raise UserError("--columns and rows must be at least 1", exit_code=2)
    if not 16 <= thumb_size <= 2048:
        raise UserError(f"--thumb-size {thumb_size} is out of range", hint="use 16 to 2048 pixels", exit_code=2)
    t0 = time.perf_counter()
    console = console or Console()
    build_dir = Path(build_dir)
    gateway = gateway_base(o.gateway if o.gateway is not None else os.environ.get(GATEWAY_ENV))
    view = load_build_view(build_dir)

    main = main_jobs(view, columns, rows, thumb_size)
    trait = trait_jobs(view, by_trait, columns, rows, thumb_size) if by_trait else {}
    snap = [snapshot_job(view, snapshot_token, columns, thumb_size)] if snapshot_token is not None else []
    jobs = main + [j for js in trait.values() for j in js] + snap

    results = _unreadable_is_user_error(_render_with_progress, build_dir, jobs, o.workers, console, show=report)
    paths = [r.path for r in results]
    _remove_stale(build_dir / SHEETS_DIR, {p.name for p in paths[: len(main)]}, re.compile(r"^sheet-\d+\.png$"))
    trait_sheets: dict[str, tuple[Path, ...]] = {}
    k = len(main)
    for value, js in trait.items():
        trait_sheets[value] = tuple(paths[k : k + len(js)])
        k += len(js)
    if trait:
        folder = Path(next(iter(trait.values()))[0].out).parent
        _remove_stale(build_dir / folder, {p.name for ps in trait_sheets.values() for p in ps}, re.compile(r"\.png$"))

    summary = summarize(view)
    banner = _unreadable_is_user_error(write_banner, view)
    gallery = write_gallery(view, thumb_size=thumb_size, summary=summary, gateway=gateway, banner=banner)
    out = PreviewReport(
        sheets=tuple(paths[: len(main)]),
        trait_sheets=trait_sheets,
        snapshot_sheet=paths[-1] if snap else None,
        gallery=gallery,
        tokens=len(view.tokens),
        rendered=sum(t.image is not None for t in view.tokens),
        thumbs_made=sum(r.thumbs_made for r in results),
        thumbs_cached=sum(r.thumbs_cached for r in results),
        rarity=view.rarity is not None,
        seconds=time.perf_counter() - t0,
    )
    if report:
        print_report(view, console)
    return out


# ---- sheet descriptions (pure) ----------------------------------------------------------

def main_jobs(view, columns: int, rows: int, thumb_size: int):
    from preview.contact_sheet import SheetJob, paginate, token_tile

    pages = paginate(view.tokens, columns * rows)
    jobs = []
    for i, page in enumerate(pages, start=1):
        span = f" · #{page[0].id}-#{page[-1].id}" if page else " · no tokens"
        jobs.append(SheetJob(
            out=f"{SHEETS_DIR}/sheet-{i:03d}.png",
            title=f"{view.collection_name} · sheet {i}/{len(pages)}{span}",
            tiles=tuple(token_tile(t) for t in page),
            columns=columns,
            thumb_size=thumb_size,
        ))
    return jobs


def trait_jobs(view, category: str, columns: int, rows: int, thumb_size: int):
    """One paginated sheet per value of `category`: {value: [SheetJob, ...]}."""
    from preview.contact_sheet import SheetJob, paginate, token_tile

    cat = resolve_category(view.categories, category)
    groups: dict[str, list] = {}
    for t in view.tokens:
        if cat in t.traits:
            groups.setdefault(t.traits[cat], []).append(t)
    folder = f"{SHEETS_DIR}/by-{slug(cat)}"
    names = unique_slugs(sorted(groups))
    out = {}
    for value in sorted(groups):
        pages = paginate(groups[value], columns * rows)
        out[value] = [
            SheetJob(
                out=f"{folder}/{names[value]}-{i:03d}.png",
                title=f"{view.collection_name} · {cat}: {value} · {len(groups[value])} tokens · page {i}/{len(pages)}",
                tiles=tuple(token_tile(t) for t in page),
                columns=columns,
                thumb_size=thumb_size,
            )
            for i, page in enumerate(pages, start=1)
        ]
    return out


def snapshot_tiles(t):
    """The token at each snapshot iteration, then its final image (unless the last snapshot
    is the final image), then its best-of-K candidates; each captioned with iteration, seed, score."""
    from preview.contact_sheet import Tile

    render = t.render
    score = f"score {render.score:.4g}" if render and render.score is not None else None
    final_is_last = t.final_is_last_snapshot()
    snaps = []
    for k, s in enumerate(t.snapshots):
        last = final_is_last and k == len(t.snapshots) - 1
        head = f"iteration {s.iteration}" + (" · final" if last else "")
        snaps.append(Tile(s.path, (head, " · ".join(x for x in (f"seed {t.seed}", score if last else None) if x)), t.label))
    if not final_is_last:
        it = render.iterations if render and render.iterations is not None else None
        head = "final" + (f" · iteration {it}" if it is not None else "")
        snaps.append(Tile(t.image, (head, " · ".join(x for x in (f"seed {t.seed}", score) if x)), t.label if t.image else None))
    cands = []
    for c in (render.candidates if render else ()):
        head = ("chosen · " if c.chosen else "") + f"seed {c.seed}"
        facts = [f"score {c.score:.4g}" if c.score is not None else "not scored"]
        if c.stop_iteration is not None:
            facts.append(f"stopped at {c.stop_iteration}")
        cands.append(Tile(c.image, (head, " · ".join(facts)), t.label if c.image else None, empty="picture not kept"))
    return snaps, cands


def snapshot_job(view, token_id: int, columns: int, thumb_size: int):
    """Snapshots and final image in one row, the candidates in the row below."""
    from preview.contact_sheet import SheetJob

    try:
        t = view.token(token_id)
    except KeyError:
        ids = f"{view.tokens[0].id}..{view.tokens[-1].id}" if view.tokens else "none"
        raise UserError(f"token {token_id} is not in the plan (ids: {ids})", exit_code=2) from None
    snaps, cands = snapshot_tiles(t)
    if not t.snapshots and not cands:
        raise UserError(
            f"token {token_id} has no snapshots in {view.build_dir / 'snapshots' / str(token_id)}",
            hint="set render.snapshots in the manifest (e.g. [500, 2000]) and render again",
        )
    # Side by side in one row is the point; wrap only when a row would get absurdly wide.
    cols = max(len(snaps), len(cands))
    cols = cols if cols <= 12 else columns
    pad = (-len(snaps)) % cols if cands else 0
    return SheetJob(
        out=f"{SHEETS_DIR}/snapshots-{t.id}.png",
        title=f"{t.name} · #{t.id} · snapshots" + (f" and {len(cands)} candidates" if cands else ""),
        tiles=tuple(snaps) + (None,) * pad + tuple(cands),
        columns=cols,
        thumb_size=thumb_size,
    )


def refresh_gallery(build_dir: Path, *, log=print) -> Path | None:
    """Rewrite gallery.html (not the sheets) so its status panel follows `publish` and `mint`.

    Never fails the step that calls it: the chain and IPFS are the truth, the page a view.
    Uses the thumbnails the last preview left, whatever size that was.
    """
    from preview.banner import BANNER_FILE
    from preview.chain_status import gateway_base
    from preview.gallery import GALLERY_FILE, write_gallery
    from preview.sources import load_build_view
    from preview.thumbs import THUMB_DIR

    build_dir = Path(build_dir)
    if not (build_dir / GALLERY_FILE).exists():
        return None  # no preview yet: `preview` (or `build`) will make the page
    try:
        sizes = [int(p.name) for p in (build_dir / THUMB_DIR).iterdir() if p.name.isdigit()] if (build_dir / THUMB_DIR).is_dir() else []
        size = 256 if 256 in sizes or not sizes else max(sizes)
        view = load_build_view(build_dir)
        banner = BANNER_FILE if (build_dir / BANNER_FILE).exists() else None
        return write_gallery(view, thumb_size=size, gateway=gateway_base(os.environ.get(GATEWAY_ENV)), banner=banner)
    except UserError as e:
        log(f"warning: gallery.html not updated: {e.message}")
        return None


def _unreadable_is_user_error(fn, *args, **kwargs):
    from preview.thumbs import UnreadableImage

    try:
        return fn(*args, **kwargs)
    except UnreadableImage as e:
        raise e.user_error() from None


def resolve_category(categories, wanted: str) -> str:
    if wanted in categories:
        return wanted
    folded = {c.casefold(): c for c in categories}
    if wanted.casefold() in folded:
        return folded[wanted.casefold()]
    raise UserError(
        f"--by-trait {wanted!r}: no such trait category",
        hint="categories in this plan: " + (", ".join(categories) or "none"),
        exit_code=2,
    )


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")
    return s[:60] or "value"


def unique_slugs(values) -> dict[str, str]:
    """File-name-safe names, distinct even when two values slug alike ("Red!" and "red")."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for v in values:
        base = s = slug(v)
        n = 2
        while s in used:
            s, n = f"{base}-{n}", n + 1
        used.add(s)
        out[v] = s
    return out


# ---- side effects ------------------------------------------------------------------------

def _render_with_progress(build_dir, jobs, workers, console, show: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from preview.contact_sheet import render_sheets

    with Progress(
        TextColumn("contact sheets"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=console, transient=True, disable=not (show and console.is_terminal),
    ) as progress:
        task = progress.add_task("sheets", total=len(jobs))
        return render_sheets(build_dir, jobs, workers=workers, on_done=lambda _: progress.advance(task))


def _remove_stale(folder: Path, keep: set[str], pattern: re.Pattern) -> None:
    # Only our own page files: a smaller collection (or new columns) leaves fewer pages.
    if not folder.is_dir():
        return
    for p in folder.iterdir():
        if p.is_file() and pattern.search(p.name) and p.name not in keep:
            p.unlink()
