"""docs/review.png: the `review` page on demo-model renders, with decisions made (`make review-screenshot`).

Runs the bundled example as a short demo draft (8 tokens, best-of-2, demo models) in a
temporary folder, opens `roboz-collection review`'s page in Debian's chromium, keeps one
token, rejects one and picks another's second candidate, and saves the page. Nothing is
applied: the picture shows the choices waiting for "apply".

    python scripts/review_screenshot.py [--out docs/review.png] [--supply 8]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scripts.gallery_screenshots import ARGS, CHROMIUM, EXAMPLE, save  # noqa: E402


def demo_draft(work: Path, supply: int) -> Path:
    """The example with `supply` tokens and best-of-2, rendered by `demo` (demo models); its build folder."""
    project = work / "rusty-roboz"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("build", "build-draft"))
    manifest = project / "manifest.yaml"
    text = manifest.read_text("utf-8")
    text = text.replace("\n  supply: 24 ", f"\n  supply: {supply} ", 1)
    text = text.replace("\nrender:\n", "\nrender:\n  candidates: 2\n", 1)
    manifest.write_text(text, "utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    subprocess.run([sys.executable, "-m", "collection.cli", "demo", str(manifest), "--no-progress"],
                   cwd=work, env=env, check=True)
    return next(p for p in (project / "build-draft", project / "build") if (p / "renders").is_dir())


def shoot(build: Path, out: Path) -> Path:
    from playwright.sync_api import sync_playwright

    from collection.review.server import ReviewServer

    records = {int(p.stem): json.loads(p.read_text()) for p in (build / "renders").glob("*.json")}
    ids = sorted(records)
    with_two = [i for i in ids if len(records[i].get("candidates", [])) > 1]
    with ReviewServer(build) as s, sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = b.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(s.url)
        page.wait_for_selector("body[data-ready=true]")
        page.wait_for_load_state("networkidle")
        page.click(f'article.card[data-id="{ids[0]}"] button.keep')
        page.click(f'article.card[data-id="{ids[1]}"] button.reject')
        if len(with_two) > 2:
            tid = with_two[2]
            chosen = records[tid]["seed"]
            page.click(f'article.card[data-id="{tid}"] .cand:not([data-seed="{chosen}"]) button.pick')
            page.wait_for_selector(f'article.card.pick[data-id="{tid}"]')
        page.wait_for_selector(f'article.card.reject[data-id="{ids[1]}"]')
        page.wait_for_timeout(300)
        save(page, out)
        b.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "review.png")
    ap.add_argument("--supply", type=int, default=8)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="roboz-review-shot-"))
    try:
        print(shoot(demo_draft(work, args.supply), args.out))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
