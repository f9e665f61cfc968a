"""Thumbnail cache: hits on re-run, misses when the source changes, survives a broken entry."""

from __future__ import annotations

import os

from PIL import Image

from preview import make_preview
from preview.thumbs import cached_thumb_path, get_thumb, thumb_relpath
from tests.fixtures_preview import preview_build, write_image  # noqa: F401  (fixture)


def test_second_get_comes_from_the_cache(preview_build):
    b = preview_build(1, image_size=(300, 200))
    first = get_thumb(b.path, "images/1.png", 64)
    assert first.made and first.path == thumb_relpath("images/1.png", 64) == ".thumbs/64/images/1.jpg"
    assert first.image.size == (64, 43)  # fits the box, keeps the aspect ratio
    again = get_thumb(b.path, "images/1.png", 64)
    assert not again.made and again.image.tobytes() == first.image.tobytes()
    assert get_thumb(b.path, "images/1.png", 32).made  # another size is another entry


def test_changed_source_is_thumbnailed_again(preview_build):
    b = preview_build(1)
    src = b.path / "images" / "1.png"
    get_thumb(b.path, "images/1.png", 32)
    assert cached_thumb_path(b.path, "images/1.png", 32) == ".thumbs/32/images/1.jpg"
    write_image(src, (10, 250, 10), (80, 80))  # a re-render: new bytes, new size and mtime
    os.utime(src, ns=(1, 1))                    # even if the clock went backwards
    assert cached_thumb_path(b.path, "images/1.png", 32) is None
    t = get_thumb(b.path, "images/1.png", 32)
    assert t.made and t.image.getpixel((16, 16))[1] > 200
    assert cached_thumb_path(b.path, "images/1.png", 32) is not None


def test_truncated_cache_entry_is_remade(preview_build):
    b = preview_build(1)
    get_thumb(b.path, "images/1.png", 32)
    entry = b.path / ".thumbs" / "32" / "images" / "1.jpg"
    entry.write_bytes(entry.read_bytes()[:40])
    t = get_thumb(b.path, "images/1.png", 32)
    assert t.made and Image.open(entry).size == (32, 32)


def test_preview_rerun_makes_no_thumbnails(preview_build):
    b = preview_build(12, rendered=set(range(1, 10)), snapshots={2: [100, 200]})
    first = make_preview(b.path, thumb_size=32, snapshot_token=2, report=False)
    assert (first.thumbs_made, first.rendered) == (9 + 2, 9)
    second = make_preview(b.path, thumb_size=32, snapshot_token=2, report=False)
    assert second.thumbs_made == 0 and second.thumbs_cached == first.thumbs_made + first.thumbs_cached


def test_small_draft_images_are_enlarged_by_whole_pixels(tmp_path):
    import numpy as np
    from PIL import Image

    from preview.thumbs import make_thumb

    rng = np.random.default_rng(0)
    src = tmp_path / "small.png"
    Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(src)
    thumb = np.asarray(make_thumb(src, 256))
    assert thumb.shape == (256, 256, 3)
    original = np.asarray(Image.open(src).convert("RGB"))
    assert (thumb[::4, ::4] == original).all(), "each source pixel becomes a 4x4 block"
    assert (thumb[1::4, 2::4] == original).all()
