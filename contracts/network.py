"""Which chain `mint` talks to, decided before anything connects.

`--network local` is the build's own anvil (started on demand, state in BUILD/chain/),
`--network sepolia` reads its endpoint from SEPOLIA_RPC_URL, `--rpc-url URL` is any chain.
What is missing is reported in the order a user fixes it (endpoint, then key), with hints
for the network asked for: installing anvil helps `local` only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from buildfiles.chains import NETWORKS, SEPOLIA_CHAIN_ID  # noqa: F401  (re-exported: callers import them from here)
from buildfiles.errors import UserError
from contracts.keys import KEY_ENV
from contracts.tx import redact_url

SEPOLIA_RPC_ENV = "SEPOLIA_RPC_URL"

_SEPOLIA_RPC_HINT = (f"export {SEPOLIA_RPC_ENV}=https://... (your provider's Sepolia HTTPS endpoint, "
                     "e.g. from Alchemy or Infura) or pass --rpc-url")
_KEY_HINT = (f"export {KEY_ENV}=0x... (64 hex digits) or pass --keystore FILE (an encrypted eth keystore); "
             "fund that account from a Sepolia faucet")


@dataclass(frozen=True)
class Target:
    network: str                   # "local" (the build's anvil), "sepolia", or "rpc" (any URL): for people
    url: str | None                # None: the build's own anvil, known once started
    expected_chain_id: int | None  # the chain the network name promises, checked after connecting
    fix: str                       # the hint when the endpoint does not answer


def choose_target(network: str | None, rpc_url: str | None, *, key_given: bool) -> Target:
    """The chain asked for; raises one UserError listing what is missing (endpoint first, then key)."""
    if network not in (None, *NETWORKS):
        raise UserError(f"unknown network {network!r}", hint="use --network local, --network sepolia or --rpc-url URL",
                        exit_code=2)
    if rpc_url:
        shown = redact_url(rpc_url)
        if network == "sepolia":
            return Target("sepolia", rpc_url, SEPOLIA_CHAIN_ID,
                          f"check --rpc-url: your provider's Sepolia endpoint ({shown}), and your network")
        return Target("rpc", rpc_url, None,
                      f"is a node running at {shown}? start it, correct --rpc-url, "
                      "or leave --rpc-url out to use the build's own local chain")
    if network == "sepolia":
        url = os.environ.get(SEPOLIA_RPC_ENV, "").strip()
        if not url and not key_given:
            raise UserError(f"--network sepolia needs an RPC endpoint ({SEPOLIA_RPC_ENV}) and a signing key "
                            f"({KEY_ENV} or --keystore); neither is set",
                            hint=f"1) {_SEPOLIA_RPC_HINT}; 2) {_KEY_HINT}", exit_code=2)
        if not url:
            raise UserError(f"--network sepolia needs {SEPOLIA_RPC_ENV}", hint=_SEPOLIA_RPC_HINT, exit_code=2)
        return Target("sepolia", url, SEPOLIA_CHAIN_ID,
                      f"check {SEPOLIA_RPC_ENV} ({redact_url(url)}): your provider's Sepolia endpoint, and your network")
    return Target("local", None, None, "the build's anvil did not answer: see BUILD_DIR/chain/anvil.log")


def key_hint(chain_id: int) -> str:
    if chain_id == SEPOLIA_CHAIN_ID:
        return _KEY_HINT
    return f"export {KEY_ENV}=0x... (64 hex digits) or pass --keystore FILE (an encrypted eth keystore)"
