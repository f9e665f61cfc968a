"""metadata/car.py: header round-trip, corruption detection, atomic writes."""

from __future__ import annotations

import pytest

from metadata.car import CarError, car_root, encode_header, verify_car, write_tree_car
from metadata.unixfs import add_bytes, cid_str
from tests.fixtures_ipfs import parse_car


def test_written_car_parses_independently_and_verifies(tmp_path):
    res = write_tree_car({"a.txt": b"hello", "sub": {"b.bin": bytes(range(256)) * 5000}}, tmp_path / "x.car")
    roots, blocks = parse_car((tmp_path / "x.car").read_bytes())
    assert roots == [cid_str(res.root.cid)]
    s = verify_car(tmp_path / "x.car")
    assert s.roots == roots and s.blocks == len(blocks) == 6  # a.txt, 2 chunks + root of b.bin, sub, root
    assert car_root(tmp_path / "x.car") == roots[0]
    assert not list(tmp_path.glob(".*.tmp"))  # the temp file was renamed away


def test_repeated_blocks_are_written_once(tmp_path):
    res = write_tree_car({"a": b"same", "b": b"same"}, tmp_path / "d.car")
    _, blocks = parse_car((tmp_path / "d.car").read_bytes())
    assert len(blocks) == 2 and verify_car(tmp_path / "d.car").blocks == 2
    assert cid_str(add_bytes(b"same").cid) in blocks and cid_str(res.root.cid) in blocks


def test_a_flipped_byte_is_caught(tmp_path):
    write_tree_car({"a.txt": b"hello world" * 100}, tmp_path / "x.car")
    data = bytearray((tmp_path / "x.car").read_bytes())
    data[-5] ^= 0xFF
    (tmp_path / "x.car").write_bytes(bytes(data))
    with pytest.raises(CarError, match="does not match its hash"):
        verify_car(tmp_path / "x.car")


def test_header_is_canonical_dag_cbor_and_missing_car_has_no_root(tmp_path):
    root = add_bytes(b"x").cid
    h = encode_header(root)
    assert h[0] == len(h) - 1 and h[1] == 0xA2 and h.endswith(b"\x67version\x01")
    assert car_root(tmp_path / "nope.car") is None


def test_a_car_missing_a_block_is_incomplete(tmp_path):
    write_tree_car({"a": b"alpha", "b": b"beta"}, tmp_path / "x.car")
    data = (tmp_path / "x.car").read_bytes()
    assert verify_car(tmp_path / "x.car").complete
    # drop the first block section (file "a"'s leaf): every hash still checks, the DAG does not
    hlen = data[0] + 1                       # header varint (one byte) + header
    assert data[hlen] < 0x80                 # the first section is short: a one-byte length
    (tmp_path / "x.car").write_bytes(data[:hlen] + data[hlen + 1 + data[hlen]:])
    s = verify_car(tmp_path / "x.car")
    assert s.blocks == 2 and not s.complete


def test_publish_rewrites_a_torn_car_instead_of_trusting_it(tmp_path):
    from metadata.build import write_metadata
    from metadata.publish import publish
    from metadata.publishers.car import CarPublisher
    from tests.fixtures_ipfs import make_build_dir

    build = make_build_dir(tmp_path)
    write_metadata(build, log=lambda s: None)
    publish(build, CarPublisher(), log=lambda s: None)
    car = build / "car" / "images.car"
    good = car.read_bytes()
    car.write_bytes(good[:-300] + bytes(300))  # a power cut after rename, before the data reached the disk
    logs = []
    publish(build, CarPublisher(), log=logs.append)
    assert any(line.startswith("images: wrote car/images.car") for line in logs)
    assert car.read_bytes() == good
