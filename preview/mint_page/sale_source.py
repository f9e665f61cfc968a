"""The drop the mint page sells from: sale.json's shown entry (buildfiles/sale.py), checked for
what the page relies on, an allowlist tree for every allowlist phase whose root is that phase's."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildfiles.errors import UserError
from buildfiles.jsonfile import BuildFileError
from buildfiles.sale import RECOVER, SaleChain, load_sale, sale_path, shown

TREE_FORMAT = "standard-v1"   # @openzeppelin/merkle-tree's dump
LEAF_ENCODING = ["address", "uint256"]


@dataclass(frozen=True)
class Drop:
    sale: SaleChain
    trees: tuple[dict[str, Any] | None, ...]   # per phase: the allowlist's tree dump, None for a public phase


def read_drop(build_dir: Path) -> Drop:
    build_dir = Path(build_dir)
    entry = shown(load_sale(build_dir))
    if entry is None:
        raise UserError(f"{sale_path(build_dir)} not found: the mint page sells a sale that is set up on chain",
                        hint=f"run `roboz-collection sale {build_dir} --network local|sepolia` first", exit_code=2)
    if not entry.phases:
        raise BuildFileError(f"{sale_path(build_dir)}: chain {entry.chain_id} has no sale phases",
                             hint=RECOVER.format(build=build_dir))
    return Drop(entry, tuple(_tree(build_dir, entry, i) for i in range(len(entry.phases))))


def _tree(build_dir: Path, entry: SaleChain, i: int) -> dict[str, Any] | None:
    phase = entry.phases[i]
    if phase.public:
        return None
    tree = entry.trees.get(str(i))
    where = f"{sale_path(build_dir)}: chain {entry.chain_id} phase {i} ({phase.name})"
    if not isinstance(tree, dict) or tree.get("format") != TREE_FORMAT or tree.get("leafEncoding") != LEAF_ENCODING \
            or not isinstance(tree.get("tree"), list) or not tree["tree"] or not isinstance(tree.get("values"), list):
        raise BuildFileError(f"{where} is an allowlist phase without its tree dump ({TREE_FORMAT}, leaves "
                             "address,uint256): collectors could not prove they are listed",
                             hint=RECOVER.format(build=build_dir))
    if str(tree["tree"][0]).lower() != phase.merkle_root.lower():
        raise BuildFileError(f"{where}: the tree's root {tree['tree'][0]} is not the phase's root {phase.merkle_root}",
                             hint=RECOVER.format(build=build_dir))
    return tree
