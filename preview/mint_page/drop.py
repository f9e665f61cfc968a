"""drop.json: everything the mint page knows before it asks the chain, as one plain object.

Built from sale.json (contract, chain, phases, allowlist trees), metadata/collection.json (name,
description, cover) and contract.json beside this file (the ABI entries the page calls and the
plain sentence for each custom error, copied from contracts/artifacts by the test that checks
them: the preview room never imports the contracts room). Wei amounts are decimal strings, since
JavaScript numbers lose precision past 2**53.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildfiles.errors import UserError
from buildfiles.jsonfile import read_fields
from preview.mint_page.sale_source import Drop

DROP_FORMAT = "roboz-drop/1"
CONTRACT_FILE = Path(__file__).with_name("contract.json")

CHAIN_NAMES = {1: "Ethereum", 11155111: "Sepolia", 31337: "Anvil (local)", 1337: "Local chain"}
EXPLORERS = {1: "https://etherscan.io", 11155111: "https://sepolia.etherscan.io"}


@dataclass(frozen=True)
class CollectionView:
    name: str
    description: str
    cover: Path | None     # local file of collection.json's `image`
    banner: Path | None    # local file of collection.json's `banner_image`


def read_collection(build_dir: Path) -> CollectionView:
    path = Path(build_dir) / "metadata" / "collection.json"
    f = read_fields(path, fmt="", recover="run `roboz-collection metadata BUILD` again")
    if f is None:
        raise UserError(f"{path} not found: the mint page shows the collection's name and cover",
                        hint="run `roboz-collection metadata BUILD` first", exit_code=2)
    return CollectionView(
        name=f.str("name"),
        description=f.str("description", optional=True) or "",
        cover=_local_image(build_dir, f.str("image", optional=True)),
        banner=_local_image(build_dir, f.str("banner_image", optional=True)),
    )


def _local_image(build_dir: Path, uri: str | None) -> Path | None:
    """ipfs://<images CID>/<name> → BUILD/images/<name>, when that file is there."""
    if not uri or not uri.startswith("ipfs://"):
        return None
    name = uri.rsplit("/", 1)[-1]
    p = Path(build_dir) / "images" / name
    return p if name and "/" not in name and p.is_file() else None


def contract_interface() -> dict[str, Any]:
    """{"abi": [...], "errors": {"ErrorName": "sentence"}} for the page."""
    return json.loads(CONTRACT_FILE.read_text("utf-8"))


def drop_data(drop: Drop, coll: CollectionView, *, cover: str | None, banner: str | None,
              contract: dict[str, Any]) -> dict[str, Any]:
    sale = drop.sale
    return {
        "format": DROP_FORMAT,
        "name": coll.name,
        "description": coll.description,
        "cover": cover,
        "banner": banner,
        "contract": sale.contract_address,
        "chain": {
            "id": sale.chain_id,
            "name": CHAIN_NAMES.get(sale.chain_id, f"chain {sale.chain_id}"),
            "local": sale.local,
            # a public chain's RPC URL may carry an API key: it never reaches a published page
            "rpc_url": sale.rpc_url if sale.local else None,
            "explorer": EXPLORERS.get(sale.chain_id),
        },
        "max_supply": sale.max_supply,
        "start_id": sale.start_id,
        "phases": [
            {"name": p.name, "start": p.start, "price_wei": str(p.price_wei), "per_wallet": p.per_wallet,
             "supply": p.supply, "merkle_root": p.merkle_root, "tree": tree}
            for p, tree in zip(sale.phases, drop.trees)
        ],
        "abi": contract["abi"],
        "errors": contract["errors"],
    }
