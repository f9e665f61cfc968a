"""Phone (390 px) and desktop (1440 px): filters collapse on a phone, nothing overflows sideways,
and the sticky bar leaves the screen to the tokens."""

from __future__ import annotations

from preview import make_preview
from tests.fixtures_preview import DESKTOP, PHONE, browser, open_gallery, preview_build  # noqa: F401  (fixtures)


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_phone_filters_collapse_and_open(browser, preview_build):
    b = preview_build(30, records="tiny")
    make_preview(b.path, thumb_size=32, report=False)
    g = open_gallery(browser, b.path, viewport=PHONE)
    p = g.page
    sel = p.locator('select[data-category="colour"]')
    assert sel.is_hidden() and p.locator("#sort").is_hidden()
    assert p.locator("#search").is_visible() and p.locator("#filter-toggle").is_visible()
    p.locator("#controls").scroll_into_view_if_needed()
    bar = p.locator("#controls").bounding_box()
    assert bar["height"] < 0.12 * PHONE["height"], bar  # was 273 of 844 px before it collapsed
    assert no_sideways_scroll(p)
    # two cards a row
    xs = {round(c["x"]) for c in p.locator("#grid .card").evaluate_all("cs => cs.slice(0, 4).map(c => c.getBoundingClientRect().toJSON())")}
    assert len(xs) == 2

    p.click("#filter-toggle")
    assert sel.is_visible() and p.locator("#filter-toggle").get_attribute("aria-expanded") == "true"
    g.filter("colour", "Blue")
    assert p.locator("#filter-toggle").text_content() == "Filters (1)"
    assert g.count_text() == f"{sum(t.traits['colour'] == 'Blue' for t in b.tokens)} of 30 tokens"
    p.click("#filter-toggle")
    assert sel.is_hidden()

    p.locator('#grid .card[data-id="6"]').click()
    p.wait_for_selector("#detail:not([hidden])")
    assert no_sideways_scroll(p)
    assert p.locator("#detail-image").bounding_box()["width"] <= PHONE["width"]
    assert not g.errors


def test_desktop_filters_inline_and_a_wide_grid(browser, preview_build):
    b = preview_build(30)
    make_preview(b.path, thumb_size=32, report=False)
    g = open_gallery(browser, b.path, viewport=DESKTOP)
    p = g.page
    assert p.locator('select[data-category="colour"]').is_visible() and p.locator("#filter-toggle").is_hidden()
    bar = p.locator("#controls").bounding_box()
    assert bar["height"] < 100
    tops = p.locator("#grid .card").evaluate_all("cs => cs.map(c => Math.round(c.getBoundingClientRect().top))")
    assert tops.count(tops[0]) >= 5  # at least five cards a row at 1440 px
    assert no_sideways_scroll(p)
    # the cover's status cards sit side by side on a desktop, stacked on a phone
    ys = [p.locator(s).bounding_box()["y"] for s in ("#status-ipfs", "#status-chain")]
    assert ys[0] == ys[1]
    g2 = open_gallery(browser, b.path, viewport=PHONE)
    ys = [g2.page.locator(s).bounding_box()["y"] for s in ("#status-ipfs", "#status-chain")]
    assert ys[0] < ys[1]
