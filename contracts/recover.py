"""Find this collection's contract on chain when mint.json does not name it.

mint.json is the memory of what was deployed. If it is lost (deleted, a fresh clone, another
machine), a plain re-run would deploy a second contract and mint the whole collection again.
Before deploying on a public chain, `mint` therefore looks at every contract the sender
created: a contract's address is keccak(rlp([sender, nonce])), so the sender's transaction
count names every address it could have created, and eth_getCode says which hold code.
Each is asked what it is (provenanceHash, name, symbol, maxSupply, owner): one that is this
build's collection is resumed, one that only looks like it is named in a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_utils import keccak, to_checksum_address

MAX_NONCES = 2000         # most recent nonces looked at (one eth_getCode each)
BATCH = 50                # eth_getCode calls per JSON-RPC batch (providers cap batches; 50 is under every cap we know)
ZERO_HASH = "0" * 64


def create_address(sender: str, nonce: int) -> str:
    """The address of the contract `sender` creates with transaction `nonce` (CREATE, not CREATE2)."""
    import rlp

    return to_checksum_address(keccak(rlp.encode([bytes.fromhex(sender[2:]), nonce]))[12:])


@dataclass(frozen=True)
class Deployment:
    """A contract the sender created that answers like a RobozCollection."""

    address: str
    nonce: int
    name: str
    symbol: str
    max_supply: int
    start_id: int
    provenance: str          # 64 hex, zeros when never set
    owner: str

    def differences(self, *, name: str, symbol: str, supply: int, start_id: int, provenance: str) -> list[str]:
        """What makes it not this build's collection (empty: it is)."""
        out = []
        if self.provenance not in (ZERO_HASH, provenance):
            out.append(f"provenance {self.provenance[:12]}… (the build's is {provenance[:12]}…)")
        for label, got, want in (("name", self.name, name), ("symbol", self.symbol, symbol),
                                 ("maxSupply", self.max_supply, supply), ("startTokenId", self.start_id, start_id)):
            if got != want:
                out.append(f"{label} {got!r} (the build's is {want!r})")
        return out

    def describe(self) -> str:
        prov = "provenance not set" if self.provenance == ZERO_HASH else f"provenance {self.provenance[:12]}…"
        return (f"{self.address} (nonce {self.nonce}: {self.name!r} {self.symbol}, maxSupply {self.max_supply}, "
                f"{prov}, owner {self.owner})")


def read_deployment(w3: Any, abi: list[dict[str, Any]], address: str, nonce: int = -1) -> Deployment | None:
    """What the contract at `address` says it is, or None when it does not answer like a RobozCollection."""
    c = w3.eth.contract(address=address, abi=abi)
    f = c.functions
    try:
        return Deployment(address=address, nonce=nonce, name=f.name().call(), symbol=f.symbol().call(),
                          max_supply=int(f.maxSupply().call()), start_id=int(f.startTokenId().call()),
                          provenance=bytes(f.provenanceHash().call()).hex(), owner=f.owner().call())
    except Exception:  # another kind of contract: a revert, no such function, undecodable answer
        return None


@dataclass(frozen=True)
class Scan:
    nonces: range                   # the nonces looked at
    deployments: list[Deployment]   # contracts there that answer like a RobozCollection
    total_nonces: int               # the sender's transaction count (mined)
    pending: int = 0                # the sender's transactions sent but not mined: their contracts are not there yet

    @property
    def partial(self) -> bool:
        return self.nonces.start > 0


def scan_sender(w3: Any, abi: list[dict[str, Any]], sender: str, *, limit: int = MAX_NONCES) -> Scan:
    """Every RobozCollection-like contract the sender created with its most recent `limit` nonces."""
    count = int(w3.eth.get_transaction_count(sender, "latest"))
    pending = max(0, int(w3.eth.get_transaction_count(sender, "pending")) - count)
    nonces = range(max(0, count - limit), count)
    addresses = [create_address(sender, nonce) for nonce in nonces]
    found = []
    for nonce, address, code in zip(nonces, addresses, codes_at(w3, addresses)):
        if not code:
            continue
        d = read_deployment(w3, abi, address, nonce)
        if d is not None:
            found.append(d)
    return Scan(nonces, found, count, pending)


def codes_at(w3: Any, addresses: list[str]) -> list[bytes]:
    """eth_getCode of each address: in JSON-RPC batches (a long-used key has thousands of nonces),
    one call each where the endpoint takes no batches."""
    out: list[bytes] = []
    for i in range(0, len(addresses), BATCH):
        chunk = addresses[i:i + BATCH]
        try:
            with w3.batch_requests() as batch:
                for a in chunk:
                    batch.add(w3.eth.get_code(a))
                got = [bytes(c) for c in batch.execute()]
            if len(got) != len(chunk):
                raise ValueError("batch answer of the wrong length")
        except Exception:   # no batch support, a provider's batch cap, an error entry: ask one by one
            got = [bytes(w3.eth.get_code(a)) for a in chunk]
        out.extend(got)
    return out
