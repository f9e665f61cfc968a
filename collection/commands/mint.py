"""`roboz-collection mint BUILD_DIR`: deploy the collection's contract, mint every planned token, verify."""

from __future__ import annotations

import argparse

import sys

from collection.commands.argtypes import add_chain_arguments

NAME = "mint"
HELP = "deploy the ERC-721 contract (or reuse mint.json's), mint the missing tokens, verify on chain"
EPILOG = """\
examples:
  roboz-collection mint my-roboz/build                      # local anvil, state kept in build/chain/
  SEPOLIA_RPC_URL=https://... ROBOZ_PRIVATE_KEY=... roboz-collection mint my-roboz/build --network sepolia
  roboz-collection mint my-roboz/build --network sepolia --keystore ~/.roboz/key.json
  roboz-collection mint my-roboz/build --rpc-url http://127.0.0.1:8545 --to 0xYourWallet
  roboz-collection mint my-roboz/build --mint-at-deploy     # every token to the artist in the constructor (ERC-2309)

The key comes from ROBOZ_PRIVATE_KEY or --keystore (password prompt, or
ROBOZ_KEYSTORE_PASSWORD); locally it defaults to anvil's account 0. Re-running is
safe: mint.json records every transaction before it is sent, and a re-run mints
only the tokens the chain does not have yet.

Before the first transaction every check runs and every refusal is printed
together: addresses (EIP-55 checksum; all-lower/upper case only with
--allow-unchecksummed; never the zero address or a contract that cannot hold
ERC-721 tokens), the contract mint.json names (this collection's, owned by the
key), the contract's code size, and the balance for the estimated total.
Before a chain other than a local one, mint also refuses test/demo renders
(--allow-test-renders) and CIDs no IPFS provider has pinned (--allow-unpinned),
then shows a summary and asks (--yes skips the question; without a terminal,
nothing is sent unless --yes is given). With mint.json lost, it looks on chain
for this collection's contract among those the key deployed, and resumes it
(or names what it found). Files changed since `metadata` are refused on every
chain: run `metadata` again.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_chain_arguments(p, mainnet=False)
    p.add_argument("--to", default=None, metavar="ADDR", help="receive the tokens (default: the signing account)")
    from collection.commands.argtypes import positive_int

    p.add_argument("--batch-size", type=positive_int, default=None, metavar="N",
                   help="tokens per mint transaction (default 100); with --mint-at-deploy, tokens per "
                        "ERC-2309 event (default 100, at most 5000; see README for the trade-off)")
    p.add_argument("--mint-at-deploy", action="store_true",
                   help="mint every token to --to (or the signer) in the constructor with ERC-2309 "
                        "ConsecutiveTransfer events: deploy gas no longer grows per token (see README)")
    p.add_argument("--allow-mainnet", action="store_true", help="allow chain id 1 (refused otherwise)")
    p.add_argument("--allow-test-renders", action="store_true",
                   help="mint test/demo renders on a non-local chain (refused otherwise)")
    p.add_argument("--allow-unpinned", action="store_true",
                   help="mint on a non-local chain although no IPFS provider confirmed the pins (refused otherwise)")
    p.add_argument("--allow-unchecksummed", action="store_true",
                   help="accept all-lower or all-upper case addresses (no EIP-55 checksum to catch a typo)")
    p.add_argument("--new-contract", action="store_true",
                   help="deploy a new contract although this key already deployed this collection on that chain "
                        "(found on chain when mint.json does not name it)")
    p.add_argument("--yes", "-y", action="store_true",
                   help="do not ask for confirmation before a non-local chain (required there without a terminal)")
    p.add_argument("--keep-chain", action="store_true", help="leave the local anvil running afterwards")


def ask_on_terminal(summary) -> bool:
    for line in summary.lines():
        print(line)
    try:
        answer = input(f"send these transactions to chain {summary.chain_id}? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def run(args: argparse.Namespace) -> int:
    from buildfiles.errors import UserError
    from buildfiles.lock import build_lock
    from preview import refresh_gallery
    from contracts.guards import Overrides
    from contracts.mint import mint_build
    from collection.commands.leftovers import clean_leftovers

    clean_leftovers(args.build_dir, (".", "chain"), NAME)   # what a killed run left (.NAME.*.tmp)

    # Off a terminal (cron, CI, `< /dev/null`) nobody can answer: a public chain then needs --yes.
    interactive = sys.stdin.isatty() and not args.yes
    with build_lock(args.build_dir, NAME):
        rep = mint_build(
            args.build_dir, network=args.network, rpc_url=args.rpc_url, allow_mainnet=args.allow_mainnet, to=args.to,
            batch_size=args.batch_size, keystore=args.keystore, keep_chain=args.keep_chain,
            mint_at_deploy=args.mint_at_deploy,
            overrides=Overrides(test_renders=args.allow_test_renders, unpinned=args.allow_unpinned),
            confirm=ask_on_terminal if interactive else None, require_confirmation=not args.yes,
            allow_unchecksummed=args.allow_unchecksummed, new_contract=args.new_contract, log=print,
        )
        refresh_gallery(args.build_dir)  # the page's status panel follows the chain, verified or not
    for note in rep.notes:
        print(f"warning    {note}")
    ids = rep.minted_ids
    how = " at deploy (ERC-2309)" if rep.mint_at_deploy and len(rep.newly_minted) else ""
    print(f"contract   {rep.contract_address} on chain {rep.chain_id} ({rep.rpc})")
    print(f"tokens     {len(ids)} on chain (ids {ids.start}..{ids.stop - 1}), {len(rep.newly_minted)} minted now{how}, "
          f"to {rep.to}")
    print(f"txs        {rep.txs_sent} sent this run, {rep.gas_used:,} gas")
    print(f"tokenURI   {rep.sample_token_uri}  (URIs from {rep.uri_source})")
    print(f"receipts   {rep.mint_json}")
    if not rep.verified:
        shown = "; ".join(rep.problems[:3])
        raise UserError(f"on-chain verification failed ({len(rep.problems)} problems): {shown}",
                        hint="details in mint.json under \"verified\"")
    print("verified   tokenURI of every token, royalties, interfaces, provenance")
    return 0
