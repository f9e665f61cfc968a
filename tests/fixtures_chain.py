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
                   metadata_cid: str = "bafybeigdyrztmetadata") -> Path:
    """plan.json (planfile format), publish.json or cids.json, provenance.json."""
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
    uris = {"images_cid": "bafyimages", "metadata_cid": metadata_cid,
            "base_uri": f"ipfs://{metadata_cid}/", "contract_uri": f"ipfs://{metadata_cid}/collection.json"}
    if uris_file == "publish.json":
        uris["provider"] = "car"
    write_json(build / uris_file, uris)
    images = [{"id": t["id"], "sha256": hashlib.sha256(f"image {t['id']}".encode()).hexdigest()} for t in tokens]
    prov = hashlib.sha256("".join(i["sha256"] for i in images).encode()).hexdigest()
    write_json(build / "provenance.json", {"algorithm": "sha256", "images": images, "provenance_hash": prov})
    return build


def read_json(p: Path) -> dict:
    return json.loads(Path(p).read_text("utf-8"))
