"""`roboz-collection mint BUILD_DIR`: deploy the collection's contract, mint every planned token, verify."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "mint"
HELP = "deploy the ERC-721 contract (or reuse mint.json's), mint the missing tokens, verify on chain"
EPILOG = """\
examples:
  roboz-collection mint my-roboz/build                      # local anvil, state kept in build/chain/
  SEPOLIA_RPC_URL=https://... ROBOZ_PRIVATE_KEY=... roboz-collection mint my-roboz/build --network sepolia
  roboz-collection mint my-roboz/build --network sepolia --keystore ~/.roboz/key.json
  roboz-collection mint my-roboz/build --rpc-url http://127.0.0.1:8545 --to 0xYourWallet

The key comes from ROBOZ_PRIVATE_KEY or --keystore (password prompt, or
ROBOZ_KEYSTORE_PASSWORD); locally it defaults to anvil's account 0. Re-running is
safe: mint.json records every transaction before it is sent, and a re-run mints
only the tokens the chain does not have yet.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("build_dir", type=Path, metavar="BUILD_DIR")
    p.add_argument("--network", choices=("local", "sepolia"), default=None,
                   help="local: anvil with state in BUILD_DIR/chain (default); sepolia: RPC from SEPOLIA_RPC_URL")
    p.add_argument("--rpc-url", default=None, metavar="URL", help="any other chain's JSON-RPC URL")
    p.add_argument("--keystore", type=Path, default=None, metavar="FILE", help="encrypted eth keystore (JSON)")
    p.add_argument("--to", default=None, metavar="ADDR", help="receive the tokens (default: the signing account)")
    p.add_argument("--batch-size", type=int, default=None, metavar="N", help="tokens per mint transaction (default 100)")
    p.add_argument("--allow-mainnet", action="store_true", help="allow chain id 1 (refused otherwise)")
    p.add_argument("--keep-chain", action="store_true", help="leave the local anvil running afterwards")


def run(args: argparse.Namespace) -> int:
    from buildfiles.errors import UserError
    from collection.preview import refresh_gallery
    from contracts.mint import DEFAULT_BATCH, mint_build

    network = args.network or ("rpc" if args.rpc_url else "local")
    if network == "rpc":
        network = "local"  # mint_build treats network=local with an rpc_url as "any chain at that URL"
    rep = mint_build(
        args.build_dir, network=network, rpc_url=args.rpc_url, allow_mainnet=args.allow_mainnet, to=args.to,
        batch_size=args.batch_size or DEFAULT_BATCH, keystore=args.keystore, keep_chain=args.keep_chain, log=print,
    )
    refresh_gallery(args.build_dir)  # the page's status panel follows the chain, verified or not
    ids = rep.minted_ids
    print(f"contract   {rep.contract_address} on chain {rep.chain_id} ({rep.rpc})")
    print(f"tokens     {len(ids)} on chain (ids {ids.start}..{ids.stop - 1}), {len(rep.newly_minted)} minted now, to {rep.to}")
    print(f"txs        {rep.txs_sent} sent this run, {rep.gas_used:,} gas")
    print(f"tokenURI   {rep.sample_token_uri}  (URIs from {rep.uri_source})")
    print(f"receipts   {rep.mint_json}")
    if not rep.verified:
        shown = "; ".join(rep.problems[:3])
        raise UserError(f"on-chain verification failed ({len(rep.problems)} problems): {shown}",
                        hint="details in mint.json under \"verified\"")
    print("verified   tokenURI of every token, royalties, interfaces, provenance")
    return 0
