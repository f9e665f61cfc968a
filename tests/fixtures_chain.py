"""Chain fixtures: a real anvil per test (free port, ~0.1 s to start, stopped afterwards),
and tiny build directories holding just what `mint` reads."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from buildfiles.atomicio import write_json
from buildfiles.plan import PLAN_FORMAT

ANVIL_CHAIN_ID = 31337
ROYALTY_RECEIVER = "0x1000000000000000000000000000000000000001"


def _need_anvil():
    from contracts.chain import ANVIL_BIN

    if not ANVIL_BIN.exists():
        pytest.fail("anvil missing: run `cd contracts && npm ci`")


@pytest.fixture
def anvil():
    from contracts.chain import start_anvil

    _need_anvil()
    node = start_anvil()
    yield node
    node.stop()


@pytest.fixture
def anvil_manual():
    """anvil that mines only on `evm_mine`: transactions stay pending until the test says so."""
    from contracts.chain import start_anvil

    _need_anvil()
    node = start_anvil(no_mining=True)
    yield node
    node.stop()


def make_build_dir(root: Path, *, supply: int = 7, start_id: int = 1, name: str = "Rusty Roboz",
                   symbol: str = "RRZ", royalty_bps: int | None = 500, uris_file: str = "publish.json",
                   metadata_cid: str = "bafybeigdyrztmetadata", provider: str = "car", tiny: bool = False) -> Path:
    """plan.json (planfile format), images/, metadata/, renders/, publish.json or cids.json, provenance.json.

    provider: who publish.json says published ("car" pins nothing, "kubo" pins). tiny: render records
    say the images come from the tiny test models. File CIDs come from metadata/unixfs.py, not from
    the code under test."""
    build = Path(root)
    build.mkdir(parents=True, exist_ok=True)
    tokens = [{"id": start_id + i, "name": f"{name} #{start_id + i}", "special": None,
               "traits": {"Body": "Rust"}, "prompt": "a rusty robot:1", "seed": 1000 + i, "render": {}}
              for i in range(supply)]
    plan = {
        "format": PLAN_FORMAT,
        "manifest_sha256": "0" * 64,
        "collection": {
            "name": name, "symbol": symbol, "description": "test collection", "external_url": None, "image": None,
            "name_template": name + " #{id}", "seed": 42, "start_id": start_id, "supply": supply, "shuffle": False,
            "royalties": {"receiver": ROYALTY_RECEIVER, "bps": royalty_bps} if royalty_bps else None,
        },
        "render": {}, "inputs": {}, "tokens": tokens,
    }
    write_json(build / "plan.json", plan)
    files = {}
    for t in tokens:
        image = f"image {t['id']}".encode()
        (build / "images").mkdir(exist_ok=True)
        (build / "images" / f"{t['id']}.png").write_bytes(image)
        write_json(build / "renders" / f"{t['id']}.json",
                   {"id": t["id"], "seed": t["seed"], "models": "tiny" if tiny else "vqgan_imagenet_f16_16384+ViT-B/32",
                    "tiny": tiny, "iterations": 10, "settings": {}})
        write_json(build / "metadata" / f"{t['id']}.json",
                   {"name": t["name"], "image": f"ipfs://bafyimages/{t['id']}.png", "attributes": []})
        files[f"images/{t['id']}.png"] = _file_cid(image)
    write_json(build / "metadata" / "collection.json", {"name": name})
    for f in sorted((build / "metadata").iterdir()):
        files[f"metadata/{f.name}"] = _file_cid(f.read_bytes())
    uris = {"images_cid": "bafyimages", "metadata_cid": metadata_cid,
            "base_uri": f"ipfs://{metadata_cid}/", "contract_uri": f"ipfs://{metadata_cid}/collection.json",
            "files": files}
    if uris_file == "publish.json":
        uris["provider"] = provider
        uris["pins"] = provider != "car"
    write_json(build / uris_file, uris)
    images = [{"id": t["id"], "sha256": hashlib.sha256(f"image {t['id']}".encode()).hexdigest()} for t in tokens]
    prov = hashlib.sha256("".join(i["sha256"] for i in images).encode()).hexdigest()
    write_json(build / "provenance.json", {"algorithm": "sha256", "images": images, "provenance_hash": prov})
    return build


def _file_cid(data: bytes) -> str:
    from metadata.unixfs import add_bytes, cid_str

    return cid_str(add_bytes(data).cid)


def mint_entry(build: Path, chain_id: int = ANVIL_CHAIN_ID) -> dict:
    """One chain's entry of mint.json (the journal is keyed by chain id)."""
    return read_json(Path(build) / "mint.json")["chains"][str(chain_id)]


def read_json(p: Path) -> dict:
    return json.loads(Path(p).read_text("utf-8"))


# --- sale mode (issue 20): a deployed RobozCollection and anvil's clock ----------------

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
ZERO_ROOT = b"\0" * 32
TEST_PROVENANCE = bytes.fromhex("ab" * 32)


def deploy_collection(w3, *, supply: int = 20, start_id: int = 1, base_uri: str = "ipfs://meta/",
                      provenance: bytes | None = TEST_PROVENANCE):
    """RobozCollection from the committed artifact, owned by accounts[0], provenance set (setSale needs it)."""
    from contracts.compile import load_artifact

    art = load_artifact("RobozCollection")
    owner = w3.eth.accounts[0]
    h = w3.eth.contract(abi=art.abi, bytecode=art.bytecode).constructor(
        "Rusty Roboz", "RRZ", supply, start_id, base_uri, base_uri + "collection.json", ZERO_ADDRESS, 0, owner,
        ZERO_ADDRESS, 0).transact({"from": owner})
    c = w3.eth.contract(address=w3.eth.wait_for_transaction_receipt(h).contractAddress, abi=art.abi)
    if provenance is not None:
        c.functions.setProvenanceHash(provenance).transact({"from": owner})
    return c


def rpc(w3, method: str, params: list | None = None):
    """Raw JSON-RPC (anvil's evm_* methods); raises on an error answer."""
    r = w3.provider.make_request(method, params or [])
    if "error" in r:
        raise RuntimeError(f"{method}: {r['error']}")
    return r.get("result")


def chain_now(w3) -> int:
    return w3.eth.get_block("latest")["timestamp"]


def mine_at(w3, timestamp: int) -> None:
    """Mine one block stamped `timestamp`: the next transaction's block.timestamp is at least that."""
    rpc(w3, "evm_setNextBlockTimestamp", [timestamp])
    rpc(w3, "evm_mine")


def mine_blocks(w3, n: int) -> None:
    rpc(w3, "anvil_mine", [hex(n)])
