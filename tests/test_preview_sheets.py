"""Contact sheets: layout, pagination, per-trait sheets, snapshot sheets, parallel = serial."""

from __future__ import annotations

import math

import pytest
from PIL import Image

from buildfiles.errors import UserError
from collection.preview import make_preview, slug, unique_slugs
from collection.preview.contact_sheet import TILE, Layout
from tests.fixtures_preview import COLOURS, preview_build  # noqa: F401  (fixture)


def tile_centre(sheet: Image.Image, index: int, columns: int, thumb: int, at=(0.5, 0.5)):
    lay = Layout.for_thumb(thumb)
    x, y = lay.origin(index, columns)
    return sheet.getpixel((x + int(thumb * at[0]), y + int(thumb * at[1])))


def close(a, b, tol=12):
    return all(abs(int(p) - int(q)) <= tol for p, q in zip(a, b))


def test_pages_layout_and_tile_contents(preview_build):
    b = preview_build(25, rendered=set(range(1, 25)) - {7})
    r = make_preview(b.path, columns=4, rows=2, thumb_size=48, report=False)
    assert len(r.sheets) == math.ceil(25 / 8) == 4
    assert [p.name for p in r.sheets] == ["sheet-001.png", "sheet-002.png", "sheet-003.png", "sheet-004.png"]
    lay = Layout.for_thumb(48)
    first = Image.open(r.sheets[0])
    assert first.size == lay.size(4, 2)
    assert Image.open(r.sheets[-1]).size == lay.size(4, 1)  # the one token left over

    for k, t in enumerate(b.tokens):
        page = Image.open(r.sheets[k // 8]).convert("RGB")
        if t.id in (7, 25):  # not rendered: the placeholder's plain tile (off its label and cross)
            assert close(tile_centre(page, k % 8, 4, 48, at=(0.25, 0.1)), TILE, 2), t.id
        else:
            assert close(tile_centre(page, k % 8, 4, 48), COLOURS[t.traits["colour"]]), t.id
    assert r.rendered == 23 and r.tokens == 25


def test_rerun_with_fewer_pages_removes_stale_pages(preview_build):
    b = preview_build(20)
    make_preview(b.path, columns=2, rows=2, thumb_size=32, report=False)
    assert len(list((b.path / "contact-sheets").glob("sheet-*.png"))) == 5
    r = make_preview(b.path, columns=5, rows=2, thumb_size=32, report=False)
    assert sorted(p.name for p in (b.path / "contact-sheets").glob("sheet-*.png")) == [p.name for p in r.sheets]
    assert len(r.sheets) == 2


def test_by_trait_one_sheet_set_per_value(preview_build):
    b = preview_build(30)
    r = make_preview(b.path, columns=3, rows=2, thumb_size=40, by_trait="COLOUR", report=False)
    counts = {c: sum(t.traits["colour"] == c for t in b.tokens) for c in COLOURS}
    assert set(r.trait_sheets) == set(COLOURS)
    for value, pages in r.trait_sheets.items():
        assert len(pages) == math.ceil(counts[value] / 6)
        assert all(p.parent.name == "by-colour" and p.name.startswith(value.lower() + "-") for p in pages)
        # every filled tile of a value's pages shows that colour; the slots after the last are empty
        for k in range(counts[value]):
            page = Image.open(pages[k // 6]).convert("RGB")
            assert close(tile_centre(page, k % 6, 3, 40), COLOURS[value]), (value, k)
        last = Image.open(pages[-1]).convert("RGB")
        left = counts[value] - 6 * (len(pages) - 1)
        if left % 3:
            assert close(tile_centre(last, left, 3, 40), (24, 24, 27), 2)


def test_by_trait_unknown_category_is_a_user_error(preview_build):
    b = preview_build(3)
    with pytest.raises(UserError) as e:
        make_preview(b.path, by_trait="hat", report=False)
    assert e.value.exit_code == 2 and "colour" in e.value.hint and "eyes" in e.value.hint


def test_snapshot_sheet_side_by_side_in_iteration_order(preview_build):
    b = preview_build(4, snapshots={2: [2000, 500, 4000]})
    r = make_preview(b.path, thumb_size=40, snapshot_token=2, report=False)
    assert r.snapshot_sheet.name == "snapshots-2.png"
    sheet = Image.open(r.snapshot_sheet).convert("RGB")
    lay = Layout.for_thumb(40)
    assert sheet.size == lay.size(4, 1)  # three snapshots and the final image, one row
    shades = [tile_centre(sheet, k, 4, 40)[0] for k in range(3)]
    assert shades == sorted(shades) and shades[0] < shades[-1]  # fixture shades grow with iteration
    assert close(tile_centre(sheet, 3, 4, 40), COLOURS[b.tokens[1].traits["colour"]])


def test_snapshot_sheet_errors(preview_build):
    b = preview_build(3, snapshots={1: [100]})
    with pytest.raises(UserError, match="no snapshots"):
        make_preview(b.path, snapshot_token=2, report=False)
    with pytest.raises(UserError, match="not in the plan"):
        make_preview(b.path, snapshot_token=99, report=False)


def test_parallel_pages_equal_serial_pages(preview_build):
    b = preview_build(130)
    serial = make_preview(b.path, columns=5, rows=4, thumb_size=24, workers=1, report=False)
    one = [p.read_bytes() for p in serial.sheets]
    parallel = make_preview(b.path, columns=5, rows=4, thumb_size=24, workers=2, report=False)
    assert [p.read_bytes() for p in parallel.sheets] == one
    assert parallel.thumbs_cached == 130 and parallel.thumbs_made == 0


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P", "L", "I;16"])
def test_any_png_mode_becomes_an_rgb_thumbnail(preview_build, mode):
    b = preview_build(1)
    src = b.path / "images" / "1.png"
    if mode == "I;16":
        Image.new("I;16", (50, 30), 40000).save(src)
    else:
        Image.new("RGBA", (50, 30), (200, 100, 50, 255)).convert(mode).save(src)
    r = make_preview(b.path, thumb_size=32, report=False)
    assert r.thumbs_made == 1
    thumb = Image.open(b.path / ".thumbs" / "32" / "images" / "1.jpg")
    assert thumb.mode == "RGB" and thumb.size == (32, 19)
    if mode == "I;16":
        assert 150 < thumb.getpixel((16, 9))[0] < 160  # 40000/65535 of full scale, not clipped to white


def test_slugs_are_file_safe_and_unique():
    assert slug("Deep Red / Rust!") == "deep-red-rust"
    assert slug("!!!") == "value"
    names = unique_slugs(["Red!", "red", "RED"])
    assert sorted(names.values()) == ["red", "red-2", "red-3"]
