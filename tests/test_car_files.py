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
