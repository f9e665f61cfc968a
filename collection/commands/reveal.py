"""`roboz-collection reveal BUILD_DIR`: draw the fair-reveal offset on chain, then check every tokenURI."""

from __future__ import annotations

import argparse

from collection.commands.argtypes import add_chain_arguments, add_keep_chain


NAME = "reveal"
HELP = "commit to a future block, reveal from its hash, check every minted token's tokenURI against metadata/"
EPILOG = """\
examples:
  roboz-collection reveal my-roboz/build                     # local anvil: the block is mined at once
  SEPOLIA_RPC_URL=https://... ROBOZ_PRIVATE_KEY=... roboz-collection reveal my-roboz/build --network sepolia

Whenever the artist decides, once the first phase has opened (sold out or not). The
contract commits to a block 5 blocks ahead; once it is mined, its hash draws the offset
(a commitment whose 256-block window passed is made again). Token t then shows
metadata (t - start + offset) mod N + start. Re-running after the reveal sends nothing
and checks again. With `reveal: none` it only checks.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_chain_arguments(p)
    add_keep_chain(p)


def run(args: argparse.Namespace) -> int:
    from buildfiles.lock import build_lock
    from contracts.drop import reveal_build
    from preview import refresh_gallery

    with build_lock(args.build_dir, NAME):
        rep = reveal_build(args.build_dir, network=args.network, rpc_url=args.rpc_url, keystore=args.keystore,
                           allow_mainnet=args.allow_mainnet, keep_chain=args.keep_chain, log=print)
        refresh_gallery(args.build_dir)
    print(f"contract   {rep.contract_address} on chain {rep.chain_id}")
    if rep.block is not None:
        print(f"offset     {rep.offset} (from the hash of block {rep.block})")
    print(f"checked    tokenURI of {rep.checked} minted tokens against metadata/")
    print(f"txs        {rep.txs_sent} sent this run")
    return 0
