"""`roboz-collection withdraw BUILD_DIR`: send the sale's proceeds to the payout address."""

from __future__ import annotations

import argparse

from buildfiles.chains import NETWORKS
from pathlib import Path

NAME = "withdraw"
HELP = "send the contract's whole balance to its payout address (anyone may; only the payout receives)"
EPILOG = """\
examples:
  roboz-collection withdraw my-roboz/build
  SEPOLIA_RPC_URL=https://... ROBOZ_PRIVATE_KEY=... roboz-collection withdraw my-roboz/build --network sepolia

Nothing is sent when the contract holds no ETH. The amount is read from the Withdrawn
event and recorded in sale.json.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("build_dir", type=Path, metavar="BUILD_DIR")
    p.add_argument("--network", choices=tuple(NETWORKS), default=None,
                   help="local: anvil with state in BUILD_DIR/chain (default); sepolia: RPC from SEPOLIA_RPC_URL")
    p.add_argument("--rpc-url", default=None, metavar="URL", help="any other chain's JSON-RPC URL")
    p.add_argument("--keystore", type=Path, default=None, metavar="FILE", help="encrypted eth keystore (JSON)")
    p.add_argument("--allow-mainnet", action="store_true", help="allow chain id 1 (refused otherwise)")
    p.add_argument("--keep-chain", action="store_true", help="leave the local anvil running afterwards")


def run(args: argparse.Namespace) -> int:
    from buildfiles.lock import build_lock
    from contracts.drop import withdraw_build
    from preview import refresh_gallery

    with build_lock(args.build_dir, NAME):
        rep = withdraw_build(args.build_dir, network=args.network, rpc_url=args.rpc_url, keystore=args.keystore,
                             allow_mainnet=args.allow_mainnet, keep_chain=args.keep_chain, log=print)
        refresh_gallery(args.build_dir)
    print(f"contract   {rep.contract_address} on chain {rep.chain_id}")
    if rep.tx is None:
        print("withdrawn  nothing: the contract holds no ETH")
    else:
        print(f"withdrawn  {rep.amount_wei / 10**18:.6f} ETH ({rep.amount_wei} wei) to {rep.payout} ({rep.tx})")
    return 0
