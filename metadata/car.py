"""CARv1 files: the upload format that keeps the provider from choosing the CIDs.

A CARv1 is a varint-prefixed dag-cbor header {"roots": [CID], "version": 1}
followed by varint-prefixed (CID bytes + block bytes) sections. The root is only
known after the last block, so the writer puts a same-length placeholder first
and patches it in place (as `ipfs-car pack --output` does); a CID of our profile
is always 36 bytes, so the header never changes length.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

from metadata.unixfs import DirResult, Tree, add_tree, cid_str, varint

_PLACEHOLDER = bytes([1, 0x70, 0x12, 32]) + bytes(32)


class CarError(Exception):
    pass


def encode_header(root: bytes) -> bytes:
    """dag-cbor, keys in canonical (length-first) order; a CID is tag 42 over 0x00 + CID bytes."""
    link = b"\x00" + root
    if len(link) >= 256:
        raise CarError("CID too long")
    body = (
        b"\xa2"
        + b"\x65roots" + b"\x81" + b"\xd8\x2a" + (b"\x58" + bytes([len(link)]) if len(link) >= 24 else bytes([0x40 + len(link)])) + link
        + b"\x67version" + b"\x01"
    )
    return varint(len(body)) + body


class CarWriter:
    """Streams blocks into `path` (via a temp file, renamed on close); skips repeated blocks."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.name}.tmp")
        self._fh: BinaryIO = open(self._tmp, "wb")
        self._fh.write(encode_header(_PLACEHOLDER))
        self._seen: set[bytes] = set()
        self.blocks = 0

    def put(self, cid: bytes, block: bytes) -> None:
        if cid in self._seen:
            return
        self._seen.add(cid)
        self._fh.write(varint(len(cid) + len(block)))
        self._fh.write(cid)
        self._fh.write(block)
        self.blocks += 1

    def close(self, root: bytes) -> Path:
        header = encode_header(root)
        if len(header) != len(encode_header(_PLACEHOLDER)):
            raise CarError("root CID length differs from the placeholder's")
        self._fh.seek(0)
        self._fh.write(header)
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        self._fh.close()
        self._tmp.unlink(missing_ok=True)


def write_tree_car(tree: Tree, path: Path | str) -> DirResult:
    """Build the UnixFS DAG of `tree` and write all its blocks to a CARv1 at `path`."""
    w = CarWriter(path)
    try:
        result = add_tree(tree, w.put)
    except BaseException:
        w.abort()
        raise
    w.close(result.root.cid)
    return result


# --- reading (publish checks the CAR it is about to upload; tests check servers) ---


@dataclass(frozen=True)
class CarSummary:
    roots: list[str]
    blocks: int
    bytes: int


def _read_varint(fh: BinaryIO) -> int | None:
    n = shift = 0
    while True:
        b = fh.read(1)
        if not b:
            if shift == 0:
                return None
            raise CarError("truncated varint")
        n |= (b[0] & 0x7F) << shift
        shift += 7
        if b[0] < 0x80:
            return n


def _split_cid(section: bytes) -> tuple[bytes, bytes]:
    if section[0] != 1:
        raise CarError("only CIDv1 blocks are expected")
    pos = 1
    for _ in range(3):  # codec varint, multihash code varint, digest length varint
        while section[pos] & 0x80:
            pos += 1
        pos += 1
    digest_len = section[pos - 1]
    end = pos + digest_len
    return section[:end], section[end:]


def read_header_roots(fh: BinaryIO) -> list[bytes]:
    n = _read_varint(fh)
    if n is None:
        raise CarError("empty CAR")
    header = fh.read(n)
    if b"version" not in header or header[-1] != 1:
        raise CarError("not a CARv1 header")
    roots, i = [], 0
    while (i := header.find(b"\xd8\x2a", i)) != -1:
        ln = header[i + 3] if header[i + 2] == 0x58 else header[i + 2] - 0x40
        start = i + 4 if header[i + 2] == 0x58 else i + 3
        roots.append(header[start + 1:start + ln])
        i = start + ln
    return roots


def iter_blocks(fh: BinaryIO) -> Iterator[tuple[bytes, bytes]]:
    """(cid, block) pairs after the header, checking each sha2-256 multihash."""
    while (n := _read_varint(fh)) is not None:
        section = fh.read(n)
        if len(section) != n:
            raise CarError("truncated block")
        cid, block = _split_cid(section)
        if cid[2:4] != b"\x12\x20" or hashlib.sha256(block).digest() != cid[4:]:
            raise CarError(f"block {cid_str(cid)} does not match its hash")
        yield cid, block


def verify_car(path: Path | str) -> CarSummary:
    """Read a whole CAR, checking every block's hash; returns its roots and size."""
    with open(path, "rb") as fh:
        roots = read_header_roots(fh)
        count = sum(1 for _ in iter_blocks(fh))
    return CarSummary([cid_str(r) for r in roots], count, Path(path).stat().st_size)


def car_root(path: Path | str) -> str | None:
    """The header's first root, or None when the file is missing or unreadable."""
    try:
        with open(path, "rb") as fh:
            roots = read_header_roots(fh)
    except (OSError, CarError, IndexError):
        return None
    return cid_str(roots[0]) if roots else None
