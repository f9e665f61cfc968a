"""Screenshots of gallery.html at a phone's and a desktop's width, for docs/ (`make screenshots`).

By default it runs the real pipeline on the bundled example in a temporary folder
(`roboz-collection demo`: build, preview, publish --to car, mint on a local anvil), so
the pictures show what a user gets today (test or demo renders, labelled as such), with
the publish and mint status filled in. `--build DIR` shoots an existing build instead.

    python scripts/gallery_screenshots.py [--out docs] [--build DIR] [--token ID]

Needs Debian's chromium (/usr/bin/chromium) and Playwright's Python package.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]
EXAMPLE = ROOT / "examples" / "rusty-roboz"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def demo_build(work: Path) -> Path:
    """The bundled example, built, published to CAR files and minted on anvil, in `work`."""
    project = work / "rusty-roboz"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("build", "build-draft"))
    manifest = project / "manifest.yaml"
    text = manifest.read_text("utf-8")
    if "\n  artist:" not in text:  # the cover shows an artist line; the example has none
        text = text.replace("\n  description:", "\n  artist: Jax's painter\n  description:", 1)
        manifest.write_text(text, "utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    subprocess.run([sys.executable, "-m", "collection.cli", "demo", str(manifest), "--no-progress"],
                   cwd=work, env=env, check=True)
    builds = [p for p in (project / "build", project / "build-draft") if (p / "gallery.html").exists()]
    return builds[0]


def save(page, path: Path) -> Path:
    """A screenshot as a 256-colour PNG: a third of the bytes, no visible loss on this page."""
    from PIL import Image

    page.screenshot(path=path)
    with Image.open(path) as im:
        q = im.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    q.save(path, optimize=True)
    return path


def shoot(build: Path, out: Path, token: int | None) -> list[Path]:
    from playwright.sync_api import sync_playwright

    sys.path.insert(0, str(ROOT))
    from preview.sources import load_build_view

    view = load_build_view(build)
    if token is None:  # a token with snapshots shows the most of the detail view
        token = next((t.id for t in view.tokens if t.snapshots and t.image), view.tokens[0].id)
    url = (build / "gallery.html").as_uri()
    shots = []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        for name, viewport, scale in (("desktop", DESKTOP, 1), ("phone", PHONE, 2)):
            page = b.new_page(viewport=viewport, device_scale_factor=scale)
            page.goto(url)
            page.wait_for_selector("body[data-ready=true]")
            page.wait_for_load_state("networkidle")
            shots.append(save(page, out / f"gallery-{name}.png"))
            # desktop: the trait chart above the first row of cards; phone: the filters opened
            page.evaluate(f"document.getElementById('{'traits' if name == 'desktop' else 'controls'}').scrollIntoView()")
            page.wait_for_timeout(200)
            if name == "phone":
                page.click("#filter-toggle")
            shots.append(save(page, out / f"gallery-{name}-grid.png"))
            page.goto(url + f"#token-{token}")
            page.wait_for_selector("#detail:not([hidden])")
            page.wait_for_load_state("networkidle")
            # a video still loading shows a spinner over its poster: wait for its first frame
            page.wait_for_function("() => { const v = document.getElementById('detail-video'); return !v || v.readyState >= 2; }",
                                   timeout=15_000)
            page.wait_for_timeout(1500)  # and for the controls' loading indicator to fade
            shots.append(save(page, out / f"gallery-{name}-detail.png"))
            if name == "desktop" and page.locator("#detail-snapshots").count():
                # further down the same view: the progress video and the snapshots side by side
                page.evaluate("document.getElementById('detail-snapshots').scrollIntoView({block: 'end'})")
                page.wait_for_timeout(300)
                shots.append(save(page, out / f"gallery-{name}-snapshots.png"))
            page.close()
        b.close()
    return shots


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    ap.add_argument("--build", type=Path, help="an existing build directory (default: run the demo on the example)")
    ap.add_argument("--token", type=int, help="token shown in the detail screenshots")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work = None
    try:
        if args.build:
            build = args.build
        else:
            work = Path(tempfile.mkdtemp(prefix="roboz-shots-"))
            build = demo_build(work)
        for s in shoot(build, args.out, args.token):
            print(s)
    finally:
        if work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
