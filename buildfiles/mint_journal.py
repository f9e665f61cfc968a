"""mint.json: the journal of what `mint` sent, one entry per chain, rewritten atomically on every change.

A chain's entry gets every transaction's hash (and nonce) *before* the transaction is
broadcast, and its receipt after, so a re-run can settle what a killed run left behind.
Entries are keyed by chain id: a failed Sepolia attempt never blocks `--network local`,
and a local rehearsal never blocks Sepolia. Layout (keys sorted on disk):

    {
      "format": "roboz-mint/2",
      "chains": {
        "31337": {chain_id, network, contract, contract_address, deploy_tx, deployer, to,
                  mint_at_deploy, artifact: {source_sha256, compiler},
                  txs: [{kind, hash, nonce, status, block, gas_used, ...}],
                  minted: {first_id, count} | null, verified: {...} | null}
      }
    }

Files of the first format ("roboz-mint/1": one chain's fields at the top level) still read;
they are written back in the current format.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from buildfiles.atomicio import write_json
from buildfiles.errors import UserError

MINT_FILE = "mint.json"
MINT_FORMAT = "roboz-mint/2"
LEGACY_FORMAT = "roboz-mint/1"

# What a recorded transaction can become: sent (hash recorded, maybe broadcast), mined,
# reverted (mined with status 0), dropped (never mined; its nonce was reused).
TX_STATUSES = ("sent", "mined", "reverted", "dropped")

_MOVE_AWAY = ("move it away (it names the deployed contracts: keep a copy) and run `mint` again "
              "to deploy anew, or restore it from a backup")


class MintJournalError(UserError):
    """mint.json is garbled or of an unknown format: nothing is sent until a person looks."""

    exit_code = 2


@dataclass
class TxEntry:
    kind: str                       # "deploy", "mint", or the setter's name ("setBaseURI", ...)
    hash: str
    nonce: int
    status: str = "sent"
    block: int | None = None
    gas_used: int | None = None
    error: str | None = None        # decoded revert reason
    resent: int = 0                 # how often this very signed transaction was sent again
    first_id: int | None = None     # mint: the batch's first token id
    quantity: int | None = None     # mint: tokens in the batch
    value: Any = None               # setters: what was set
    predicted_address: str | None = None  # deploy: the address the contract will have

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        # Kind-specific fields appear only where they mean something; block/gas_used always.
        for k in ("error", "first_id", "quantity", "value", "predicted_address"):
            if d[k] is None:
                del d[k]
        if not d["resent"]:
            del d["resent"]
        return d

    @classmethod
    def from_dict(cls, d: Any, where: str) -> "TxEntry":
        if not isinstance(d, dict):
            raise MintJournalError(f"{where}: a transaction entry is not a JSON object", hint=_MOVE_AWAY)
        known = {f.name for f in fields(cls)}
        try:
            e = cls(**{k: v for k, v in d.items() if k in known})
        except TypeError as err:
            raise MintJournalError(f"{where}: a transaction entry is incomplete ({err})", hint=_MOVE_AWAY) from None
        if not isinstance(e.hash, str) or not isinstance(e.nonce, int) or e.status not in TX_STATUSES:
            raise MintJournalError(f"{where}: transaction entry {e.hash!r} has a bad hash, nonce or status",
                                   hint=_MOVE_AWAY)
        return e


@dataclass
class ChainJournal:
    """One chain's deployment of this build's collection."""

    chain_id: int
    network: str                    # how the user reached it: "local", "sepolia" or "rpc"
    contract: str                   # artifact name
    deployer: str
    to: str                         # who receives the tokens
    artifact: dict[str, Any] = field(default_factory=dict)   # {source_sha256, compiler}
    contract_address: str | None = None
    deploy_tx: str | None = None
    mint_at_deploy: bool = False    # minted in the constructor (ERC-2309) rather than in batches
    txs: list[TxEntry] = field(default_factory=list)
    minted: dict[str, int] | None = None
    verified: dict[str, Any] | None = None

    def add_tx(self, entry: TxEntry) -> TxEntry:
        """Record a transaction about to be broadcast; one entry per hash.

        A transaction that never reached the node is marked dropped on the re-run, which then
        signs the same call again. With the same nonce and fees that is the very same signed
        transaction (same hash): revive the old entry instead of adding a twin, or a receipt
        would land on one entry while the other stayed "sent" forever.
        """
        for old in self.txs:
            if old.hash == entry.hash:
                resent = old.resent + 1
                for f in fields(TxEntry):
                    setattr(old, f.name, getattr(entry, f.name))
                old.resent = resent
                return old
        self.txs.append(entry)
        return entry

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["txs"] = [t.to_dict() for t in self.txs]
        return d

    @classmethod
    def from_dict(cls, d: Any, where: str) -> "ChainJournal":
        if not isinstance(d, dict):
            raise MintJournalError(f"{where}: a chain entry is not a JSON object", hint=_MOVE_AWAY)
        if not isinstance(d.get("chain_id"), int) or isinstance(d.get("chain_id"), bool):
            raise MintJournalError(f"{where} has no chain_id: it cannot say which chain its contract is on",
                                   hint=_MOVE_AWAY)
        txs = d.get("txs") or []
        if not isinstance(txs, list):
            raise MintJournalError(f"{where}: txs is not a list", hint=_MOVE_AWAY)
        try:
            return cls(
                chain_id=d["chain_id"], network=str(d.get("network") or "rpc"), contract=str(d.get("contract") or ""),
                deployer=str(d.get("deployer") or ""), to=str(d.get("to") or ""),
                artifact=dict(d.get("artifact") or {}), contract_address=d.get("contract_address"),
                deploy_tx=d.get("deploy_tx"), mint_at_deploy=bool(d.get("mint_at_deploy", False)),
                txs=[TxEntry.from_dict(t, where) for t in txs],
                minted=d.get("minted"), verified=d.get("verified"),
            )
        except (TypeError, ValueError) as e:
            raise MintJournalError(f"{where} is malformed ({e})", hint=_MOVE_AWAY) from None


@dataclass
class MintJournal:
    path: Path
    chains: dict[int, ChainJournal] = field(default_factory=dict)

    def chain(self, chain_id: int) -> ChainJournal | None:
        return self.chains.get(chain_id)

    def add_chain(self, entry: ChainJournal) -> ChainJournal:
        self.chains[entry.chain_id] = entry
        self.save()
        return entry

    def save(self) -> None:
        write_json(self.path, {"format": MINT_FORMAT,
                               "chains": {str(cid): c.to_dict() for cid, c in sorted(self.chains.items())}})


def journal_path(build_dir: Path | str) -> Path:
    return Path(build_dir) / MINT_FILE


def load_journal(build_dir: Path | str) -> MintJournal:
    """mint.json as a MintJournal (empty when there is none); garbled files are one MintJournalError."""
    path = journal_path(build_dir)
    try:
        raw = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return MintJournal(path)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise MintJournalError(f"{path} is not valid JSON ({e})", hint=_MOVE_AWAY) from None
    except OSError as e:
        raise MintJournalError(f"{path} cannot be read ({e.strerror})") from None
    if not isinstance(raw, dict):
        raise MintJournalError(f"{path} is not a JSON object (found a {type(raw).__name__})", hint=_MOVE_AWAY)
    fmt = raw.get("format")
    if fmt == LEGACY_FORMAT:
        one = ChainJournal.from_dict(raw, str(path))
        return MintJournal(path, {one.chain_id: one})
    if fmt != MINT_FORMAT:
        raise MintJournalError(f"{path}: unknown format {fmt!r}, expected {MINT_FORMAT!r}", hint=_MOVE_AWAY)
    chains = raw.get("chains")
    if not isinstance(chains, dict):
        raise MintJournalError(f"{path}: chains is not a JSON object", hint=_MOVE_AWAY)
    out: dict[int, ChainJournal] = {}
    for key, value in chains.items():
        entry = ChainJournal.from_dict(value, f"{path} (chain {key})")
        if str(entry.chain_id) != key:
            raise MintJournalError(f"{path}: the entry under chain {key} says chain_id {entry.chain_id}",
                                   hint=_MOVE_AWAY)
        out[entry.chain_id] = entry
    return MintJournal(path, out)
