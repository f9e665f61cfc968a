"""Build directories for preview tests: a real plan.json and real PNGs, no renderer needed.

Each token's image is a solid colour named by its "colour" trait, so a test can
check which image landed where on a contact sheet by reading one pixel.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image

from buildfiles.atomicio import write_json, write_text
from buildfiles.plan import CollectionInfo, PlannedToken, collection_to_dict, iter_plan_json

COLOURS = {"Red": (220, 40, 40), "Green": (40, 200, 60), "Blue": (40, 80, 220)}
EYES = ("Laser", "Round")
HOSTILE_PROMPT = '<script>window.__pwned = 1</script>"><img src=x onerror="window.__pwned = 2; alert(1)">'
HOSTILE_NAME = '</script><script>window.__pwned = 3</script>'


@dataclass(frozen=True)
class PreviewBuild:
    path: Path
    tokens: tuple[PlannedToken, ...]


def colour_of(i: int) -> str:
    # Uneven on purpose (3:2:1), so rarity ranks differ between tokens.
    return ("Red", "Red", "Red", "Green", "Green", "Blue")[i % 6]


def eyes_of(i: int) -> str:
    return EYES[0] if i % 4 == 0 else EYES[1]


def make_tokens(n: int, start_id: int = 1, hostile_id: int | None = None) -> list[PlannedToken]:
    out = []
    for i in range(n):
        tid = start_id + i
        traits = {"colour": colour_of(i), "eyes": eyes_of(i)}
        prompt = f"a {traits['colour'].lower()} robot with {traits['eyes'].lower()} eyes:1 | rust:0.5"
        name = f"Rusty Roboz #{tid}"
        if tid == hostile_id:
            prompt, name = HOSTILE_PROMPT, HOSTILE_NAME
        out.append(PlannedToken(id=tid, name=name, special=None, traits=traits, prompt=prompt, seed=1000 + tid))
    return out


def write_plan(build: Path, tokens: list[PlannedToken], name: str = "Rusty Roboz") -> None:
    info = CollectionInfo(
        name=name, symbol="ROBOZ", description="Robots, rusting.", external_url=None, image=None,
        name_template="Rusty Roboz #{id}", seed=7, start_id=tokens[0].id if tokens else 1,
        supply=len(tokens), shuffle=False, royalties=None,
    )
    header = {"manifest_sha256": "0" * 64, "collection": collection_to_dict(info), "render": {}, "inputs": {}}
    write_text(build / "plan.json", "".join(iter_plan_json(header, tokens)))


def write_image(path: Path, rgb, size=(64, 64)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, rgb).save(path)


def write_rarity(build: Path, tokens: list[PlannedToken]) -> None:
    """rarity.json in the contract's format; score = sum of 1/frequency over traits."""
    counts: dict[str, dict[str, int]] = {}
    for t in tokens:
        for c, v in t.traits.items():
            counts.setdefault(c, {}).setdefault(v, 0)
            counts[c][v] += 1
    n = len(tokens)
    scores = {t.id: sum(n / counts[c][v] for c, v in t.traits.items()) for t in tokens}
    order = sorted(scores, key=lambda i: (-scores[i], i))
    rank = {tid: r for r, tid in enumerate(order, start=1)}
    write_json(build / "rarity.json", {
        "method": "openrarity",
        "trait_counts": counts,
        "tokens": [{"id": t.id, "score": scores[t.id], "rank": rank[t.id]} for t in tokens],
    })


def make_preview_build(
    root: Path,
    n: int = 10,
    *,
    rendered: set[int] | None = None,     # ids with an image; default all
    snapshots: dict[int, list[int]] | None = None,
    animations: tuple[int, ...] = (),
    rarity: bool = True,
    hostile_id: int | None = None,
    image_size=(64, 64),
    records: str | None = None,           # "tiny" / "demo" / "real": write renders/{id}.json with that models label
    iterations: int = 4000,
    candidates: dict[int, list[dict]] | None = None,
) -> PreviewBuild:
    build = root / "build"
    build.mkdir(parents=True, exist_ok=True)
    tokens = make_tokens(n, hostile_id=hostile_id)
    write_plan(build, tokens)
    for i, t in enumerate(tokens):
        if rendered is None or t.id in rendered:
            write_image(build / "images" / f"{t.id}.png", COLOURS[t.traits["colour"]], image_size)
    for tid, iters in (snapshots or {}).items():
        for it in iters:
            # brighter at later iterations, whatever order the test lists them in
            shade = 40 + 200 * (sorted(iters).index(it) + 1) // len(iters)
            write_image(build / "snapshots" / str(tid) / f"{it:04d}.png", (shade, shade, shade), image_size)
    for tid in animations:
        (build / "animations").mkdir(exist_ok=True)
        (build / "animations" / f"{tid}.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")  # presence is all the preview checks
    if records:
        for t in tokens:
            if rendered is None or t.id in rendered:
                write_record(build, t, records, iterations, (candidates or {}).get(t.id))
    if rarity:
        write_rarity(build, tokens)
    return PreviewBuild(build, tuple(tokens))


def write_record(build: Path, t: PlannedToken, models: str, iterations: int, candidates: list[dict] | None = None) -> None:
    """renders/{id}.json as the render step writes it (the fields the preview reads)."""
    rec = {"id": t.id, "models": {"tiny": "tiny", "demo": "demo"}.get(models, "vqgan_imagenet_f16_16384+ViT-B/32"),
           "tiny": models == "tiny", "iterations": iterations, "seed": t.seed, "size": [64, 64]}
    if candidates is not None:
        rec["candidates"] = candidates
    # a plain write: 10,000 fsyncs would make the benchmark's fixture slower than what it measures
    (build / "renders").mkdir(parents=True, exist_ok=True)
    (build / "renders" / f"{t.id}.json").write_text(json.dumps(rec))


@pytest.fixture
def preview_build(tmp_path):
    """Factory: preview_build(n=10, rendered=..., snapshots=..., rarity=..., hostile_id=...)."""
    return lambda n=10, **kw: make_preview_build(tmp_path, n, **kw)


# ---- the gallery in a real browser: Debian's chromium driven by Playwright, from file:// ----

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        msg = f"{CHROMIUM} missing: apt-get install -y chromium"
        pytest.fail(msg) if os.environ.get("CI") else pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@dataclass
class Gallery:
    page: object
    errors: list = field(default_factory=list)
    dialogs: list = field(default_factory=list)
    requests: list = field(default_factory=list)

    def cards(self) -> int:
        return self.page.locator("#grid .card").count()

    def count_text(self) -> str:
        return self.page.locator("#count").text_content()

    def filter(self, category: str, value: str) -> None:
        self.page.select_option(f'select[data-category="{category}"]', value=value)


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


def open_gallery(browser, build: Path, fragment: str = "", viewport: dict | None = None) -> Gallery:
    page = browser.new_page(viewport=viewport or {"width": 1280, "height": 900})
    g = Gallery(page)
    page.on("pageerror", lambda e: g.errors.append(str(e)))
    page.on("dialog", lambda d: (g.dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: g.requests.append(r.url))
    page.goto((build / "gallery.html").as_uri() + fragment)
    page.wait_for_selector("body[data-ready=true]")
    return g
