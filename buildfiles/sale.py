"""sale.json: where a build's drop stands, one entry per chain, rewritten atomically by `sale`,
`reveal` and `withdraw`; read by the gallery's chain panel and the mint page's generator.

The transactions themselves are journaled in mint.json (the same contract, the same
crash-safe sending); sale.json holds what they produced, as read back from the chain:

    {
      "format": "roboz-sale/1",
      "chains": {
        "31337": {chain_id, network, rpc_url (local chains only, else null), contract_address,
                  owner, payout, reserve, fair_reveal, placeholder_uri, max_supply, start_id,
                  phases: [{name, start, price_wei ("decimal string"), per_wallet, supply,
                            merkle_root, minted}],
                  trees: {"<phase index>": <@openzeppelin/merkle-tree "standard-v1" dump>},
                  state: {<contracts.sale.SaleState.to_dict() at the last read>},
                  reveal: {revealed, offset, block, checked} | null,
                  withdrawals: [{tx, amount_wei, to}], updated_at}
      }
    }

`shown(record)` is the entry a page should sell from: a public chain's over a local rehearsal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buildfiles.atomicio import dumps_json, write_bytes
from buildfiles.chains import LOCAL_CHAIN_IDS
from buildfiles.jsonfile import BuildFileError, Fields, read_fields

SALE_FILE = "sale.json"
SALE_FORMAT = "roboz-sale/1"
RECOVER = ("move the damaged sale.json aside and run `roboz-collection sale {build} --network ...` again: "
           "it reads the contract recorded in mint.json back from the chain and sends nothing it already did")

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_ROOT = re.compile(r"0x[0-9a-f]{64}")


@dataclass(frozen=True)
class SalePhase:
    name: str
    start: int                  # unix seconds, as the chain holds it
    price_wei: int
    per_wallet: int
    supply: int                 # 0: no cap of its own
    merkle_root: str            # 0x + 64 hex; all zeros: a public phase
    minted: int = 0

    @property
    def public(self) -> bool:
        return int(self.merkle_root, 16) == 0

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "start": self.start, "price_wei": str(self.price_wei),
                "per_wallet": self.per_wallet, "supply": self.supply, "merkle_root": self.merkle_root,
                "minted": self.minted}


@dataclass(frozen=True)
class Withdrawal:
    tx: str
    amount_wei: int
    to: str

    def to_dict(self) -> dict[str, Any]:
        return {"tx": self.tx, "amount_wei": str(self.amount_wei), "to": self.to}


@dataclass(frozen=True)
class RevealRecord:
    revealed: bool
    offset: int | None
    block: int | None           # the committed block whose hash drew the offset
    checked: bool               # every tokenURI matched metadata/ with the offset applied

    def to_dict(self) -> dict[str, Any]:
        return {"revealed": self.revealed, "offset": self.offset, "block": self.block, "checked": self.checked}


@dataclass
class SaleChain:
    chain_id: int
    network: str
    contract_address: str
    owner: str
    payout: str
    reserve: int
    fair_reveal: bool
    placeholder_uri: str
    max_supply: int
    start_id: int
    phases: list[SalePhase] = field(default_factory=list)
    trees: dict[str, dict[str, Any]] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    rpc_url: str | None = None  # only for local chains: a public RPC URL often carries a key
    reveal: RevealRecord | None = None
    withdrawals: list[Withdrawal] = field(default_factory=list)
    updated_at: str | None = None

    @property
    def local(self) -> bool:
        return self.chain_id in LOCAL_CHAIN_IDS

    def to_dict(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id, "network": self.network, "rpc_url": self.rpc_url if self.local else None,
            "contract_address": self.contract_address, "owner": self.owner, "payout": self.payout,
            "reserve": self.reserve, "fair_reveal": self.fair_reveal, "placeholder_uri": self.placeholder_uri,
            "max_supply": self.max_supply, "start_id": self.start_id,
            "phases": [p.to_dict() for p in self.phases], "trees": self.trees, "state": self.state,
            "reveal": self.reveal.to_dict() if self.reveal else None,
            "withdrawals": [w.to_dict() for w in self.withdrawals], "updated_at": self.updated_at,
        }


@dataclass
class SaleRecord:
    path: Path
    chains: dict[int, SaleChain] = field(default_factory=dict)

    def chain(self, chain_id: int) -> SaleChain | None:
        return self.chains.get(chain_id)

    def put(self, entry: SaleChain) -> SaleChain:
        self.chains[entry.chain_id] = entry
        return entry

    def save(self) -> Path:
        return write_bytes(self.path, sale_json(self))


def shown(record: SaleRecord | None) -> SaleChain | None:
    """The drop a page should show: on a public chain when there is one, else the local rehearsal."""
    if record is None or not record.chains:
        return None
    return sorted(record.chains.values(), key=lambda c: (c.local, c.chain_id))[0]


def sale_path(build_dir: Path | str) -> Path:
    return Path(build_dir) / SALE_FILE


def sale_json(r: SaleRecord) -> bytes:
    return dumps_json({"format": SALE_FORMAT,
                       "chains": {str(cid): c.to_dict() for cid, c in sorted(r.chains.items())}}).encode("utf-8")


# ---------------------------------------------------------------- reading


def _int(f: Fields, d: dict[str, Any], key: str, *, text_ok: bool = False, optional: bool = False) -> int | None:
    v = d.get(key)
    if v is None and optional:
        return None
    if text_ok and isinstance(v, str) and v.isdigit():
        return int(v)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise BuildFileError(f"{f.path}: field {key!r} should be a whole number >= 0, got {str(v)[:40]}", hint=f.recover)
    return v


def _str(f: Fields, d: dict[str, Any], key: str, pattern: re.Pattern | None = None, optional: bool = False) -> str | None:
    v = d.get(key)
    if v is None and optional:
        return None
    if not isinstance(v, str) or (pattern is not None and not pattern.fullmatch(v)):
        raise BuildFileError(f"{f.path}: field {key!r} is {str(v)[:60]!r}, not what sale writes", hint=f.recover)
    return v


def _phase(f: Fields, d: Any) -> SalePhase:
    if not isinstance(d, dict):
        raise BuildFileError(f"{f.path}: a phase is not an object", hint=f.recover)
    return SalePhase(name=_str(f, d, "name"), start=_int(f, d, "start"), price_wei=_int(f, d, "price_wei", text_ok=True),
                     per_wallet=_int(f, d, "per_wallet"), supply=_int(f, d, "supply"),
                     merkle_root=_str(f, d, "merkle_root", _ROOT), minted=_int(f, d, "minted"))


def _chain(f: Fields, key: str, d: Any) -> SaleChain:
    if not isinstance(d, dict):
        raise BuildFileError(f"{f.path}: the entry for chain {key} is not an object", hint=f.recover)
    cid = _int(f, d, "chain_id")
    if str(cid) != key:
        raise BuildFileError(f"{f.path}: the entry under chain {key} says chain_id {cid}", hint=f.recover)
    phases, trees, state = d.get("phases") or [], d.get("trees") or {}, d.get("state") or {}
    withdrawals, reveal = d.get("withdrawals") or [], d.get("reveal")
    if not isinstance(phases, list) or not isinstance(trees, dict) or not isinstance(state, dict) \
            or not isinstance(withdrawals, list) or not (reveal is None or isinstance(reveal, dict)):
        raise BuildFileError(f"{f.path}: chain {key} has a malformed phases, trees, state, reveal or withdrawals field",
                             hint=f.recover)
    try:
        ws = [Withdrawal(str(w["tx"]), int(w["amount_wei"]), str(w["to"])) for w in withdrawals]
        rv = None if reveal is None else RevealRecord(bool(reveal["revealed"]), reveal.get("offset"), reveal.get("block"),
                                                      bool(reveal.get("checked", False)))
    except (KeyError, TypeError, ValueError) as e:
        raise BuildFileError(f"{f.path}: chain {key} is malformed ({e})", hint=f.recover) from None
    local = cid in LOCAL_CHAIN_IDS
    return SaleChain(
        chain_id=cid, network=_str(f, d, "network"), contract_address=_str(f, d, "contract_address", _ADDRESS),
        owner=_str(f, d, "owner", _ADDRESS), payout=_str(f, d, "payout", _ADDRESS), reserve=_int(f, d, "reserve"),
        fair_reveal=bool(d.get("fair_reveal")), placeholder_uri=_str(f, d, "placeholder_uri"),
        max_supply=_int(f, d, "max_supply"), start_id=_int(f, d, "start_id"),
        phases=[_phase(f, p) for p in phases], trees={str(k): v for k, v in trees.items()}, state=dict(state),
        rpc_url=_str(f, d, "rpc_url", optional=True) if local else None, reveal=rv, withdrawals=ws,
        updated_at=_str(f, d, "updated_at", optional=True),
    )


def load_sale(build_dir: Path | str) -> SaleRecord | None:
    """sale.json, or None before the first `sale`; BuildFileError naming the file when it is damaged."""
    path = sale_path(build_dir)
    f = read_fields(path, fmt=SALE_FORMAT, recover=RECOVER.format(build=Path(build_dir)), legacy_ok=False)
    if f is None:
        return None
    chains = f.raw.get("chains")
    if not isinstance(chains, dict):
        raise f.fail("chains", "an object keyed by chain id")
    return SaleRecord(path, {int(k): _chain(f, k, v) for k, v in chains.items() if _is_key(f, k)})


def _is_key(f: Fields, k: str) -> bool:
    if not k.isdigit():
        raise BuildFileError(f"{f.path}: chain key {k!r} is not a chain id", hint=f.recover)
    return True


def open_sale(build_dir: Path | str) -> SaleRecord:
    """sale.json to update: the existing record, or an empty one that `save()` creates."""
    return load_sale(build_dir) or SaleRecord(sale_path(build_dir))
