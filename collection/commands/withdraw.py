"""`roboz-collection withdraw BUILD_DIR`: send the sale's proceeds to the payout address."""

from __future__ import annotations

import argparse

from collection.commands.argtypes import add_chain_arguments, add_keep_chain


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
    add_chain_arguments(p)
    add_keep_chain(p)


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
