"""collection.json's banner_image: the strip of tokens (metadata/banner.py), published in the images
folder as banner.png, its CID checked by the independent `ipfs-car`; the preview draws the same bytes
after `metadata`, so the published folder and cids.json stay true."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from buildfiles.plan import load_plan
from metadata.banner import BANNER_TILE
from metadata.build import write_metadata
from tests.fixtures_ipfs import ipfs_car_pack, make_build_dir


def _load(build: Path, rel: str):
    return json.loads((build / rel).read_text())


def _colour(build: Path, tid: int) -> tuple[int, int, int]:
    return Image.open(build / "images" / f"{tid}.png").convert("RGB").getpixel((0, 0))


def test_banner_image_is_the_strip_of_tokens_at_its_cid(tmp_path, ipfs_car):
    build = make_build_dir(tmp_path, n=10)
    r = write_metadata(build)
    coll = _load(build, "metadata/collection.json")
    assert coll["banner_image"] == f"ipfs://{r.images_cid}/banner.png"
    assert coll["image"] == f"ipfs://{r.images_cid}/1.png" != coll["banner_image"]   # the cover is still token 1
    banner = build / "images" / "banner.png"
    cid = _load(build, "cids.json")["files"]["images/banner.png"]
    assert ipfs_car_pack(ipfs_car, banner, tmp_path / "b.car") == cid                 # the file's own CID, independently
    assert ipfs_car_pack(ipfs_car, build / "images", tmp_path / "i.car") == r.images_cid

    # a strip, not one token stretched: eight square tiles, each a different token, the special first,
    # then the rarest (rarity.json), then by id
    strip = Image.open(banner).convert("RGB")
    assert strip.size == (8 * BANNER_TILE, BANNER_TILE) and strip.width > strip.height
    tiles = [strip.getpixel((k * BANNER_TILE + BANNER_TILE // 2, BANNER_TILE // 2)) for k in range(8)]
    rank = {t["id"]: t["rank"] for t in _load(build, "rarity.json")["tokens"]}
    special = 10
    order = [special] + sorted((i for i in range(1, 10)), key=lambda i: (rank[i], i))
    assert tiles == [_colour(build, i) for i in order[:8]]
    assert len(set(tiles)) == 8


def test_a_stale_banner_is_redrawn_and_a_rerun_writes_nothing(build_dir):
    (build_dir / "images" / "banner.png").write_bytes(b"not the banner")
    first = write_metadata(build_dir)
    assert "images/banner.png" in first.written
    assert Image.open(build_dir / "images" / "banner.png").size == (5 * BANNER_TILE, BANNER_TILE)  # five tokens
    again = write_metadata(build_dir)
    assert again.written == () and again.images_cid == first.images_cid


def test_preview_after_metadata_leaves_the_published_banner_as_it_is(build_dir):
    from preview import make_preview
    from metadata.publish import folder_trees
    from metadata.unixfs import add_tree, cid_str

    r = write_metadata(build_dir)
    banner = build_dir / "images" / "banner.png"
    before = (banner.read_bytes(), banner.stat().st_mtime_ns)
    make_preview(build_dir, report=False, workers=1)
    assert (banner.read_bytes(), banner.stat().st_mtime_ns) == before
    # what publish hashes is still what metadata wrote
    assert cid_str(add_tree(folder_trees(build_dir, load_plan(build_dir))["images"]).root.cid) == r.images_cid
    assert 'images/banner.png' in (build_dir / "gallery.html").read_text()

