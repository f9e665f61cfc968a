"""End to end, as a user runs it: build -> publish --to car -> mint --network local, offline.

Asserts the chain of identity from pixels to chain, each link checked by a part that did
not make it: sha256 of each rendered PNG -> provenance hash read from the contract; the
images CID inside each metadata file; the metadata CID = base URI read from the contract;
tokenURI(id) resolved through the CAR files by the independent `ipfs-car` -> JSON whose
`image` resolves, again through a CAR, to the exact PNG bytes that were rendered.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

MANIFEST = textwrap.dedent(
    """\
    collection:
      name: Tiny Roboz
      symbol: TROBOZ
      description: Four little robots, end to end.
      external_url: https://example.org/roboz/{id}
      seed: 42
      supply: 4
      start_id: 1
      shuffle: true
      royalties: {receiver: "0x000000000000000000000000000000000000dEaD", bps: 750}
    render:
      models: tiny
      size: [32, 32]
      iterations: 6
      snapshots: [3, 6]
      cutn: 4
      video: {every: 2, fps: 4}
    prompt:
      template: "{colour} rusty roboz {object}"
    traits:
      colour: {Red: 3, Blue: 2}
      object:
        Lightsaber: {weight: 2, prompt: "with a lightsaber"}
        Surfboard: {weight: 1, prompt: "surfing"}
    specials:
      - name: Dune
        prompt: "Dune | rusty roboz:0.5"
    """
)


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "ROBOZ_PRIVATE_KEY"}
    p = subprocess.run(
        [sys.executable, "-m", "collection.cli", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    assert p.returncode == 0, f"{args}: exit {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
    return p


@pytest.fixture(scope="module")
def collection_built(tmp_path_factory, ipfs_car):
    proj = tmp_path_factory.mktemp("e2e")
    (proj / "manifest.yaml").write_text(MANIFEST)
    cli("build", "manifest.yaml", "--no-progress", cwd=proj)
    cli("publish", "build", "--to", "car", cwd=proj)
    cli("mint", "build", "--network", "local", "--keep-chain", cwd=proj)
    build = proj / "build"
    yield build
    from contracts.chain import stop_local_chain

    stop_local_chain(build)


@pytest.fixture(scope="module")
def chain(collection_built):
    from web3 import Web3

    from contracts.chain import local_chain

    mint = json.loads((collection_built / "mint.json").read_text())["chains"]["31337"]  # keyed by chain id
    node, started_now = local_chain(collection_built)  # the anvil `mint --keep-chain` left running
    assert not started_now
    w3 = Web3(Web3.HTTPProvider(node.url))
    assert w3.eth.chain_id == mint["chain_id"] == 31337
    abi = json.loads((REPO / "contracts" / "artifacts" / "RobozCollection.json").read_text())["abi"]
    return w3.eth.contract(address=Web3.to_checksum_address(mint["contract_address"]), abi=abi)


def unpack(ipfs_car, car: Path, dest: Path) -> Path:
    ipfs_car("unpack", car, "--output", dest)
    return dest


def test_every_token_rendered_and_described(collection_built):
    plan = json.loads((collection_built / "plan.json").read_text())
    ids = [t["id"] for t in plan["tokens"]]
    assert ids == [1, 2, 3, 4]
    for i in ids:
        assert (collection_built / "images" / f"{i}.png").stat().st_size > 0
        assert (collection_built / "animations" / f"{i}.mp4").stat().st_size > 0
        assert sorted(p.name for p in (collection_built / "snapshots" / str(i)).iterdir()) == ["0003.png", "0006.png"]
        meta = json.loads((collection_built / "metadata" / f"{i}.json").read_text())
        assert any(a.get("trait_type") == "Test render" for a in meta["attributes"]), \
            "tiny-model renders must be labelled as such"
    assert (collection_built / "gallery.html").is_file()
    assert list((collection_built / "contact-sheets").glob("*.png"))


def test_provenance_on_chain_is_the_hash_of_the_rendered_pngs(collection_built, chain):
    digests = [hashlib.sha256((collection_built / "images" / f"{i}.png").read_bytes()).hexdigest() for i in range(1, 5)]
    expected = hashlib.sha256("".join(digests).encode()).hexdigest()
    assert chain.functions.provenanceHash().call().hex().removeprefix("0x") == expected


def test_metadata_cid_is_the_base_uri_on_chain(collection_built, chain, ipfs_car):
    roots = ipfs_car("roots", collection_built / "car" / "metadata.car").split()
    assert len(roots) == 1
    assert chain.functions.baseURI().call() == f"ipfs://{roots[0]}/"
    assert chain.functions.contractURI().call() == f"ipfs://{roots[0]}/collection.json"


def test_token_uri_resolves_through_the_cars_to_the_rendered_bytes(collection_built, chain, ipfs_car, tmp_path):
    meta_root = ipfs_car("roots", collection_built / "car" / "metadata.car").split()[0]
    img_root = ipfs_car("roots", collection_built / "car" / "images.car").split()[0]
    meta_dir = unpack(ipfs_car, collection_built / "car" / "metadata.car", tmp_path / "meta")
    img_dir = unpack(ipfs_car, collection_built / "car" / "images.car", tmp_path / "img")
    assert chain.functions.totalSupply().call() == 4
    for token_id in range(1, 5):
        uri = chain.functions.tokenURI(token_id).call()
        assert uri == f"ipfs://{meta_root}/{token_id}.json"
        doc = json.loads((meta_dir / f"{token_id}.json").read_bytes())
        assert doc["image"] == f"ipfs://{img_root}/{token_id}.png", "the images CID inside the metadata"
        served = (img_dir / doc["image"].split("/", 3)[3]).read_bytes()
        assert served == (collection_built / "images" / f"{token_id}.png").read_bytes()


def test_royalties_and_rerun_is_idempotent(collection_built, chain):
    receiver, amount = chain.functions.royaltyInfo(1, 10_000).call()
    assert receiver.lower() == "0x000000000000000000000000000000000000dead" and amount == 750
    proj = collection_built.parent
    before = json.loads((collection_built / "mint.json").read_text())["chains"]["31337"]
    out = cli("publish", "build", "--to", "car", cwd=proj).stdout
    cli("mint", "build", "--network", "local", "--keep-chain", cwd=proj)
    after = json.loads((collection_built / "mint.json").read_text())["chains"]["31337"]
    assert before["contract_address"] == after["contract_address"]
    assert chain.functions.totalSupply().call() == 4
    assert "nothing" in out.lower() or "unchanged" in out.lower()
