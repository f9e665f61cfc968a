"""UnixFS CIDs computed offline, with the profile of ipfs-car / @helia/unixfs / kubo unixfs-v1-2025.

Profile (the defaults of ipfs-car and @helia/unixfs): CIDv1, raw leaves, sha2-256, 1 MiB chunks, balanced DAG of
1024 links per node, directories HAMT-sharded (fanout 256, murmur3-x64-64) once
their links pass 256 KiB. No Python library builds UnixFS DAGs with this profile
(aleph-cid uses kubo's old 256 KiB chunks, see tests/test_cid_*.py), so the DAG
shapes and the two small protobuf messages (dag-pb PBNode, UnixFS Data) are
written here; hashing is hashlib, murmur3 is the `mmh3` package.

Every function takes an optional `emit(cid, block)` callback: None only hashes
(fast, for cids.json); a CAR writer passes its `put` to get every block once, in the
order `ipfs-car pack` writes them. Files are read in 1 MiB chunks, so memory stays flat
for any file size. (Hashing files on a thread per core was tried and dropped: on the project's
shared 2-core machine it made `cid` no faster and `cid+car` 30% slower in CPU time, since a block
hashed on one core and written from another is no longer in the cache.)

Shard rule: a directory is sharded when the sum over its entries of
len(name) + len(cid bytes) exceeds 256 KiB (ipfs-unixfs-importer's estimate, the
@helia/unixfs default). ipfs-car 3 instead shards past 1,000 entries, so for a
folder of about 1,000..6,000 short names `ipfs-car pack` picks the other, equally
valid, root; the CAR we upload carries our root, so what is pinned matches ours.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Union

import mmh3

CHUNK_SIZE = 1 << 20          # 1 MiB leaves
MAX_LINKS = 1024              # balanced-DAG width
SHARD_THRESHOLD = 256 * 1024  # bytes of estimated links before a directory shards
HAMT_FANOUT = 256
HAMT_HASH_MURMUR3 = 0x22

CODEC_RAW = 0x55
CODEC_DAG_PB = 0x70
MH_SHA2_256 = 0x12

# UnixFS Data.Type
T_DIRECTORY, T_FILE, T_HAMT_SHARD = 1, 2, 5

Emit = Callable[[bytes, bytes], None] | None
# A virtual directory: name -> file path, bytes, or a nested directory.
Tree = Mapping[str, Union[Path, bytes, "Tree"]]


@dataclass(frozen=True)
class Link:
    cid: bytes      # binary CID
    tsize: int      # cumulative size of the DAG below (PBLink.Tsize)
    size: int       # file content bytes (0 for directories)


@dataclass
class DirResult:
    root: Link
    files: dict[str, str] = field(default_factory=dict)  # "sub/name" -> CID string, every file
    entries: list[tuple[str, Link]] = field(default_factory=list)  # the top level's children, by name


def add_entries(res: DirResult, extra: Mapping[str, bytes], emit: Emit = None) -> DirResult:
    """`res`'s directory with files added at its top level, without hashing its files again:
    the same root as add_tree over the whole tree."""
    links = dict(res.entries)
    files = dict(res.files)
    for name, data in extra.items():
        if not name or "/" in name or name in links:
            raise ValueError(f"bad or duplicate entry name {name!r}")
        links[name] = add_bytes(data, emit)
        files[name] = cid_str(links[name].cid)
    entries = [(n, links[n]) for n in sorted(links)]
    return DirResult(directory(entries, emit), files, entries)


# --- encodings -----------------------------------------------------------------


def varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def make_cid(codec: int, block: bytes) -> bytes:
    return bytes([1, codec, MH_SHA2_256, 32]) + hashlib.sha256(block).digest()


def cid_str(cid: bytes) -> str:
    """Multibase base32 (lower case, no padding): the 'bafy…' / 'bafk…' form."""
    return "b" + base64.b32encode(cid).decode("ascii").lower().rstrip("=")


def cid_bytes(text: str) -> bytes:
    if not text.startswith("b"):
        raise ValueError(f"only base32 CIDv1 strings are supported, got {text!r}")
    body = text[1:].upper()
    return base64.b32decode(body + "=" * (-len(body) % 8))


def raw_leaf_sha256(cid: str) -> str | None:
    """The sha256 of a file whose CID is one raw leaf (any file up to 1 MiB), read off the CID;
    None for a chunked file, whose CID hashes a dag-pb node instead."""
    raw = cid_bytes(cid)
    if raw[:4] != bytes([1, CODEC_RAW, MH_SHA2_256, 32]):
        return None
    return raw[4:].hex()


def _field_varint(num: int, value: int) -> bytes:
    return varint(num << 3) + varint(value)


def _field_bytes(num: int, value: bytes) -> bytes:
    return varint((num << 3) | 2) + varint(len(value)) + value


def unixfs_data(kind: int, *, data: bytes | None = None, filesize: int | None = None,
                blocksizes: tuple[int, ...] = (), hash_type: int | None = None,
                fanout: int | None = None) -> bytes:
    """UnixFS `Data` protobuf (proto2: blocksizes are not packed)."""
    out = _field_varint(1, kind)
    if data is not None:
        out += _field_bytes(2, data)
    if filesize is not None:
        out += _field_varint(3, filesize)
    for b in blocksizes:
        out += _field_varint(4, b)
    if hash_type is not None:
        out += _field_varint(5, hash_type)
    if fanout is not None:
        out += _field_varint(6, fanout)
    return out


def pb_node(data: bytes, links: list[tuple[str, Link]]) -> bytes:
    """dag-pb PBNode in canonical form: Links (field 2) before Data (field 1).

    Every link carries a Name, empty for file chunks, as the reference importers write it."""
    out = bytearray()
    for name, link in links:
        body = _field_bytes(1, link.cid) + _field_bytes(2, name.encode("utf-8")) + _field_varint(3, link.tsize)
        out += _field_bytes(2, body)
    out += _field_bytes(1, data)
    return bytes(out)


def _put(emit: Emit, codec: int, block: bytes) -> bytes:
    cid = make_cid(codec, block)
    if emit is not None:
        emit(cid, block)
    return cid


# --- files ---------------------------------------------------------------------


def _leaf(emit: Emit, chunk: bytes) -> Link:
    return Link(_put(emit, CODEC_RAW, chunk), len(chunk), len(chunk))


def _balanced(emit: Emit, leaves: list[Link]) -> Link:
    """Group links 1024 at a time into File nodes until one root is left."""
    level = leaves
    while len(level) > 1:
        parents = []
        for i in range(0, len(level), MAX_LINKS):
            group = level[i:i + MAX_LINKS]
            size = sum(l.size for l in group)
            data = unixfs_data(T_FILE, filesize=size, blocksizes=tuple(l.size for l in group))
            block = pb_node(data, [("", l) for l in group])
            cid = _put(emit, CODEC_DAG_PB, block)
            parents.append(Link(cid, len(block) + sum(l.tsize for l in group), size))
        level = parents
    return level[0]


def add_bytes(data: bytes, emit: Emit = None) -> Link:
    if len(data) <= CHUNK_SIZE:
        return _leaf(emit, data)
    return _balanced(emit, [_leaf(emit, data[i:i + CHUNK_SIZE]) for i in range(0, len(data), CHUNK_SIZE)])


def add_file(path: Path | str, emit: Emit = None) -> Link:
    leaves: list[Link] = []
    fd = os.open(path, os.O_RDONLY)
    try:
        # Read exactly each chunk's size: asking for a full 1 MiB for a 200 KB file costs a
        # fresh 1 MiB allocation per file, which dominated the benchmark.
        remaining = os.fstat(fd).st_size
        while True:
            chunk = _read_full(fd, min(CHUNK_SIZE, remaining))
            remaining -= len(chunk)
            leaves.append(_leaf(emit, chunk))  # an empty file is one empty raw leaf
            if remaining <= 0 or not chunk:
                break
    finally:
        os.close(fd)
    if remaining > 0:
        raise OSError(f"{path} shrank while it was being read")
    return _balanced(emit, leaves)


def _read_full(fd: int, n: int) -> bytes:
    # A read may return short; chunk boundaries must not depend on the OS.
    parts, got = [], 0
    while got < n:
        b = os.read(fd, n - got)
        if not b:
            break
        parts.append(b)
        got += len(b)
    return parts[0] if len(parts) == 1 else b"".join(parts)  # b"" for an empty file


# --- directories -----------------------------------------------------------------


def _flat_dir(emit: Emit, entries: list[tuple[str, Link]]) -> Link:
    entries = sorted(entries, key=lambda e: e[0].encode("utf-8"))
    block = pb_node(unixfs_data(T_DIRECTORY), [(n, l) for n, l in entries])
    return Link(_put(emit, CODEC_DAG_PB, block), len(block) + sum(l.tsize for _, l in entries), 0)


def hamt_hash(name: str) -> bytes:
    """First 64 bits of murmur3-x64-128, big-endian (go-unixfs / hamt-sharding)."""
    h1, _ = mmh3.hash64(name.encode("utf-8"), 0, x64arch=True, signed=False)
    return h1.to_bytes(8, "big")


def _shard(emit: Emit, entries: list[tuple[bytes, str, Link]], depth: int) -> Link:
    # fanout 256 = 8 bits per level, so level `depth` is byte `depth` of the hash.
    if depth >= 8:
        raise ValueError("HAMT hash exhausted: more than one name with the same 64-bit hash")
    buckets: dict[int, list[tuple[bytes, str, Link]]] = {}
    for e in entries:
        buckets.setdefault(e[0][depth], []).append(e)
    links: list[tuple[str, Link]] = []
    bitmap = 0
    for idx in sorted(buckets):
        bitmap |= 1 << idx
        group = buckets[idx]
        if len(group) == 1:
            _, name, link = group[0]
            links.append((f"{idx:02X}{name}", link))
        else:
            links.append((f"{idx:02X}", _shard(emit, group, depth + 1)))
    bitfield = bitmap.to_bytes((bitmap.bit_length() + 7) // 8, "big")
    data = unixfs_data(T_HAMT_SHARD, data=bitfield, hash_type=HAMT_HASH_MURMUR3, fanout=HAMT_FANOUT)
    block = pb_node(data, links)
    return Link(_put(emit, CODEC_DAG_PB, block), len(block) + sum(l.tsize for _, l in links), 0)


def directory(entries: list[tuple[str, Link]], emit: Emit = None) -> Link:
    """A directory node over already-built children: flat, or a HAMT past the threshold."""
    estimate = sum(len(n.encode("utf-8")) + len(l.cid) for n, l in entries)
    if estimate <= SHARD_THRESHOLD:
        return _flat_dir(emit, entries)
    return _shard(emit, [(hamt_hash(n), n, l) for n, l in entries], 0)


def add_tree(tree: Tree, emit: Emit = None, _prefix: str = "") -> DirResult:
    """Build a (virtual) directory: values are file paths, raw bytes, or nested trees."""
    entries: list[tuple[str, Link]] = []
    files: dict[str, str] = {}
    for name in sorted(tree):
        if not name or "/" in name:
            raise ValueError(f"bad entry name {name!r}")
        value = tree[name]
        rel = f"{_prefix}{name}"
        if isinstance(value, Mapping):
            sub = add_tree(value, emit, rel + "/")
            files.update(sub.files)
            link = sub.root
        else:
            link = add_bytes(value, emit) if isinstance(value, bytes) else add_file(value, emit)
            files[rel] = cid_str(link.cid)
        entries.append((name, link))
    return DirResult(directory(entries, emit), files, entries)


def tree_of_folder(path: Path | str) -> dict:
    """A folder on disk as a Tree; hidden entries (.name, e.g. atomic-write temp files) are left out,
    as `ipfs-car pack` does by default."""
    tree: dict = {}
    with os.scandir(path) as it:
        for entry in it:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                tree[entry.name] = tree_of_folder(entry.path)
            elif entry.is_file():
                tree[entry.name] = Path(entry.path)
    return tree


def add_folder(path: Path | str, emit: Emit = None) -> DirResult:
    return add_tree(tree_of_folder(path), emit)
