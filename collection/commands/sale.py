"""`roboz-collection sale BUILD_DIR`: put the manifest's drop on chain (contract in sale mode, reserve, phases)."""

from __future__ import annotations

import argparse

import sys
from pathlib import Path

from collection.commands.argtypes import add_chain_arguments, add_keep_chain

NAME = "sale"
HELP = "deploy (or reuse) the contract in sale mode: reserve to the artist, phases, allowlist roots; writes sale.json"
EPILOG = """\
examples:
  roboz-collection sale my-roboz/build                       # local anvil, state kept in build/chain/
  SEPOLIA_RPC_URL=https://... ROBOZ_PRIVATE_KEY=... roboz-collection sale my-roboz/build --network sepolia

The drop is the manifest's `sale:` section as plan.json froze it. Re-running is safe:
every transaction is journaled in mint.json before it is sent, the chain is read back,
and only what differs is sent (a second run sends nothing). The phases can change until
the first one opens; after that the contract refuses (SaleAlreadyStarted).

Before a chain other than a local one, sale refuses what mint refuses (test/demo renders,
unpinned CIDs) and also: a phase starting in the past, a price of 0 not written "0",
an empty allowlist; on every chain, a payout contract that cannot receive ETH.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_chain_arguments(p)
    p.add_argument("--allow-test-renders", action="store_true",
                   help="sell test/demo renders on a non-local chain (refused otherwise)")
    p.add_argument("--allow-unpinned", action="store_true",
                   help="sell although no IPFS provider confirmed the pins (refused otherwise on a non-local chain)")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation before a non-local chain")
    add_keep_chain(p)


def drop_config(build_dir: Path):
    """plan.json's sale (the manifest's, frozen by `plan`) as the contracts room's DropConfig."""
    from buildfiles.errors import UserError
    from buildfiles.plan import load_plan
    from collection.plan.sale import SaleSpec
    from contracts.drop import DropConfig, DropPhase

    plan = load_plan(build_dir)
    if not plan.sale:
        raise UserError(f"{build_dir / 'plan.json'} has no sale",
                        hint="add a `sale:` section to the manifest (README, \"Sell it: a drop\") and run "
                             "`roboz-collection plan MANIFEST` again: the tokens stay as they are", exit_code=2)
    try:
        spec = SaleSpec.from_dict(plan.sale)
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"{build_dir / 'plan.json'}: the sale section is malformed ({e})",
                        hint="run `roboz-collection plan MANIFEST` again", exit_code=2) from None
    placeholder = ""
    if spec.fair_reveal:
        from metadata.placeholder import ensure_placeholder

        placeholder = ensure_placeholder(build_dir, plan).uri
    return DropConfig(
        payout=spec.payout, reserve=spec.reserve, fair_reveal=spec.fair_reveal, placeholder_uri=placeholder,
        phases=tuple(DropPhase(name=p.name, start=p.start_unix, price=p.price, price_wei=p.price_wei,
                               per_wallet=p.per_wallet, supply=p.supply or 0,
                               allowlist=p.allowlist.entries if p.allowlist is not None else None)
                     for p in spec.phases))


def ask_on_terminal(lines: list[str]) -> bool:
    for line in lines:
        print(line)
    try:
        return input("send these transactions? [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


def run(args: argparse.Namespace) -> int:
    from buildfiles.lock import build_lock
    from contracts.drop import sale_build
    from contracts.guards import Overrides

    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    with build_lock(args.build_dir, NAME):
        cfg = drop_config(args.build_dir)
        rep = sale_build(args.build_dir, cfg, network=args.network, rpc_url=args.rpc_url, keystore=args.keystore,
                         allow_mainnet=args.allow_mainnet,
                         overrides=Overrides(test_renders=args.allow_test_renders, unpinned=args.allow_unpinned),
                         confirm=ask_on_terminal if interactive else None, yes=args.yes, keep_chain=args.keep_chain,
                         log=print)
        _refresh_gallery(args.build_dir)
        from preview.mint_page import write_mint_page

        page = write_mint_page(args.build_dir)   # reads the sale.json just written
    for note in rep.notes:
        print(f"warning    {note}")
    sale = rep.sale
    print(f"contract   {rep.contract_address} on chain {rep.chain_id}")
    print(f"reserve    {sale.reserve} tokens to the artist; {sale.state.get('total_minted')} of {sale.max_supply} minted")
    from datetime import datetime, timezone

    from preview.chain_status import eth_text

    for p in sale.phases:
        kind = "public" if p.public else f"allowlist (root {p.merkle_root[:10]}…)"
        start = datetime.fromtimestamp(p.start, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        print(f"phase      {p.name}: from {start}, {eth_text(p.price_wei)} ETH, {kind}, {p.minted} minted")
    print(f"payout     {sale.payout}; reveal {'fair' if sale.fair_reveal else 'none'}")
    print(f"txs        {rep.txs_sent} sent this run, {rep.gas_used:,} gas")
    print(f"receipts   {rep.sale_json} (transactions in mint.json)")
    print(f"mint page  {page} (run `roboz-collection publish {args.build_dir} --to ...` to pin it with the rest)")
    return 0


def _refresh_gallery(build_dir: Path) -> None:
    from preview import refresh_gallery

    refresh_gallery(build_dir)  # the page's status panel follows the sale
