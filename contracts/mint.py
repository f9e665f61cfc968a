"""Deploy, configure, mint and verify a build's collection: `roboz-collection mint`.

Crash safety rests on two things:
  1. mint.json gets every transaction's hash (and nonce) *before* the transaction is
     broadcast, and after each receipt. A re-run first settles every recorded
     transaction that has no receipt yet (waits for pending ones), then reads the
     chain (nextTokenId, baseURI, provenance, ...) and sends only what is missing.
  2. The contract's owner mint takes the id the batch must start at
     (`mintBatch(to, quantity, firstId)`), so a batch sent twice reverts with
     UnexpectedFirstId instead of minting again; maxSupply caps the rest.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from buildfiles.atomicio import write_json
from buildfiles.cids import CIDS_FILE, load_cids
from buildfiles.errors import UserError
from buildfiles.plan import load_plan
from buildfiles.provenance import load_provenance, provenance_path
from buildfiles.published import PUBLISH_FILE, load_publish

MINT_FILE = "mint.json"
MINT_FORMAT = "roboz-mint/1"
NETWORKS = {"local": None, "sepolia": 11155111}
SEPOLIA_RPC_ENV = "SEPOLIA_RPC_URL"
DEFAULT_BATCH = 100       # ERC721A: ~1,900 gas/token; bigger batches make later transfers scan further
MAX_IN_FLIGHT = 8         # mint transactions sent before waiting for the first receipt
ZERO = "0x0000000000000000000000000000000000000000"


# ---------------------------------------------------------------- inputs

@dataclass(frozen=True)
class MintInputs:
    name: str
    symbol: str
    start_id: int
    supply: int
    base_uri: str
    contract_uri: str
    uri_source: str                  # "publish.json" or "cids.json"
    provenance_hash: str             # 64 hex chars, no 0x
    royalty_receiver: str | None
    royalty_bps: int


def read_inputs(build_dir: Path) -> MintInputs:
    """plan.json + publish.json (or cids.json) + provenance.json -> what goes on chain."""
    build_dir = Path(build_dir)
    plan = load_plan(build_dir)
    c = plan.collection
    pub = load_publish(build_dir)
    if pub is not None:
        base_uri, contract_uri, source = pub.base_uri, pub.contract_uri, PUBLISH_FILE
    else:
        cids = load_cids(build_dir)
        if cids is None:
            raise UserError(f"{build_dir} has neither publish.json nor cids.json",
                            hint="run `roboz-collection metadata` (and `publish`) first", exit_code=2)
        base_uri, contract_uri, source = cids.base_uri, cids.contract_uri, CIDS_FILE
    if not base_uri.endswith("/"):
        base_uri += "/"  # tokenURI is base + id + ".json"
    provenance = load_provenance(build_dir)
    if provenance is None:
        raise UserError(f"{provenance_path(build_dir)} not found", hint="run `roboz-collection metadata` first", exit_code=2)
    prov = provenance.provenance_hash
    roy = c.royalties
    return MintInputs(
        name=c.name, symbol=c.symbol, start_id=c.start_id, supply=len(plan.tokens) or c.supply,
        base_uri=base_uri, contract_uri=contract_uri, uri_source=source, provenance_hash=prov,
        royalty_receiver=roy.receiver if roy and roy.bps else None, royalty_bps=roy.bps if roy else 0,
    )


def _read_json(p: Path) -> dict[str, Any]:
    try:
        return json.loads(p.read_text("utf-8"))
    except json.JSONDecodeError as e:
        raise UserError(f"{p} is not valid JSON ({e})", exit_code=2) from None


# ---------------------------------------------------------------- mint.json

class MintRecord:
    """mint.json: the receipts of this build on one chain, rewritten atomically on every change."""

    def __init__(self, path: Path, data: dict[str, Any]):
        self.path, self.data = path, data

    @classmethod
    def load(cls, build_dir: Path) -> "MintRecord | None":
        p = Path(build_dir) / MINT_FILE
        if not p.exists():
            return None
        data = _read_json(p)
        if data.get("format") != MINT_FORMAT:
            raise UserError(f"{p}: unknown format {data.get('format')!r}", exit_code=2)
        return cls(p, data)

    def save(self) -> None:
        write_json(self.path, self.data)

    @property
    def txs(self) -> list[dict[str, Any]]:
        return self.data["txs"]

    def add_tx(self, entry: dict[str, Any]) -> dict[str, Any]:
        """Record a transaction about to be broadcast; one entry per hash.

        A transaction that never reached the node is marked dropped on the re-run, which then
        signs the same call again. With the same nonce and fees that is the very same signed
        transaction (same hash): revive the old entry instead of adding a twin, or a receipt
        would land on one entry while the other stayed "sent" forever.
        """
        for old in self.txs:
            if old["hash"] == entry["hash"]:
                old.update(entry, resent=old.get("resent", 0) + 1)
                self.save()
                return old
        self.txs.append(entry)
        self.save()
        return entry


# ---------------------------------------------------------------- report

@dataclass
class MintReport:
    network: str
    rpc: str                         # redacted: scheme://host:port
    chain_id: int
    contract_address: str
    owner: str
    to: str
    minted_ids: range                # every id on chain now
    newly_minted: range              # ids minted by this run
    sample_token_uri: str | None
    uri_source: str
    txs_sent: int
    gas_used: int
    verified: bool
    problems: list[str] = field(default_factory=list)
    mint_json: Path | None = None


# ---------------------------------------------------------------- the step

def resolve_rpc(build_dir: Path, network: str, rpc_url: str | None):
    """(url, expected chain id or None, local anvil node or None)."""
    if network not in NETWORKS:
        raise UserError(f"unknown network {network!r}; use local, sepolia or --rpc-url", exit_code=2)
    if rpc_url:
        return rpc_url, NETWORKS[network] if network != "local" else None, None
    if network == "sepolia":
        url = os.environ.get(SEPOLIA_RPC_ENV)
        if not url:
            raise UserError(f"--network sepolia needs {SEPOLIA_RPC_ENV}",
                            hint=f"export {SEPOLIA_RPC_ENV}=https://... (your provider's Sepolia endpoint) or pass --rpc-url", exit_code=2)
        return url, NETWORKS["sepolia"], None
    from contracts.chain import local_chain

    node, _ = local_chain(build_dir)
    return node.url, None, node


def mint_build(
    build_dir: Path,
    *,
    network: str = "local",
    rpc_url: str | None = None,
    allow_mainnet: bool = False,
    to: str | None = None,
    batch_size: int = DEFAULT_BATCH,
    keystore: Path | None = None,
    keep_chain: bool = False,
    receipt_timeout: float | None = None,
    log: Callable[[str], None] | None = None,
) -> MintReport:
    """Deploy (or reuse), configure, mint what is missing, verify; see the module docstring.

    With network="local" (and no rpc_url) the build's anvil is started or reused,
    its state kept in BUILD/chain/, and stopped at the end unless keep_chain.
    """
    build_dir = Path(build_dir)
    say = log or (lambda s: None)
    if batch_size < 1:
        raise UserError("batch size must be at least 1", exit_code=2)
    inputs = read_inputs(build_dir)
    if inputs.uri_source == "cids.json":
        say("publish.json not found: using base_uri/contract_uri from cids.json (computed offline; make sure they get pinned)")
    url, expected_chain, node = resolve_rpc(build_dir, network, rpc_url)
    try:
        return _mint(build_dir, inputs, url, expected_chain, network if not rpc_url or network != "local" else "rpc",
                     allow_mainnet=allow_mainnet, to=to, batch_size=batch_size, keystore=keystore,
                     receipt_timeout=receipt_timeout, say=say)
    finally:
        if node is not None and not keep_chain:
            from contracts.chain import stop_local_chain

            stop_local_chain(build_dir)


def _mint(build_dir, inputs: MintInputs, url, expected_chain, network, *, allow_mainnet, to, batch_size,
          keystore, receipt_timeout, say) -> MintReport:
    from web3 import Web3

    from contracts.compile import load_artifact
    from contracts.keys import check_chain, load_account
    from contracts.tx import RECEIPT_TIMEOUT, Sender, connect, redact_url
    from contracts.verify import verify_collection

    w3, chain_id = connect(url)
    if expected_chain is not None and chain_id != expected_chain:
        raise UserError(f"wrong chain: {redact_url(url)} is chain {chain_id}, --network {network} is chain {expected_chain}",
                        exit_code=2)
    check_chain(chain_id, allow_mainnet=allow_mainnet)
    account = load_account(chain_id, keystore=keystore)
    artifact = load_artifact("RobozCollection")
    sender = Sender(w3, account, chain_id, artifact.abi, receipt_timeout=receipt_timeout or RECEIPT_TIMEOUT,
                    poll=0.05 if chain_id in (31337, 1337) else 1.0)
    recipient = Web3.to_checksum_address(to) if to else account.address
    say(f"chain {chain_id} at {redact_url(url)}, sending from {account.address}")

    rec = MintRecord.load(build_dir)
    if rec is None:
        rec = MintRecord(build_dir / MINT_FILE, {
            "format": MINT_FORMAT, "chain_id": chain_id, "network": network, "contract": artifact.name,
            "contract_address": None, "deploy_tx": None, "deployer": account.address, "to": recipient,
            "artifact": {"source_sha256": artifact.source_sha256, "compiler": artifact.compiler["version"]},
            "txs": [], "minted": None, "verified": None,
        })
        rec.save()
    elif rec.data["chain_id"] != chain_id:
        raise UserError(f"{rec.path} belongs to chain {rec.data['chain_id']}, but this RPC is chain {chain_id}",
                        hint="use the network the collection was deployed on, or move mint.json away to deploy anew",
                        exit_code=2)
    if to is None:
        recipient = Web3.to_checksum_address(rec.data.get("to") or recipient)
    sent_before = len(rec.txs)

    _settle_recorded(sender, rec, say)

    # ---- deploy (or find the recorded contract)
    address = rec.data.get("contract_address")
    if address is None:
        address = _deploy(w3, sender, rec, artifact, inputs, say)
    elif not w3.eth.get_code(address):
        raise UserError(f"no contract at {address} on chain {chain_id}, though mint.json records it",
                        hint="the chain was reset (local state deleted?): move mint.json away to deploy anew", exit_code=2)
    contract = w3.eth.contract(address=address, abi=artifact.abi)
    f = contract.functions

    owner = f.owner().call()
    if owner.lower() != account.address.lower():
        raise UserError(f"{account.address} does not own the contract at {address} (owner is {owner})", exit_code=2)
    for label, got, want in (("maxSupply", f.maxSupply().call(), inputs.supply),
                             ("startTokenId", f.startTokenId().call(), inputs.start_id)):
        if got != want:
            raise UserError(f"the contract at {address} has {label} {got}, but plan.json needs {want}",
                            hint="the plan changed after deploying: move mint.json away to deploy a new contract", exit_code=2)

    # ---- settings the chain must match: send a setter only where it differs
    def transact(fn: str, args: list[Any], value: Any) -> None:
        data = contract.encode_abi(fn, args=args)
        entry = _send(sender, rec, {"to": address, "data": data}, fn, {"value": value})
        _await(sender, rec, entry, say)

    if f.baseURI().call() != inputs.base_uri:
        transact("setBaseURI", [inputs.base_uri], inputs.base_uri)
    if f.contractURI().call() != inputs.contract_uri:
        transact("setContractURI", [inputs.contract_uri], inputs.contract_uri)
    onchain_prov = bytes(f.provenanceHash().call()).hex()
    if onchain_prov == "0" * 64:
        transact("setProvenanceHash", [bytes.fromhex(inputs.provenance_hash)], inputs.provenance_hash)
    elif onchain_prov != inputs.provenance_hash:
        raise UserError(f"on-chain provenance {onchain_prov} differs from provenance.json's {inputs.provenance_hash}",
                        hint="the provenance hash can be set once only: the images changed after it was set")
    if inputs.royalty_bps:
        receiver, amount = f.royaltyInfo(inputs.start_id, 10_000).call()
        if amount != inputs.royalty_bps or receiver.lower() != inputs.royalty_receiver.lower():
            transact("setDefaultRoyalty", [inputs.royalty_receiver, inputs.royalty_bps],
                     [inputs.royalty_receiver, inputs.royalty_bps])

    # ---- mint what is missing, several batches in flight
    end = inputs.start_id + inputs.supply
    first_new = f.nextTokenId().call()
    next_id, in_flight = first_new, []
    while next_id < end or in_flight:
        while next_id < end and len(in_flight) < MAX_IN_FLIGHT:
            qty = min(batch_size, end - next_id)
            data = contract.encode_abi("mintBatch", args=[recipient, qty, next_id])
            if in_flight:
                # Estimating against current state would revert (the earlier batch is not mined yet).
                tx = {"to": address, "data": data, "gas": _batch_gas(qty)}
                entry = _send_unestimated(sender, rec, tx, "mint", {"first_id": next_id, "quantity": qty})
            else:
                entry = _send(sender, rec, {"to": address, "data": data}, "mint", {"first_id": next_id, "quantity": qty})
            say(f"sent mint of ids {next_id}..{next_id + qty - 1} ({entry['hash']})")
            in_flight.append(entry)
            next_id += qty
        _await(sender, rec, in_flight.pop(0), say)
    minted_to = f.nextTokenId().call()
    rec.data["minted"] = {"first_id": inputs.start_id, "count": minted_to - inputs.start_id}
    rec.save()

    # ---- verify on chain
    rep = verify_collection(w3, contract, inputs)
    rec.data["verified"] = rep.to_dict()
    rec.save()
    new_txs = rec.txs[sent_before:]
    return MintReport(
        network=network, rpc=redact_url(url), chain_id=chain_id, contract_address=address, owner=owner, to=recipient,
        minted_ids=range(inputs.start_id, minted_to), newly_minted=range(first_new, minted_to),
        sample_token_uri=rep.sample_token_uri, uri_source=inputs.uri_source, txs_sent=len(new_txs),
        gas_used=sum(t.get("gas_used") or 0 for t in new_txs), verified=rep.ok, problems=rep.problems,
        mint_json=rec.path,
    )


def _batch_gas(quantity: int) -> int:
    # Upper bound for a pipelined mintBatch: measured ~1,900/token + ~75k fixed (benchmarks/gas.py).
    return int((90_000 + 2_500 * quantity) * 1.2)


def _entry(stx, kind: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {"kind": kind, "hash": stx.tx_hash, "nonce": stx.nonce, "status": "sent", "block": None,
            "gas_used": None, **extra}


def _send(sender, rec: MintRecord, tx: dict[str, Any], kind: str, extra: dict[str, Any]) -> dict[str, Any]:
    holder: dict[str, Any] = {}
    sender.send(tx, kind, record=lambda stx: holder.setdefault("e", rec.add_tx(_entry(stx, kind, extra))))
    return holder["e"]


def _send_unestimated(sender, rec: MintRecord, tx: dict[str, Any], kind: str, extra: dict[str, Any]) -> dict[str, Any]:
    from contracts.tx import SignedTx, fee_fields

    fees = fee_fields(sender.w3)
    nonce = sender.next_nonce()
    full = {"chainId": sender.chain_id, "value": 0, "nonce": nonce, **fees, **tx}
    signed = sender.account.sign_transaction(full)
    stx = SignedTx("0x" + bytes(signed.hash).hex(), nonce, bytes(signed.raw_transaction), tx["gas"], 0)
    entry = rec.add_tx(_entry(stx, kind, extra))
    sender.broadcast(stx, kind)
    return entry


def _await(sender, rec: MintRecord, entry: dict[str, Any], say, timeout: float | None = None) -> None:
    r = sender.wait(entry["hash"], entry["kind"], timeout)
    _apply_receipt(sender, rec, entry, r)
    if r.status != 1:
        raise UserError(f"{entry['kind']} transaction {entry['hash']} reverted: {entry.get('error')}")
    say(f"{entry['kind']} mined in block {r.block} ({r.gas_used:,} gas)")


def _apply_receipt(sender, rec: MintRecord, entry: dict[str, Any], r) -> None:
    entry.update(status="mined" if r.status == 1 else "reverted", block=r.block, gas_used=r.gas_used)
    if r.status != 1:
        entry["error"] = sender.revert_reason(entry["hash"])
    if entry["kind"] == "deploy" and r.status == 1:
        rec.data["contract_address"] = r.contract_address
    rec.save()


def _settle_recorded(sender, rec: MintRecord, say) -> None:
    """Give every recorded transaction without a receipt its final status before anything new is sent."""
    from contracts.tx import lookup

    for entry in rec.txs:
        if entry["status"] != "sent":
            continue
        state, receipt = lookup(sender.w3, entry["hash"])
        if state == "pending":
            say(f"waiting for {entry['kind']} {entry['hash']} from an earlier run")
            receipt = sender.wait(entry["hash"], entry["kind"])
        if receipt is not None:
            _apply_receipt(sender, rec, entry, receipt)
            if receipt.status != 1:
                # An earlier run's batch that lost the race (UnexpectedFirstId) minted nothing: the chain decides below.
                say(f"earlier {entry['kind']} {entry['hash']} reverted: {entry.get('error')}")
        else:
            # Never reached a node's mempool (crash before broadcast) or was dropped; its nonce
            # will be reused by the next transaction, so it can no longer land.
            entry["status"] = "dropped"
            rec.save()
            say(f"earlier {entry['kind']} {entry['hash']} was never mined; it is dropped")


def _deploy(w3, sender, rec: MintRecord, artifact, inputs: MintInputs, say) -> str:
    from eth_utils import to_checksum_address
    import rlp
    from eth_utils import keccak

    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    args = (inputs.name, inputs.symbol, inputs.supply, inputs.start_id, inputs.base_uri, inputs.contract_uri,
            inputs.royalty_receiver or ZERO, inputs.royalty_bps, sender.address)
    data = factory.constructor(*args).data_in_transaction

    def record(stx) -> None:
        predicted = to_checksum_address(keccak(rlp.encode([bytes.fromhex(sender.address[2:]), stx.nonce]))[12:])
        rec.data["deploy_tx"] = stx.tx_hash
        rec.add_tx(_entry(stx, "deploy", {"predicted_address": predicted}))

    stx = sender.send({"data": data}, "deploy", record=record)
    say(f"deploying {artifact.name} ({stx.tx_hash})")
    entry = next(e for e in rec.txs if e["hash"] == stx.tx_hash)
    _await(sender, rec, entry, say)
    return rec.data["contract_address"]
