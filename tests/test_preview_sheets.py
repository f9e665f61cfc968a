"""Contact sheets: layout, pagination, per-trait sheets, snapshot sheets, parallel = serial."""

from __future__ import annotations

import math

import pytest
from PIL import Image

from buildfiles.errors import UserError
from preview import make_preview, slug, unique_slugs
from preview.contact_sheet import TILE, Layout
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


# ---- issue 15: test / demo renders say so on every sheet --------------------------------

RED = (220, 38, 38)


def pixels(im: Image.Image) -> list:
    w, h = im.size
    return [im.getpixel((i, j)) for j in range(h) for i in range(w)]


def ribbon_pixels(sheet: Image.Image, index: int, columns: int, thumb: int) -> int:
    """Pixels of the tile's top-left quarter that differ from its centre: the fixture's tiles are one
    flat colour, so anything else there is the ribbon (its red band, or its white text on a red tile)."""
    lay = Layout.for_thumb(thumb)
    x, y = lay.origin(index, columns)
    flat = sheet.getpixel((x + thumb // 2, y + thumb // 2))
    corner = sheet.crop((x, y, x + thumb // 2, y + thumb // 2)).convert("RGB")
    return sum(1 for px in pixels(corner) if not close(px, flat, 30))


@pytest.mark.parametrize("models", ["tiny", "demo"])
def test_test_and_demo_renders_wear_a_ribbon_on_the_sheets(preview_build, models):
    b = preview_build(6, rendered={1, 2, 3, 4, 5}, records=models, snapshots={2: [10, 20]})
    r = make_preview(b.path, columns=3, rows=2, thumb_size=128, by_trait="colour", snapshot_token=2, report=False)
    sheet = Image.open(r.sheets[0]).convert("RGB")
    assert all(ribbon_pixels(sheet, k, 3, 128) > 50 for k in range(5))
    lay = Layout.for_thumb(128)
    x, y = lay.origin(5, 3)  # token 6: not rendered, nothing to label
    assert not any(close(px, RED, 30) for px in pixels(sheet.crop((x, y, x + 64, y + 64))))
    # the header carries the badge too
    header = sheet.crop((sheet.width // 2, 0, sheet.width, lay.header_h)).convert("RGB")
    assert sum(1 for px in pixels(header) if close(px, RED, 30)) > 100
    for pages in r.trait_sheets.values():
        assert ribbon_pixels(Image.open(pages[0]).convert("RGB"), 0, 3, 128) > 50
    snap = Image.open(r.snapshot_sheet).convert("RGB")
    assert ribbon_pixels(snap, 0, 2, 128) > 50


def test_real_renders_have_no_ribbon(preview_build):
    b = preview_build(3, records="real")
    r = make_preview(b.path, columns=3, rows=1, thumb_size=128, report=False)
    sheet = Image.open(r.sheets[0]).convert("RGB")
    assert all(ribbon_pixels(sheet, k, 3, 128) == 0 for k in range(3))


# ---- issue 12 item 6: snapshots and candidates side by side -------------------------------

def test_snapshot_sheet_has_no_duplicate_final_and_lists_candidates(preview_build):
    cands = [{"seed": 1002, "score": 0.31, "stop_iteration": 500}, {"seed": 5, "score": 0.2, "stop_iteration": 250}]
    b = preview_build(3, snapshots={2: [100, 250, 500]}, records="real", iterations=500, candidates={2: cands})
    # one candidate kept its picture where the renderer puts them
    from tests.fixtures_preview import write_image
    write_image(b.path / "candidates" / "2" / "5.png", (250, 250, 0))
    r = make_preview(b.path, thumb_size=40, snapshot_token=2, report=False)
    sheet = Image.open(r.snapshot_sheet).convert("RGB")
    lay = Layout.for_thumb(40)
    # row 1: the three snapshots (the last one is the final image: no extra tile); row 2: two candidates
    assert sheet.size == lay.size(3, 2)
    shades = [tile_centre(sheet, k, 3, 40)[0] for k in range(3)]
    assert shades == sorted(shades)
    assert close(tile_centre(sheet, 3, 3, 40, at=(0.25, 0.1)), TILE, 2)       # chosen: picture not kept
    assert close(tile_centre(sheet, 4, 3, 40), (250, 250, 0))               # the kept candidate
    assert close(tile_centre(sheet, 5, 3, 40), (24, 24, 27), 2)              # blank slot


def test_snapshot_tiles_caption_iteration_seed_and_score(preview_build):
    from preview import snapshot_tiles
    from preview.sources import load_build_view

    cands = [{"seed": 1002, "score": 0.31, "stop_iteration": 500}, {"seed": 5, "score": 0.2, "stop_iteration": 250}]
    b = preview_build(2, snapshots={1: [100, 500], 2: [100, 250]}, records="real", iterations=500, candidates={1: cands})
    view = load_build_view(b.path)
    snaps, cand = snapshot_tiles(view.token(1))
    assert [t.lines for t in snaps] == [("iteration 100", "seed 1001"), ("iteration 500 · final", "seed 1001")]
    assert [t.lines for t in cand] == [("seed 1002", "score 0.31 · stopped at 500"), ("seed 5", "score 0.2 · stopped at 250")]
    snaps, cand = snapshot_tiles(view.token(2))
    assert [t.lines[0] for t in snaps] == ["iteration 100", "iteration 250", "final · iteration 500"] and cand == []


# ---- issue 16: captions cut before measuring; unreadable images are one line -------------

def test_a_10kb_trait_value_is_cut_before_it_is_measured(preview_build, monkeypatch):
    import json

    from PIL import ImageFont

    b = preview_build(4)
    plan = json.loads((b.path / "plan.json").read_text())
    for t in plan["tokens"]:
        t["traits"]["colour"] = "W" * 5000 + " " + "x" * 5000  # 10 KB, one line would never fit
    (b.path / "plan.json").write_text(json.dumps(plan))
    lengths: list[int] = []
    real = ImageFont.FreeTypeFont.getlength

    def counting(self, text, *a, **kw):
        lengths.append(len(text))
        return real(self, text, *a, **kw)

    monkeypatch.setattr(ImageFont.FreeTypeFont, "getlength", counting)
    r = make_preview(b.path, columns=4, rows=1, thumb_size=64, workers=1, report=False)
    assert r.sheets[0].exists()
    # every measurement is of a string no longer than a line could ever hold, and few of them
    assert max(lengths) < 200, max(lengths)
    assert len(lengths) < 4 * 60, len(lengths)


def test_truncated_image_is_one_line_naming_the_file(preview_build, capsys):
    from collection.cli import main

    b = preview_build(8)
    img = b.path / "images" / "3.png"
    img.write_bytes(img.read_bytes()[:60])
    with pytest.raises(UserError) as e:
        make_preview(b.path, thumb_size=32, report=False)
    assert "images/3.png" in e.value.message and "token 3" in e.value.hint
    rc = main(["preview", str(b.path), "--thumb-size", "32", "--no-report"])
    err = capsys.readouterr().err
    assert rc == 1 and err.startswith("error: images/3.png cannot be read") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 2  # the error and its hint


def test_unreadable_image_in_a_worker_process_is_one_line_too(preview_build):
    b = preview_build(130)
    (b.path / "images" / "77.png").write_bytes(b"not a png at all")
    with pytest.raises(UserError, match=r"images/77\.png cannot be read"):
        make_preview(b.path, columns=5, rows=4, thumb_size=24, workers=2, report=False)
