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
    """Streams blocks into `path` (via a temp file, renamed on close); skips repeated blocks.

    Sections are handed to the kernel with writev, without copying blocks in Python: small
    sections (directory nodes, JSON files) are gathered into one call, a block of 64 KiB or more
    goes out at once, while it is still in the CPU cache from being hashed (gathering megabytes
    first measured slower: 0.45x against 0.61x of sha256's CPU time). The file is not fsynced: a
    CAR is derived from images/ and metadata/, and `publish` checks every block's hash and that
    the whole DAG is present before reusing one, so a CAR torn by a power cut is rebuilt, never
    trusted; skipping the flush to disk keeps the write at memory speed."""

    FLUSH_BYTES = 64 << 10
    FLUSH_PARTS = 512          # well under IOV_MAX (1024)

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self.path.with_name(f".{self.path.name}.tmp")
        self._fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
        self._parts: list[bytes] = [encode_header(_PLACEHOLDER)]
        self._pending = len(self._parts[0])
        self._seen: set[bytes] = set()
        self.blocks = 0

    def put(self, cid: bytes, block: bytes) -> None:
        if cid in self._seen:
            return
        self._seen.add(cid)
        self._parts.append(varint(len(cid) + len(block)) + cid)
        self._parts.append(block)
        self._pending += len(block)
        self.blocks += 1
        if self._pending >= self.FLUSH_BYTES or len(self._parts) >= self.FLUSH_PARTS:
            self._flush()

    def _flush(self) -> None:
        parts, self._parts, self._pending = self._parts, [], 0
        i = 0
        while i < len(parts):
            n = os.writev(self._fd, parts[i:i + self.FLUSH_PARTS + 1])
            while i < len(parts) and n >= len(parts[i]):  # a short write: resume where it stopped
                n -= len(parts[i])
                i += 1
            if n:
                parts[i] = memoryview(parts[i])[n:]

    def close(self, root: bytes) -> Path:
        header = encode_header(root)
        if len(header) != len(encode_header(_PLACEHOLDER)):
            raise CarError("root CID length differs from the placeholder's")
        self._flush()
        os.pwrite(self._fd, header, 0)
        os.close(self._fd)
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        os.close(self._fd)
        self._tmp.unlink(missing_ok=True)


def write_tree_car(tree: Tree, path: Path | str) -> DirResult:
    """Build the UnixFS DAG of `tree` and write all its blocks to a CARv1 at `path`, in one pass."""
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
    complete: bool = True      # every root and every block a dag-pb node links to is in the file


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


def pb_links(block: bytes) -> list[bytes]:
    """Binary CIDs a dag-pb node links to (PBNode field 2 = PBLink, whose field 1 = Hash)."""
    out, i = [], 0
    while i < len(block):
        key, i = _uvarint(block, i)
        if key & 7 != 2:
            raise CarError("malformed dag-pb node")
        n, i = _uvarint(block, i)
        if key >> 3 == 2:
            k, j = _uvarint(block, i)
            if k == (1 << 3) | 2:
                ln, j = _uvarint(block, j)
                out.append(block[j:j + ln])
        i += n
    return out


def _uvarint(buf: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        if i >= len(buf):
            raise CarError("truncated varint in a block")
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return n, i


def verify_car(path: Path | str) -> CarSummary:
    """Read a whole CAR, checking every block's hash and that the DAG under its roots is all there."""
    have: set[bytes] = set()
    linked: set[bytes] = set()
    with open(path, "rb") as fh:
        roots = read_header_roots(fh)
        for cid, block in iter_blocks(fh):
            have.add(cid)
            if cid[1] == 0x70:  # dag-pb
                linked.update(pb_links(block))
    complete = set(roots) <= have and linked <= have
    return CarSummary([cid_str(r) for r in roots], len(have), Path(path).stat().st_size, complete)


def car_root(path: Path | str) -> str | None:
    """The header's first root, or None when the file is missing or unreadable."""
    try:
        with open(path, "rb") as fh:
            roots = read_header_roots(fh)
    except (OSError, CarError, IndexError):
        return None
    return cid_str(roots[0]) if roots else None
