"""Sale mode of RobozCollection from Python: the setSale call, the sale state read back from the
chain, the fair-reveal id mapping, and collector-facing sentences for the contract's errors.

Sending is the caller's business (contracts/tx.py journals every transaction); this module only
builds calls and reads.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Any

from eth_utils import to_checksum_address

from contracts.compile import ARTIFACTS_DIR, load_artifact

ERRORS_JSON = ARTIFACTS_DIR / "errors.json"
MAX_PHASES = 4
ZERO_ROOT = "0x" + "00" * 32


@dataclass(frozen=True)
class PhaseConfig:
    name: str
    start: int            # unix seconds (UTC)
    price_wei: int        # per token
    per_wallet: int       # limit per wallet in a public phase (allowlist phases use each leaf's allowance)
    supply: int           # this phase's own cap, 0 = none
    merkle_root: str      # 0x + 64 hex; all zeros = public phase

    @property
    def is_allowlist(self) -> bool:
        return int(self.merkle_root, 16) != 0

    def as_tuple(self) -> tuple[int, int, int, int, bytes]:
        """The contract's Phase struct: (start, price, perWallet, supply, merkleRoot)."""
        return (self.start, self.price_wei, self.per_wallet, self.supply, _root_bytes(self.merkle_root))


def _root_bytes(root: str) -> bytes:
    b = bytes.fromhex(root[2:] if root.startswith("0x") else root)
    if len(b) != 32:
        raise ValueError(f"merkle root {root!r} is not 32 bytes")
    return b


def set_sale_call(contract, phases: list[PhaseConfig], payout: str, fair_reveal: bool, placeholder_uri: str):
    """The web3 ContractFunction for setSale (names stay off chain: they live in sale.json)."""
    if len(phases) > MAX_PHASES:
        raise ValueError(f"at most {MAX_PHASES} phases, got {len(phases)}")
    return contract.functions.setSale([p.as_tuple() for p in phases], to_checksum_address(payout),
                                      bool(fair_reveal), placeholder_uri)


@dataclass(frozen=True)
class PhaseState:
    index: int
    start: int
    price_wei: int
    per_wallet: int
    supply: int
    merkle_root: str
    minted: int

    @property
    def is_allowlist(self) -> bool:
        return int(self.merkle_root, 16) != 0


@dataclass(frozen=True)
class SaleState:
    address: str
    phases: tuple[PhaseState, ...]
    open: bool                  # false before the first phase starts
    current_phase: int | None   # index of the running phase, None when not open
    paused: bool
    payout: str
    balance_wei: int
    total_withdrawn_wei: int
    total_minted: int
    max_supply: int
    start_token_id: int
    fair_reveal: bool
    revealed: bool
    reveal_block: int           # 0 = not committed
    reveal_offset: int
    placeholder_uri: str
    block_timestamp: int        # the chain's clock when this was read (phases open by it, not ours)

    @property
    def sold_out(self) -> bool:
        return self.total_minted >= self.max_supply

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["phases"] = [asdict(p) for p in self.phases]
        d["sold_out"] = self.sold_out
        # wei amounts as decimal strings: JSON readers in JavaScript lose precision above 2**53
        for k in ("balance_wei", "total_withdrawn_wei"):
            d[k] = str(d[k])
        for p in d["phases"]:
            p["price_wei"] = str(p["price_wei"])
        return d


def sale_contract(w3, address: str):
    return w3.eth.contract(address=to_checksum_address(address), abi=load_artifact("RobozCollection").abi)


def read_sale_state(w3, address: str, block_identifier: str | int = "latest") -> SaleState:
    """Everything about the sale, read from one block so the numbers agree with each other."""
    c = sale_contract(w3, address)
    f = c.functions
    blk = w3.eth.get_block(block_identifier)
    at = {"block_identifier": blk["number"]}
    phases = []
    for i in range(f.phaseCount().call(**at)):
        (start, price, per_wallet, supply, root), minted = f.phaseAt(i).call(**at)
        phases.append(PhaseState(index=i, start=start, price_wei=price, per_wallet=per_wallet, supply=supply,
                                 merkle_root="0x" + bytes(root).hex(), minted=minted))
    is_open, index = f.currentPhase().call(**at)
    return SaleState(
        address=c.address,
        phases=tuple(phases),
        open=is_open,
        current_phase=index if is_open else None,
        paused=f.paused().call(**at),
        payout=f.payout().call(**at),
        balance_wei=w3.eth.get_balance(c.address, blk["number"]),
        total_withdrawn_wei=f.totalWithdrawn().call(**at),
        total_minted=f.totalMinted().call(**at),
        max_supply=f.maxSupply().call(**at),
        start_token_id=f.startTokenId().call(**at),
        fair_reveal=f.fairReveal().call(**at),
        revealed=f.revealed().call(**at),
        reveal_block=f.revealBlock().call(**at),
        reveal_offset=f.revealOffset().call(**at),
        placeholder_uri=f.placeholderURI().call(**at),
        block_timestamp=blk["timestamp"],
    )


def revealed_token_id(token_id: int, start: int, max_supply: int, offset: int) -> int:
    """Which metadata file token `token_id` shows after the reveal: (t - start + offset) mod N + start."""
    if not start <= token_id < start + max_supply:
        raise ValueError(f"token {token_id} is outside {start}..{start + max_supply - 1}")
    return (token_id - start + offset) % max_supply + start


# ---------------------------------------------------------------- errors in plain words

@lru_cache(maxsize=1)
def error_sentences() -> dict[str, str]:
    """contracts/artifacts/errors.json: error name -> the sentence collectors see (the mint page reads the same file)."""
    return json.loads(ERRORS_JSON.read_text("utf-8"))


def _error_name(error: Any) -> str | None:
    from contracts.tx import _revert_data, decode_revert

    if isinstance(error, BaseException):
        data = _revert_data(error)
        if data is None:
            return None
        error = data
    if isinstance(error, (bytes, bytearray)):
        error = "0x" + bytes(error).hex()
    if not isinstance(error, str):
        return None
    if error.startswith("0x"):
        error = decode_revert(load_artifact("RobozCollection").abi, error)
    name = error.split("(", 1)[0].strip()
    return name if name.isidentifier() else None


def explain_revert(error: Any) -> str:
    """One plain sentence for a revert: accepts the exception web3 raised, raw revert data (hex or bytes),
    a decoded 'Name(args)' string or a bare error name."""
    name = _error_name(error)
    sentences = error_sentences()
    if name in sentences:
        return sentences[name]
    return "The contract refused the transaction for a reason not listed in errors.json."
