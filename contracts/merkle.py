"""OpenZeppelin's StandardMerkleTree for allowlists of (address, allowance), in Python.

Same tree, proofs and "standard-v1" dump as npm @openzeppelin/merkle-tree 1.0.x (tests/test_merkle.py
compares them), so the contract's `MerkleProof.verifyCalldata`, the mint page (which loads the dump)
and this module agree on every leaf:

    leaf = keccak256(keccak256(abi.encode(address, uint256)))   # double hash: a leaf never passes as a node
    node = keccak256(sorted(a, b))                               # commutative pair hash
    tree = array of 2n-1 nodes, leaves sorted by hash and stored from the end, node i's children 2i+1, 2i+2

Values are kept as the dump stores them: [checksummed address, allowance as a decimal string]
(the npm package refuses JavaScript numbers as leaf values, so uint256 travels as a string).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

LEAF_ENCODING = ["address", "uint256"]
FORMAT = "standard-v1"


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _bytes(h: str) -> bytes:
    b = bytes.fromhex(h[2:] if h.startswith("0x") else h)
    if len(b) != 32:
        raise ValueError(f"merkle node {h!r} is not 32 bytes")
    return b


def normalize(address: str, allowance: int | str) -> tuple[str, str]:
    """The value as stored in the dump: checksummed address, allowance as a decimal string."""
    n = int(allowance)
    if not 0 <= n < 2**256:
        raise ValueError(f"allowance {allowance!r} is not a uint256")
    return to_checksum_address(address), str(n)


def leaf_hash(address: str, allowance: int | str) -> bytes:
    a, n = normalize(address, allowance)
    return keccak(keccak(encode(LEAF_ENCODING, [a, int(n)])))


def _node_hash(a: bytes, b: bytes) -> bytes:
    return keccak(a + b if a <= b else b + a)


def process_proof(leaf: bytes, proof: Iterable[str]) -> bytes:
    node = leaf
    for sibling in proof:
        node = _node_hash(node, _bytes(sibling))
    return node


def verify(root: str, value: tuple[str, int | str], proof: list[str]) -> bool:
    """True if (address, allowance) with this proof hashes up to root (what MerkleProof.verify checks)."""
    return process_proof(leaf_hash(*value), proof) == _bytes(root)


@dataclass(frozen=True)
class StandardMerkleTree:
    tree: tuple[bytes, ...]
    values: tuple[tuple[tuple[str, str], int], ...]   # ((address, allowance), tree index), in input order

    @classmethod
    def of(cls, values: list[tuple[str, int | str]]) -> "StandardMerkleTree":
        if not values:
            raise ValueError("an allowlist needs at least one address")
        norm = [normalize(a, n) for a, n in values]
        hashed = sorted(((leaf_hash(*v), i) for i, v in enumerate(norm)), key=lambda x: x[0])  # stable, like JS
        size = 2 * len(hashed) - 1
        tree: list[bytes] = [b""] * size
        for k, (h, _) in enumerate(hashed):
            tree[size - 1 - k] = h
        for i in range(size - 1 - len(hashed), -1, -1):
            tree[i] = _node_hash(tree[2 * i + 1], tree[2 * i + 2])
        index = [0] * len(norm)
        for k, (_, i) in enumerate(hashed):
            index[i] = size - 1 - k
        return cls(tuple(tree), tuple(zip(norm, index)))

    @property
    def root(self) -> str:
        return _hex(self.tree[0])

    def __len__(self) -> int:
        return len(self.values)

    def _index_of(self, address: str, allowance: int | str) -> int:
        h = leaf_hash(address, allowance)
        # The last of duplicate values, like the npm package's lookup (both proofs verify).
        for _, ti in reversed(self.values):
            if self.tree[ti] == h:
                return ti
        raise KeyError(f"({address}, {allowance}) is not in the allowlist")

    def proof(self, address: str, allowance: int | str) -> list[str]:
        i = self._index_of(address, allowance)
        out = []
        while i > 0:
            out.append(_hex(self.tree[i + 1 if i % 2 else i - 1]))
            i = (i - 1) // 2
        return out

    def allowance_of(self, address: str) -> int | None:
        """The allowance listed for an address (the first, if listed twice), None if not listed."""
        a = to_checksum_address(address)
        for (addr, n), _ in self.values:
            if to_checksum_address(addr) == a:
                return int(n)
        return None

    def dump(self) -> dict[str, Any]:
        """The "standard-v1" dump, keys in the npm package's order (JSON.stringify gives the same text)."""
        return {
            "format": FORMAT,
            "leafEncoding": list(LEAF_ENCODING),
            "tree": [_hex(n) for n in self.tree],
            "values": [{"value": [a, n], "treeIndex": ti} for (a, n), ti in self.values],
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> "StandardMerkleTree":
        """Reads a dump and checks it like the npm package's load(): every leaf and every node rehashed."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"unknown merkle tree format {data.get('format') if isinstance(data, dict) else data!r}")
        if data.get("leafEncoding") != LEAF_ENCODING:
            raise ValueError(f"leaf encoding must be {LEAF_ENCODING}, got {data.get('leafEncoding')!r}")
        tree = tuple(_bytes(h) for h in data["tree"])
        values = []
        for v in data["values"]:
            (a, n), ti = v["value"], int(v["treeIndex"])
            if not 0 <= ti < len(tree) or 2 * ti + 1 < len(tree):
                raise ValueError(f"tree index {ti} of {a} is not a leaf")
            if tree[ti] != leaf_hash(a, n):
                raise ValueError(f"merkle tree does not contain the expected value ({a}, {n})")
            values.append(((str(a), str(n)), ti))   # as written, so load(d).dump() == d
        for i in range(len(tree)):
            if 2 * i + 2 < len(tree) and tree[i] != _node_hash(tree[2 * i + 1], tree[2 * i + 2]):
                raise ValueError("merkle tree is invalid: a node is not the hash of its children")
        if not tree:
            raise ValueError("merkle tree is empty")
        return cls(tree, tuple(values))
