"""Transactions as data: typed parameters, one signer every transaction goes through, receipts.

Sending is split in two so the caller can record a transaction's hash before it is
broadcast: `sign()` gives the hash (keccak of the signed bytes), the caller writes
it to mint.json, then `broadcast()` sends it. A crash after either step leaves a
hash the next run can look up.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable

import eth_abi
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.exceptions import ContractLogicError, TimeExhausted, TransactionNotFound, Web3RPCError

from buildfiles.errors import UserError

GAS_MARGIN = 1.2          # estimates are exact for the current state; leave room for drift
RECEIPT_TIMEOUT = 300.0   # seconds; Sepolia blocks are 12 s, a congested one can take minutes


@dataclass(frozen=True)
class TxParams:
    """One transaction to sign: the call only; nonce, fees and chain id are the signer's business."""

    data: str                  # 0x-prefixed calldata (creation code when `to` is None)
    to: str | None = None      # None: contract creation
    value: int = 0
    gas: int | None = None     # None: estimate now. Given where an estimate would see the wrong state
                               # (a mint pipelined behind batches not mined yet would revert in it).

    def call(self, sender: str) -> dict[str, Any]:
        d: dict[str, Any] = {"from": sender, "data": self.data, "value": self.value}
        if self.to is not None:
            d["to"] = self.to
        return d


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    status: int            # 1 success, 0 reverted
    block: int
    gas_used: int
    contract_address: str | None
    revert_reason: str | None = None   # the signer fills it in when status is 0

    @property
    def ok(self) -> bool:
        return self.status == 1

    def check(self, what: str) -> "Receipt":
        """This receipt, or a one-line UserError saying why the transaction reverted."""
        if not self.ok:
            raise UserError(f"{what} transaction {self.tx_hash} reverted: {self.revert_reason or 'no reason given'}")
        return self


@dataclass(frozen=True)
class SignedTx:
    tx_hash: str
    nonce: int
    raw: bytes
    gas: int
    max_cost_wei: int


def redact_url(url: str) -> str:
    """scheme://host[:port] only: RPC URLs often carry an API key in the path or query."""
    p = urllib.parse.urlsplit(url)
    return f"{p.scheme}://{p.hostname or ''}{':' + str(p.port) if p.port else ''}"


# ---------------------------------------------------------------- reverts

def _error_table(abi: list[dict[str, Any]]) -> dict[bytes, tuple[str, list[str], list[str]]]:
    table = {}
    for item in abi:
        if item.get("type") == "error":
            types = [i["type"] for i in item["inputs"]]
            sel = keccak(text=f"{item['name']}({','.join(types)})")[:4]
            table[sel] = (item["name"], types, [i["name"] for i in item["inputs"]])
    return table


def decode_revert(abi: list[dict[str, Any]], data: str | bytes | None) -> str:
    """Revert data -> 'ErrorName(arg=value, ...)' using the contract's custom errors."""
    if data is None:
        return "reverted without a reason"
    raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else bytes(data)
    if len(raw) < 4:
        return "reverted without a reason"
    sel, body = raw[:4], raw[4:]
    if sel == bytes.fromhex("08c379a0"):
        return f"reverted: {eth_abi.decode(['string'], body)[0]}"
    if sel == bytes.fromhex("4e487b71"):
        return f"panic 0x{eth_abi.decode(['uint256'], body)[0]:02x}"
    known = _error_table(abi).get(sel)
    if known is None:
        return f"reverted with unknown error 0x{raw.hex()}"
    name, types, names = known
    try:
        values = eth_abi.decode(types, body)
    except Exception:
        return f"{name}(<undecodable arguments>)"
    args = ", ".join(f"{n}={_fmt(v, t)}" if n else _fmt(v, t) for n, v, t in zip(names, values, types))
    return f"{name}({args})"


def _fmt(v: Any, abi_type: str) -> str:
    if abi_type == "address":
        return to_checksum_address(v)
    if isinstance(v, bytes):
        return "0x" + v.hex()
    return str(v)


def _revert_data(e: Exception) -> str | None:
    data = getattr(e, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return data
    return None


# ---------------------------------------------------------------- building and sending

def fee_fields(w3: Web3) -> dict[str, int]:
    """EIP-1559 fees: pay up to twice the current base fee plus the suggested tip."""
    base = w3.eth.get_block("latest").get("baseFeePerGas")
    try:
        tip = int(w3.eth.max_priority_fee)
    except Exception:
        tip = Web3.to_wei(1, "gwei")
    if base is None:  # a pre-London chain
        return {"gasPrice": int(w3.eth.gas_price)}
    return {"maxFeePerGas": 2 * int(base) + tip, "maxPriorityFeePerGas": tip}


class Signer:
    """The one way a transaction leaves this program: for one account on one chain.

    It keeps the nonce locally; the first comes from the node's pending count, so
    transactions still in the mempool from a crashed run are not overwritten by accident.
    """

    def __init__(self, w3: Web3, account, chain_id: int, abi: list[dict[str, Any]],
                 receipt_timeout: float = RECEIPT_TIMEOUT, poll: float = 0.1):
        self.w3, self._account, self.chain_id, self.abi = w3, account, chain_id, abi
        self.receipt_timeout, self.poll = receipt_timeout, poll
        self._nonce: int | None = None

    @property
    def address(self) -> str:
        return self._account.address

    def next_nonce(self) -> int:
        if self._nonce is None:
            self._nonce = self.w3.eth.get_transaction_count(self.address, "pending")
        return self._nonce

    def estimate(self, tx: TxParams, what: str) -> int:
        """Gas for `tx` with the safety margin, turning a revert into a decoded one-line error."""
        try:
            return int(self.w3.eth.estimate_gas(tx.call(self.address)) * GAS_MARGIN)
        except ContractLogicError as e:
            raise UserError(f"{what} would revert: {decode_revert(self.abi, _revert_data(e))}") from None
        except Web3RPCError as e:
            data = _revert_data(e)
            if data:
                raise UserError(f"{what} would revert: {decode_revert(self.abi, data)}") from None
            raise self._rpc_error(what, e) from None

    def sign(self, tx: TxParams, what: str) -> SignedTx:
        """Gas (estimated unless given), fees, nonce, a funds check, then the signature."""
        gas = tx.gas if tx.gas is not None else self.estimate(tx, what)
        fees = fee_fields(self.w3)
        price = fees.get("maxFeePerGas", fees.get("gasPrice", 0))
        max_cost = gas * price + tx.value
        balance = self.w3.eth.get_balance(self.address)
        if balance < max_cost:
            raise UserError(
                f"insufficient funds for {what}: {self.address} has {Web3.from_wei(balance, 'ether')} ETH "
                f"on chain {self.chain_id}, needs up to {Web3.from_wei(max_cost, 'ether')} ETH",
                hint="fund the account (on Sepolia: a faucet) and re-run; progress so far is kept in mint.json")
        nonce = self.next_nonce()
        full = {k: v for k, v in tx.call(self.address).items() if k != "from"}
        full.update(fees, gas=gas, nonce=nonce, chainId=self.chain_id)
        signed = self._account.sign_transaction(full)
        return SignedTx("0x" + bytes(signed.hash).hex(), nonce, bytes(signed.raw_transaction), gas, max_cost)

    def broadcast(self, stx: SignedTx, what: str) -> str:
        try:
            self.w3.eth.send_raw_transaction(stx.raw)
        except Web3RPCError as e:
            # A send retried after a timeout may find the node already has it: that is success
            # (geth/erigon: "already known", anvil: "transaction already imported").
            msg = str(getattr(e, "message", None) or e).lower()
            if "already known" not in msg and "already imported" not in msg:
                raise self._rpc_error(what, e) from None
        self._nonce = stx.nonce + 1
        return stx.tx_hash

    def send(self, tx: TxParams, what: str, record: Callable[[SignedTx], None]) -> SignedTx:
        """sign -> record(hash) -> broadcast. `record` must persist the hash before we send."""
        stx = self.sign(tx, what)
        record(stx)
        self.broadcast(stx, what)
        return stx

    def wait(self, tx_hash: str, what: str, timeout: float | None = None) -> Receipt:
        """The receipt once mined (its revert reason filled in if it reverted); check() it."""
        try:
            r = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout or self.receipt_timeout,
                                                         poll_latency=self.poll)
        except TimeExhausted:
            raise UserError(f"{what}: transaction {tx_hash} not mined after {timeout or self.receipt_timeout:.0f} s",
                            hint="it is recorded in mint.json; re-run the same command later to pick it up") from None
        return self.complete(to_receipt(r))

    def complete(self, r: Receipt) -> Receipt:
        if r.ok or r.revert_reason:
            return r
        return Receipt(r.tx_hash, r.status, r.block, r.gas_used, r.contract_address, self.revert_reason(r.tx_hash))

    def revert_reason(self, tx_hash: str) -> str:
        """Why a mined transaction reverted: replay it as a call on the state before its block."""
        tx = self.w3.eth.get_transaction(tx_hash)
        call = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "value": tx["value"]}
        try:
            self.w3.eth.call(call, tx["blockNumber"] - 1)
        except ContractLogicError as e:
            return decode_revert(self.abi, _revert_data(e))
        except Web3RPCError as e:
            return decode_revert(self.abi, _revert_data(e)) if _revert_data(e) else str(e)
        return "reverted (the replay did not revert; state changed within the block)"

    def _rpc_error(self, what: str, e: Exception) -> UserError:
        msg = str(getattr(e, "message", None) or e)
        if "insufficient funds" in msg.lower():
            return UserError(f"insufficient funds for {what} on chain {self.chain_id} ({self.address})",
                             hint="fund the account and re-run; progress so far is kept in mint.json")
        if "nonce" in msg.lower():
            return UserError(f"{what}: nonce rejected by the node ({msg})",
                             hint="another process may be sending from this account; re-run when it is done")
        return UserError(f"{what}: the node rejected the transaction ({msg})")


def to_receipt(r: Any) -> Receipt:
    addr = r.get("contractAddress")
    return Receipt(
        tx_hash="0x" + bytes(r["transactionHash"]).hex(),
        status=int(r["status"]),
        block=int(r["blockNumber"]),
        gas_used=int(r["gasUsed"]),
        contract_address=to_checksum_address(addr) if addr else None,
    )


def lookup(w3: Web3, tx_hash: str) -> tuple[str, Receipt | None]:
    """Where a recorded transaction stands: ('mined', receipt), ('pending', None) or ('unknown', None)."""
    try:
        return "mined", to_receipt(w3.eth.get_transaction_receipt(tx_hash))
    except TransactionNotFound:
        pass
    try:
        w3.eth.get_transaction(tx_hash)
        return "pending", None
    except TransactionNotFound:
        return "unknown", None
