"""The gallery's cover in chromium: name, artist, description, collection image, banner strip,
counts, planned-vs-expected trait chart, and the TEST / DEMO RENDER ribbon wherever such renders show."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from buildfiles.plan import load_plan
from preview import make_preview
from preview.banner import BANNER_FILE, BANNER_TILE
from tests.fixtures_preview import COLOURS, browser, open_gallery, preview_build  # noqa: F401  (fixtures)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "rusty-roboz" / "manifest.yaml"


def set_collection(build: Path, **fields) -> None:
    plan = json.loads((build / "plan.json").read_text())
    plan["collection"].update(fields)
    (build / "plan.json").write_text(json.dumps(plan))


def test_cover_shows_name_artist_description_image_and_counts(browser, preview_build):
    b = preview_build(12, rendered=set(range(1, 11)))
    Image.new("RGB", (40, 40), (250, 200, 0)).save(b.path / "inputs.png")
    set_collection(b.path, artist="Ada <b>Painter</b>", image="inputs.png")
    make_preview(b.path, thumb_size=32, report=False)
    g = open_gallery(browser, b.path)
    p = g.page
    assert p.locator("#title").text_content() == "Rusty Roboz"
    assert p.locator("#artist").text_content() == "by Ada <b>Painter</b>"  # text, never markup
    assert p.locator("#description").text_content() == "Robots, rusting."
    assert p.locator("#cover-image").get_attribute("src") == "inputs.png"
    p.wait_for_function("() => document.getElementById('cover-image')?.naturalWidth === 40")
    counts = p.locator("#counts li").all_text_contents()
    assert counts[:3] == ["12tokens", "0specials (1/1s)", "2traits · 5 values"]
    assert "10rendered so far" in counts
    assert not g.errors


def test_artist_goes_from_manifest_to_plan(tmp_path):
    from collection.plan.manifest import load_manifest
    from collection.plan.plan_step import make_plan

    shutil.copy(EXAMPLE.with_name("jax.png"), tmp_path / "jax.png")
    text = EXAMPLE.read_text().replace("\n  description:", "\n  artist: Ada Painter\n  description:", 1)
    (tmp_path / "manifest.yaml").write_text(text)
    make_plan(load_manifest(tmp_path / "manifest.yaml"), tmp_path / "build")
    assert load_plan(tmp_path / "build").collection.artist == "Ada Painter"
    # a manifest without an artist writes no artist key: older plans stay byte-identical
    (tmp_path / "m2.yaml").write_text(EXAMPLE.read_text())
    make_plan(load_manifest(tmp_path / "m2.yaml"), tmp_path / "b2")
    assert "artist" not in json.loads((tmp_path / "b2" / "plan.json").read_text())["collection"]


def test_banner_is_a_strip_of_tokens_not_one_stretched(browser, preview_build):
    b = preview_build(12)
    make_preview(b.path, thumb_size=32, report=False)
    banner = Image.open(b.path / BANNER_FILE).convert("RGB")
    assert banner.size == (8 * BANNER_TILE, BANNER_TILE)
    # rarest first: the fixture's Blue tokens, then Green, so the strip shows several colours
    tiles = [banner.getpixel((k * BANNER_TILE + BANNER_TILE // 2, BANNER_TILE // 2)) for k in range(8)]
    assert len(set(tiles)) >= 2
    assert all(min(sum(abs(a - c) for a, c in zip(px, rgb)) for rgb in COLOURS.values()) < 30 for px in tiles)
    g = open_gallery(browser, b.path)
    assert g.page.locator("#banner").get_attribute("src") == BANNER_FILE
    g.page.wait_for_function("() => document.getElementById('banner')?.naturalWidth === 8 * 240")


def test_no_banner_before_anything_is_rendered(preview_build):
    b = preview_build(3, rendered=set())
    make_preview(b.path, thumb_size=32, report=False)
    assert not (b.path / BANNER_FILE).exists()


@pytest.mark.parametrize("models, text", [("tiny", "Test render"), ("demo", "Demo render")])
def test_ribbon_on_every_card_and_the_cover(browser, preview_build, models, text):
    b = preview_build(6, rendered={1, 2, 3, 4, 5}, records=models)
    make_preview(b.path, thumb_size=32, report=False)
    g = open_gallery(browser, b.path)
    p = g.page
    assert p.locator("#cover-ribbon").text_content() == text
    assert text.upper() in p.locator("#label-note").text_content()
    # every rendered card wears it; the unrendered one has no picture to label
    assert p.locator("#grid .card .ribbon").all_text_contents() == [text] * 5
    assert p.locator('#grid .card[data-id="6"] .ribbon').count() == 0
    p.locator('#grid .card[data-id="2"]').click()
    p.wait_for_selector("#detail:not([hidden])")
    assert p.locator("#detail-image-box .ribbon").text_content() == text
    assert not g.errors


def test_no_ribbon_for_real_renders(browser, preview_build):
    b = preview_build(4, records="real")
    make_preview(b.path, thumb_size=32, report=False)
    g = open_gallery(browser, b.path)
    assert g.page.locator(".ribbon").count() == 0
    assert g.page.locator("#label-note").is_hidden()


def test_trait_chart_planned_against_expected(browser, tmp_path):
    from collection.plan.manifest import load_manifest
    from collection.plan.plan_step import make_plan

    project = tmp_path / "p"
    project.mkdir()
    shutil.copy(EXAMPLE, project / "manifest.yaml")
    shutil.copy(EXAMPLE.with_name("jax.png"), project / "jax.png")
    m = load_manifest(project / "manifest.yaml")
    make_plan(m, project / "build")
    make_preview(project / "build", thumb_size=32, report=False)
    plan = load_plan(project / "build")
    generated = [t for t in plan.tokens if not t.special]
    g = open_gallery(browser, project / "build")
    rows = g.page.locator("#trait-chart .bar-row").evaluate_all(
        "rs => rs.map(r => [r.dataset.value, +r.dataset.planned, r.dataset.expected === '' ? null : +r.dataset.expected,"
        " r.querySelector('.fill').style.width, r.querySelector('.tick') && r.querySelector('.tick').style.left])")
    by_value = {r[0]: r for r in rows}
    for cat in m.categories:
        total = sum(v.weight for v in cat.values)
        for v in cat.values:
            planned = sum(t.traits[cat.name] == v.name for t in generated) / len(generated)
            _, got_planned, got_expected, width, left = by_value[v.name]
            assert got_planned == pytest.approx(planned) and float(width[:-1]) == pytest.approx(100 * planned, abs=0.01)
            expected = v.weight / total
            assert got_expected == pytest.approx(expected) and float(left[:-1]) == pytest.approx(100 * expected, abs=0.01)
    assert len(rows) == sum(len(c.values) for c in m.categories)
    assert "plan.json" in g.page.locator("#trait-note").text_content()
    # the page reads build files only: the manifest may go; a plan from before `expected` shows no ticks, and says why
    (project / "manifest.yaml").unlink()
    raw = json.loads((project / "build" / "plan.json").read_text())
    del raw["expected"]
    (project / "build" / "plan.json").write_text(json.dumps(raw))
    make_preview(project / "build", thumb_size=32, report=False)
    g = open_gallery(browser, project / "build")
    assert g.page.locator("#trait-chart .tick").count() == 0
    assert "run `roboz-collection plan` again" in g.page.locator("#trait-note").text_content()
