"""Preview speed at collection scale.

(a) contact sheets + gallery.html for 10,000 rendered tokens, cold thumbnail cache, then
    re-run with the cache warm;
    Prints CPU seconds beside wall seconds: on a shared machine, wall time depends on
    what else runs, and CPU / cores is the wall time with the cores to itself.
(b) the 10,000-token gallery in headless chromium (Debian's, via Playwright): time to
    ready (cover, trait chart, status panel, first page of cards), and time for a trait
    filter, a search and a sort to redraw. Every token has a render record (a test render,
    so every card wears its ribbon) and the build a publish.json and mint.json.

`--gallery-only` skips the contact sheets (a), for the page figure alone.

Sources are 512x512 textured PNGs. Making 10,000 distinct ones would take longer than
the preview itself, so 64 distinct images are hard-linked under 10,000 names: each
token is still opened and decoded on its own.

    python benchmarks/preview.py [--tokens 10000] [--image-size 512] [--keep DIR] [--gallery-only]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from preview import make_preview  # noqa: E402
from preview.gallery import write_gallery  # noqa: E402
from preview.sources import load_build_view  # noqa: E402
from tests.fixtures_preview import make_tokens, write_plan, write_rarity, write_record  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]


def textured(seed: int, size: int) -> Image.Image:
    # Smooth colour fields plus noise: compresses and decodes like a VQGAN render, unlike a flat fill.
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 1, size)
    base = [np.add.outer(np.sin(x * rng.uniform(2, 9)), np.cos(x * rng.uniform(2, 9))) for _ in range(3)]
    img = np.stack(base, -1) * 60 + 128 + rng.normal(0, 18, (size, size, 3))
    return Image.fromarray(img.clip(0, 255).astype(np.uint8))


def make_build(root: Path, n: int, size: int) -> Path:
    build = root / "build"
    tokens = make_tokens(n)
    write_plan(build, tokens)
    write_rarity(build, tokens)
    (build / "images").mkdir(parents=True, exist_ok=True)
    distinct = []
    for k in range(64):
        p = root / f"src-{k}.png"
        textured(k, size).save(p)
        distinct.append(p)
    for t in tokens:
        dst = build / "images" / f"{t.id}.png"
        try:
            os.link(distinct[t.id % 64], dst)
        except OSError:
            shutil.copyfile(distinct[t.id % 64], dst)
        write_record(build, t, "tiny", 500)
    meta = "bafybeibwzifw52ttrkqlikfzext5akxu7lz4xiwjgwzmqcpdzmp3n5vnbe"
    (build / "publish.json").write_text(json.dumps({
        "provider": "kubo", "endpoint": "http://127.0.0.1:5001", "images_cid": "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
        "animations_cid": None, "metadata_cid": meta, "base_uri": f"ipfs://{meta}/", "contract_uri": f"ipfs://{meta}/collection.json"}))
    (build / "mint.json").write_text(json.dumps({
        "format": "roboz-mint/1", "chain_id": 11155111, "network": "sepolia", "contract_address": "0x" + "ab" * 20,
        "minted": {"first_id": 1, "count": n}, "verified": {"ok": True, "problems": []}, "txs": []}))
    return build


def cpu_seconds() -> float:
    """User + system CPU of this process and its reaped children (the thumbnail workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def browser_timings(build: Path) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    out = {}
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = b.new_page(viewport={"width": 1280, "height": 900})
        t = time.perf_counter()
        page.goto((build / "gallery.html").as_uri())
        page.wait_for_selector("body[data-ready=true]")
        out["open to ready"] = time.perf_counter() - t
        # the page's own clock: navigation start to the end of its start-up script
        out["open to ready (page clock)"] = int(page.evaluate("document.body.dataset.readyMs")) / 1000

        def timed(name: str, action, expect: str) -> None:
            t0 = time.perf_counter()
            action()
            page.wait_for_function("e => document.getElementById('count').textContent === e", arg=expect)
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")  # through a paint
            out[name] = time.perf_counter() - t0

        view = load_build_view(build)
        n = len(view.tokens)
        blue = sum(t.traits["colour"] == "Blue" for t in view.tokens)
        timed("filter colour=Blue", lambda: page.select_option('select[data-category="colour"]', "Blue"),
              f"{blue} of {n} tokens")
        timed("search 'laser'", lambda: page.fill("#search", "laser"),
              f"{sum(t.traits['colour'] == 'Blue' and 'laser' in t.prompt for t in view.tokens)} of {n} tokens")
        timed("reset + sort by rarity", lambda: (page.click("#reset"), page.select_option("#sort", "rarity")),
              f"{n} of {n} tokens")
        b.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=10_000)
    ap.add_argument("--image-size", type=int, default=512)
    ap.add_argument("--thumb-size", type=int, default=256)
    ap.add_argument("--keep", type=Path, help="build here and keep it, instead of a temp dir")
    ap.add_argument("--gallery-only", action="store_true", help="skip the contact sheets: gallery.html and chromium only")
    args = ap.parse_args()
    console = Console()

    root = args.keep or Path(tempfile.mkdtemp(prefix="roboz-preview-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        t = time.perf_counter()
        build = make_build(root, args.tokens, args.image_size)
        console.print(f"fixture: {args.tokens} tokens, {args.image_size}px PNGs, in {time.perf_counter() - t:.1f} s")

        rows = []
        load = os.getloadavg()[0]
        for label in () if args.gallery_only else ("cold cache", "warm cache"):
            cpu0 = cpu_seconds()
            r = make_preview(build, thumb_size=args.thumb_size, report=False)
            rows.append((f"contact sheets + gallery ({label})", r.seconds, cpu_seconds() - cpu0,
                         f"{len(r.sheets)} sheets, thumbs {r.thumbs_made} made / {r.thumbs_cached} cached"))
        t, cpu0 = time.perf_counter(), cpu_seconds()
        write_gallery(load_build_view(build), thumb_size=args.thumb_size)
        size = (build / "gallery.html").stat().st_size
        rows.append(("gallery.html alone", time.perf_counter() - t, cpu_seconds() - cpu0, f"{size / 1e6:.1f} MB"))
        if Path(CHROMIUM).exists():
            for name, s in browser_timings(build).items():
                rows.append((f"chromium: {name}", s, None, ""))
        else:
            rows.append(("chromium", float("nan"), None, f"{CHROMIUM} missing: apt-get install chromium"))

        table = Table(title=f"preview, {args.tokens} tokens, {os.cpu_count()} cpus, load average {load:.1f} at start")
        table.add_column("step")
        table.add_column("wall s", justify="right")
        table.add_column("cpu s", justify="right")
        table.add_column("notes")
        for name, s, cpu, note in rows:
            table.add_row(name, f"{s:.2f}", "" if cpu is None else f"{cpu:.1f}", note)
        console.print(table)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
