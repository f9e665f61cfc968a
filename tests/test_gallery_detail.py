"""The detail view in chromium: the picture as large as the viewport allows (crisp when enlarged),
the progress video at the same size with controls and a poster, snapshots and candidates side by
side with iteration / seed / score, the prompt's weights, attributes with rarity, ← → Esc."""

from __future__ import annotations

import pytest

from preview import make_preview
from tests.fixtures_preview import DESKTOP, PHONE, browser, open_gallery, preview_build  # noqa: F401  (fixtures)

CANDIDATES = [
    {"seed": 1002, "score": 0.3121, "stop_iteration": 500},   # the token's seed: the chosen one
    {"seed": 77, "score": 0.2811, "stop_iteration": 250},
    {"seed": 78, "score": 0.25, "stop_iteration": 125},
]


def box(page, selector: str) -> dict:
    return page.locator(selector).bounding_box()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_picture_fills_the_viewport_crisply_and_the_video_matches_it(browser, preview_build, viewport):
    b = preview_build(3, animations=(2,), image_size=(64, 64))
    make_preview(b.path, thumb_size=32, report=False)
    g = open_gallery(browser, b.path, "#token-2", viewport=viewport)
    p = g.page
    p.wait_for_function("() => { const i = document.getElementById('detail-image'); return i?.complete && i.naturalWidth === 64; }")
    img = box(p, "#detail-image")
    # as large as the viewport allows: the limiting side is (nearly) used up
    limit = min(viewport["height"] - 90, viewport["width"] - 440) if viewport is DESKTOP else viewport["width"] - 2 * 14
    assert img["width"] >= 0.97 * limit and img["width"] >= 5 * 64
    assert img["width"] <= viewport["width"] and img["height"] <= viewport["height"]
    assert p.locator("#detail-image").evaluate("e => getComputedStyle(e).imageRendering") == "pixelated"
    video = p.locator("#detail-video")
    vb = box(p, "#detail-video")
    assert (vb["width"], vb["height"]) == (img["width"], img["height"])
    assert video.get_attribute("controls") is not None and video.get_attribute("poster") == "images/2.png"
    assert not g.errors


def test_large_renders_are_not_pixelated(browser, preview_build):
    b = preview_build(1, image_size=(1600, 1600))
    make_preview(b.path, thumb_size=32, report=False)
    g = open_gallery(browser, b.path, "#token-1", viewport=DESKTOP)
    g.page.wait_for_function("() => document.getElementById('detail-image')?.naturalWidth === 1600")
    assert g.page.locator("#detail-image").evaluate("e => getComputedStyle(e).imageRendering") == "auto"


def test_snapshots_and_candidates_side_by_side_without_a_duplicate_final(browser, preview_build):
    b = preview_build(3, snapshots={2: [100, 250, 500]}, records="real", iterations=500, candidates={2: CANDIDATES})
    make_preview(b.path, thumb_size=32, report=False)
    g = open_gallery(browser, b.path, "#token-2", viewport=DESKTOP)
    p = g.page
    snaps = p.locator("#detail-snapshots figure")
    # the 500-iteration snapshot *is* the final image: no extra "final" tile
    assert snaps.count() == 3
    assert p.locator("#detail-snapshots .it").all_text_contents() == ["iteration 100", "iteration 250", "iteration 500 · final"]
    assert p.locator("#detail-snapshots figure").nth(2).locator(".sub").all_text_contents() == ["seed 1002", "score 0.3121"]
    tops = {round(box(p, f"#detail-snapshots figure >> nth={k}")["y"]) for k in range(3)}
    assert len(tops) == 1  # one row: side by side
    cands = p.locator("#detail-candidates figure")
    assert cands.count() == 3
    assert p.locator("#detail-candidates .it").all_text_contents() == ["chosen · seed 1002", "seed 77", "seed 78"]
    assert cands.nth(1).locator(".sub").all_text_contents() == ["score 0.2811", "stopped at iteration 250"]
    assert "chosen" in cands.nth(0).get_attribute("class")
    assert not g.errors


def test_final_tile_kept_when_the_last_snapshot_is_earlier(browser, preview_build):
    b = preview_build(2, snapshots={1: [100, 250]}, records="real", iterations=500)
    make_preview(b.path, thumb_size=32, report=False)
    g = open_gallery(browser, b.path, "#token-1")
    assert g.page.locator("#detail-snapshots .it").all_text_contents() == ["iteration 100", "iteration 250", "final · iteration 500"]
    assert g.page.locator("#detail-candidates").count() == 0


def test_prompt_weights_and_attribute_rarity(browser, preview_build):
    b = preview_build(12)
    make_preview(b.path, thumb_size=32, report=False)
    g = open_gallery(browser, b.path, "#token-4")
    p = g.page
    t = b.tokens[3]
    items = p.locator("#detail-weights li").evaluate_all(
        "ls => ls.map(l => [l.querySelector('.t').textContent, l.querySelector('.w').textContent])")
    assert items == [[f"a {t.traits['colour'].lower()} robot with {t.traits['eyes'].lower()} eyes", "1"], ["rust", "0.5"]]
    assert p.locator("#detail-prompt").text_content() == t.prompt  # the raw prompt stays one click away
    n = {c: sum(x.traits[c] == v for x in b.tokens) for c, v in t.traits.items()}
    rar = p.locator("#detail .attrs tr").evaluate_all("rs => rs.map(r => r.cells[2].textContent)")
    assert rar == [f"{n[c]} · {100 * n[c] / 12:.1f}%" for c in t.traits]


def test_keyboard_left_right_escape(browser, preview_build):
    b = preview_build(5)
    make_preview(b.path, thumb_size=32, report=False)
    g = open_gallery(browser, b.path)
    p = g.page
    p.locator('#grid .card[data-id="5"]').focus()
    p.keyboard.press("Enter")
    p.wait_for_function("() => document.getElementById('detail-name')?.textContent === 'Rusty Roboz #5'")
    p.keyboard.press("ArrowRight")  # wraps around to the first
    p.wait_for_function("() => document.getElementById('detail-name')?.textContent === 'Rusty Roboz #1'")
    p.keyboard.press("ArrowLeft")
    p.wait_for_function("() => document.getElementById('detail-name')?.textContent === 'Rusty Roboz #5'")
    assert p.locator("#detail-pos").text_content().startswith("5 of 5")
    p.keyboard.press("Escape")
    assert p.locator("#detail").is_hidden() and p.evaluate("location.hash") == ""
    assert not p.evaluate("document.body.classList.contains('modal-open')")


def test_a_snapshot_or_candidate_clicked_takes_the_big_box(browser, preview_build):
    b = preview_build(2, snapshots={1: [100, 250]}, records="real", iterations=500,
                      candidates={1: [{"seed": 1001, "score": 0.3, "stop_iteration": 500}, {"seed": 9, "score": 0.1, "stop_iteration": 250}]})
    from tests.fixtures_preview import write_image
    write_image(b.path / "candidates" / "1" / "9.png", (250, 250, 0))
    make_preview(b.path, thumb_size=32, report=False)
    g = open_gallery(browser, b.path, "#token-1")
    p = g.page
    p.locator("#detail-snapshots figure").nth(1).click()
    assert p.locator("#detail-image").get_attribute("src") == "snapshots/1/0250.png"
    assert p.locator("#detail-showing").text_content() == "showing iteration 250"
    p.locator("#detail-candidates figure").nth(1).click()
    assert p.locator("#detail-image").get_attribute("src") == "candidates/1/9.png"
    assert p.locator("#detail-showing").text_content() == "showing seed 9"
    p.locator("#detail-snapshots figure.final").click()
    assert p.locator("#detail-image").get_attribute("src") == "images/1.png"
    # the chosen candidate kept no picture of its own here: nothing to enlarge, nothing changes
    p.locator("#detail-candidates figure").nth(0).click()
    assert p.locator("#detail-image").get_attribute("src") == "images/1.png"
    assert not g.errors
