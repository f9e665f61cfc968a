"""contracts/merkle.py against npm @openzeppelin/merkle-tree (tests/js): same roots, proofs and dump text,
for small lists, duplicates, odd sizes and a 10,000-address list; and load() refuses tampered dumps."""

from __future__ import annotations

import json
import random
import shutil
import subprocess

import pytest
from eth_utils import to_checksum_address

from contracts.merkle import StandardMerkleTree, verify

from .fixtures_ipfs import JS_DIR

# Builds the tree in node from the same values, then prints root, proofs of the asked values and
# JSON.stringify(dump): the text a browser or the npm package writes.
NODE_SCRIPT = r"""
const { StandardMerkleTree } = require("@openzeppelin/merkle-tree");
let input = "";
process.stdin.on("data", d => (input += d));
process.stdin.on("end", () => {
  const { values, ask } = JSON.parse(input);
  const tree = StandardMerkleTree.of(values, ["address", "uint256"]);
  const proofs = ask.map(i => tree.getProof(values[i]));
  const loaded = StandardMerkleTree.load(JSON.parse(JSON.stringify(tree.dump())));
  process.stdout.write(JSON.stringify({ root: tree.root, proofs, dump: JSON.stringify(tree.dump()),
                                        loadedRoot: loaded.root }));
});
"""


def npm_tree(values: list[tuple[str, str]], ask: list[int]) -> dict:
    node = shutil.which("node")
    if node is None or not (JS_DIR / "node_modules" / "@openzeppelin" / "merkle-tree").exists():
        pytest.fail("tests/js needs `npm ci` (node 20 + npm) for @openzeppelin/merkle-tree")
    out = subprocess.run([node, "-e", NODE_SCRIPT], cwd=JS_DIR, input=json.dumps({"values": values, "ask": ask}),
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def addresses(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [to_checksum_address("0x%040x" % rng.getrandbits(160)) for _ in range(n)]


def compare(values: list[tuple[str, str]], ask: list[int]) -> StandardMerkleTree:
    tree = StandardMerkleTree.of([(a, int(n)) for a, n in values])
    ref = npm_tree(values, ask)
    assert tree.root == ref["root"] == ref["loadedRoot"]
    for i, proof in zip(ask, ref["proofs"]):
        assert tree.proof(*values[i]) == proof, f"proof of value {i}"
        assert verify(tree.root, values[i], proof)
    # Same text as JSON.stringify(tree.dump()) in JavaScript.
    assert json.dumps(tree.dump(), separators=(",", ":")) == ref["dump"]
    return tree


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 101])
def test_roots_proofs_and_dump_match_the_npm_package(n):
    rng = random.Random(n)
    values = [(a, str(rng.randint(1, 5))) for a in addresses(n, seed=n)]
    compare(values, list(range(n)))


def test_ten_thousand_addresses_match_the_npm_package():
    values = [(a, str(1 + i % 3)) for i, a in enumerate(addresses(10_000, seed=20))]
    ask = [0, 1, 4_999, 8_191, 8_192, 9_999]
    tree = compare(values, ask)
    # 10,000 leaves: a tree of depth 14, so a proof has 13 or 14 siblings.
    assert {len(tree.proof(*values[i])) for i in ask} <= {13, 14}


def test_duplicates_big_allowances_and_lowercase_input_match():
    a = addresses(3, seed=7)
    values = [(a[0], "2"), (a[1], str(2**256 - 1)), (a[0], "2"), (a[2], "0")]
    compare(values, [0, 1, 2, 3])
    # Lower-case input is stored checksummed, so the page finds a wallet whatever case it reports.
    t = StandardMerkleTree.of([(x.lower(), 1) for x in a])
    assert t.dump()["values"][0]["value"] == [a[0], "1"]
    assert t.allowance_of(a[1].lower()) == 1 and t.allowance_of(addresses(1, seed=99)[0]) is None


def test_proofs_fail_for_other_wallets_or_allowances():
    vals = [(a, 2) for a in addresses(20, seed=3)]
    tree = StandardMerkleTree.of(vals)
    proof = tree.proof(*vals[5])
    assert verify(tree.root, vals[5], proof)
    assert not verify(tree.root, (vals[5][0], 3), proof)       # a higher allowance than listed
    assert not verify(tree.root, vals[6], proof)                # someone else's proof
    with pytest.raises(KeyError):
        tree.proof(vals[5][0], 3)
    with pytest.raises(ValueError):
        StandardMerkleTree.of([])


def test_load_round_trips_and_refuses_tampered_dumps():
    vals = [(a, 1) for a in addresses(9, seed=4)]
    d = StandardMerkleTree.of(vals).dump()
    t = StandardMerkleTree.load(json.loads(json.dumps(d)))
    assert t.dump() == d and t.proof(*vals[3]) == StandardMerkleTree.of(vals).proof(*vals[3])
    bad_value = json.loads(json.dumps(d))
    bad_value["values"][0]["value"][1] = "2"
    bad_node = json.loads(json.dumps(d))
    bad_node["tree"][0] = "0x" + "11" * 32
    for bad, msg in ((bad_value, "expected value"), (bad_node, "invalid"), ({**d, "format": "simple-v1"}, "format"),
                     ({**d, "leafEncoding": ["address"]}, "leaf encoding")):
        with pytest.raises(ValueError, match=msg):
            StandardMerkleTree.load(bad)
