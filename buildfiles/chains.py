"""Chain ids every room agrees on, in one place: `contracts` decides with them what a local chain
may do (anvil's published keys, reusing a running node), the preview sorts a public chain first.
Plain ints, so the preview needs no web3 to use them."""

from __future__ import annotations

# anvil / hardhat (31337) and the older ganache/geth --dev default (1337).
LOCAL_CHAIN_IDS: tuple[int, ...] = (31337, 1337)
MAINNET_CHAIN_ID = 1


def is_local_chain(chain_id: int) -> bool:
    return chain_id in LOCAL_CHAIN_IDS


# The names `--network` takes, with the chain id each must answer (None: the build's own anvil).
# Adding a network here reaches every command's --network choices; its endpoint variable and
# hints live in contracts/network.py.
SEPOLIA_CHAIN_ID = 11155111
NETWORKS: dict[str, int | None] = {"local": None, "sepolia": SEPOLIA_CHAIN_ID}
