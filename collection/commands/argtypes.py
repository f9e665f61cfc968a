"""argparse types shared by the commands: numbers are checked, never silently replaced by a default."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """A count: a whole number >= 1 (`--batch-size 0` is refused, not read as "the default")."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n


def add_chain_arguments(p: argparse.ArgumentParser, *, keystore: bool = True, mainnet: bool = True) -> None:
    """BUILD_DIR and where the chain is: the same words for mint, sale, reveal, withdraw and verify.
    The network names come from buildfiles.chains.NETWORKS, so a network added there reaches them all."""
    from pathlib import Path

    from buildfiles.chains import NETWORKS

    p.add_argument("build_dir", type=Path, metavar="BUILD_DIR")
    p.add_argument("--network", choices=tuple(NETWORKS), default=None,
                   help="local: anvil with state in BUILD_DIR/chain (default); sepolia: RPC from SEPOLIA_RPC_URL")
    p.add_argument("--rpc-url", default=None, metavar="URL", help="any other chain's JSON-RPC URL")
    if keystore:
        p.add_argument("--keystore", type=Path, default=None, metavar="FILE", help="encrypted eth keystore (JSON)")
    if mainnet:
        p.add_argument("--allow-mainnet", action="store_true", help="allow chain id 1 (refused otherwise)")


def add_keep_chain(p: argparse.ArgumentParser) -> None:
    p.add_argument("--keep-chain", action="store_true", help="leave the local anvil running afterwards")
