"""metadata/unixfs.py against npm ipfs-car@3 (and PyPI aleph-cid where its profile agrees)."""

from __future__ import annotations

import os
from pathlib import Path

import aleph_cid
import pytest

from metadata.unixfs import (
    CHUNK_SIZE,
    T_HAMT_SHARD,
    add_bytes,
    add_file,
    add_folder,
    add_tree,
    cid_bytes,
    cid_str,
)
from tests.fixtures_ipfs import ipfs_car_pack, parse_car

SIZES = {
    "empty": 0,
    "one_byte": 1,
    "exactly_1MiB": CHUNK_SIZE,
    "1MiB_plus_1": CHUNK_SIZE + 1,
    "5MiB": 5 * CHUNK_SIZE,
}


@pytest.mark.parametrize("size", list(SIZES.values()), ids=list(SIZES))
def test_file_cid_equals_ipfs_car(tmp_path, ipfs_car, size):
    f = tmp_path / "f.bin"
    f.write_bytes(os.urandom(size))
    theirs = ipfs_car_pack(ipfs_car, f, tmp_path / "f.car")
    ours = add_file(f)
    assert cid_str(ours.cid) == theirs
    assert ours.size == size
    # bytes in memory and a file on disk give the same DAG
    assert add_bytes(f.read_bytes()).cid == ours.cid


def test_known_empty_and_small_cids():
    # The raw-leaf CID of zero bytes is a well-known constant.
    assert cid_str(add_bytes(b"").cid) == "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    assert cid_bytes(cid_str(add_bytes(b"x").cid)) == add_bytes(b"x").cid


def _folder_of_three(root: Path) -> Path:
    d = root / "three"
    d.mkdir()
    (d / "a.txt").write_bytes(b"alpha")
    (d / "b.png").write_bytes(os.urandom(200_000))
    (d / "c.json").write_bytes(os.urandom(CHUNK_SIZE + 7))  # multi-chunk file inside a folder
    return d


def _nested(root: Path) -> Path:
    d = root / "nested"
    (d / "images").mkdir(parents=True)
    (d / "metadata" / "deep" / "er").mkdir(parents=True)
    (d / "top.txt").write_text("top")
    (d / "images" / "1.png").write_bytes(os.urandom(1000))
    (d / "images" / "2.png").write_bytes(os.urandom(2000))
    (d / "metadata" / "1.json").write_text('{"id": 1}')
    (d / "metadata" / "deep" / "er" / "x").write_bytes(b"")
    (d / ".hidden").write_text("left out, as ipfs-car does")
    return d


@pytest.mark.parametrize("make", [_folder_of_three, _nested], ids=["three_files", "nested"])
def test_folder_cid_and_car_equal_ipfs_car(tmp_path, ipfs_car, make):
    from metadata.car import write_tree_car
    from metadata.unixfs import tree_of_folder

    d = make(tmp_path)
    theirs = ipfs_car_pack(ipfs_car, d, tmp_path / "theirs.car")
    assert cid_str(add_folder(d).root.cid) == theirs
    res = write_tree_car(tree_of_folder(d), tmp_path / "ours.car")
    assert cid_str(res.root.cid) == theirs
    # Same blocks, same order: the CARs are byte-identical.
    assert (tmp_path / "ours.car").read_bytes() == (tmp_path / "theirs.car").read_bytes()


def test_ipfs_car_unpacks_our_car(tmp_path, ipfs_car):
    from metadata.car import write_tree_car
    from metadata.unixfs import tree_of_folder

    d = _nested(tmp_path)
    write_tree_car(tree_of_folder(d), tmp_path / "ours.car")
    ipfs_car("unpack", tmp_path / "ours.car", "--output", tmp_path / "out")
    for p in d.rglob("*"):
        if p.is_file() and not p.name.startswith("."):
            assert (tmp_path / "out" / p.relative_to(d)).read_bytes() == p.read_bytes()


@pytest.mark.slow
def test_10000_files_sharded_equals_ipfs_car_and_aleph(tmp_path, ipfs_car):
    from metadata.car import write_tree_car
    from metadata.unixfs import tree_of_folder

    d = tmp_path / "big"
    d.mkdir()
    for i in range(1, 10_001):
        (d / f"{i}.json").write_text(f'{{"name": "Roboz #{i}"}}')
    theirs = ipfs_car_pack(ipfs_car, d, tmp_path / "theirs.car")
    res = write_tree_car(tree_of_folder(d), tmp_path / "ours.car")
    assert cid_str(res.root.cid) == theirs
    assert aleph_cid.hash_folder(d, cid_version=1) == theirs
    assert len(res.files) == 10_000
    roots, blocks = parse_car((tmp_path / "ours.car").read_bytes())
    assert roots == [theirs]
    # The root really is a HAMT shard: UnixFS Data (PBNode field 1) says Type=5.
    root_block = blocks[theirs]
    data_at = root_block.rfind(b"\x0a")  # Data is the node's last field
    assert root_block[data_at + 2:data_at + 4] == bytes([0x08, T_HAMT_SHARD])
    assert (tmp_path / "ours.car").read_bytes() == (tmp_path / "theirs.car").read_bytes()


def test_small_folder_is_flat_and_aleph_agrees(tmp_path):
    # aleph-cid uses kubo's old 256 KiB chunks, so it only agrees on folders of small files.
    d = tmp_path / "small"
    d.mkdir()
    for i in range(50):
        (d / f"{i}.json").write_text(str(i))
    assert cid_str(add_folder(d).root.cid) == aleph_cid.hash_folder(d, cid_version=1)


def test_virtual_tree_matches_folder_and_lists_every_file(tmp_path):
    d = _nested(tmp_path)
    tree = {
        "top.txt": d / "top.txt",
        "images": {"1.png": d / "images" / "1.png", "2.png": (d / "images" / "2.png").read_bytes()},
        "metadata": {"1.json": d / "metadata" / "1.json", "deep": {"er": {"x": b""}}},
    }
    res = add_tree(tree)
    assert res.root.cid == add_folder(d).root.cid
    assert set(res.files) == {"top.txt", "images/1.png", "images/2.png", "metadata/1.json", "metadata/deep/er/x"}
    assert res.files["images/1.png"] == cid_str(add_file(d / "images" / "1.png").cid)


def test_one_changed_byte_changes_the_root(tmp_path):
    d = _folder_of_three(tmp_path)
    before = add_folder(d).root.cid
    data = bytearray((d / "c.json").read_bytes())
    data[CHUNK_SIZE + 3] ^= 1  # a byte in the second chunk
    (d / "c.json").write_bytes(bytes(data))
    assert add_folder(d).root.cid != before


def test_mixed_sizes_write_the_same_car_as_ipfs_car(tmp_path, ipfs_car):
    """One folder with files of every shape (empty, small, one chunk, chunk + 1, several chunks, more than
    eight) at two levels: the CAR written in one pass is byte-identical to ipfs-car's."""
    from metadata.car import write_tree_car
    from metadata.unixfs import tree_of_folder

    d = tmp_path / "mixed"
    (d / "sub").mkdir(parents=True)
    sizes = [10, 65_535, 200_000, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE, 8 * CHUNK_SIZE + 5, 0]
    for i, n in enumerate(sizes):
        (d / f"{i}.bin").write_bytes(os.urandom(n))
        (d / "sub" / f"{i}.bin").write_bytes(os.urandom(n // 3 + 1))  # no two files alike (see test_car_files)
    theirs = ipfs_car_pack(ipfs_car, d, tmp_path / "theirs.car")
    res = write_tree_car(tree_of_folder(d), tmp_path / "ours.car")
    assert cid_str(res.root.cid) == theirs == cid_str(add_tree(tree_of_folder(d)).root.cid)
    assert (tmp_path / "ours.car").read_bytes() == (tmp_path / "theirs.car").read_bytes()
