"""Deploy, configure, mint and verify a build's collection: `roboz-collection mint`.

Five named steps, each small: connect, ensure the contract, sync its settings, mint what
is missing, verify. Every transaction goes through one Signer (contracts/tx.py).

Crash safety rests on two things:
  1. mint.json gets every transaction's hash (and nonce) *before* the transaction is
     broadcast, and after each receipt. A re-run first settles every recorded
     transaction that has no receipt yet (waits for pending ones), then reads the
     chain (nextTokenId, baseURI, provenance, ...) and sends only what is missing.
  2. The contract's owner mint takes the id the batch must start at
     (`mintBatch(to, quantity, firstId)`), so a batch sent twice reverts with
     UnexpectedFirstId instead of minting again; maxSupply caps the rest.

Nothing is sent before every check passed (preflight): addresses (EIP-55, zero, a contract
that cannot hold tokens), the recorded contract being this collection's and the signer's,
the code size, the balance for the estimated total, the public-chain guards and, off a
terminal, an explicit --yes. Every refusal of a run is reported together. With mint.json
lost, the sender's earlier contracts are looked up on chain (contracts/recover.py) before
a second one could be deployed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from buildfiles.chains import is_local_chain
from buildfiles.errors import UserError
from buildfiles.mint_journal import ChainJournal, MintJournal, TxEntry, load_journal
from buildfiles.plan import load_plan
from contracts.addresses import AddressProblem, checked_address
from contracts.guards import MintSummary, Overrides, check_code_size, check_public_chain
from contracts.refusals import Refusals
from contracts.inputs import MintInputs, check_build_files, read_inputs, read_uri_files
from contracts.network import Target, choose_target, key_hint
from contracts.tx import Receipt, Signer, TxParams, redact_url

DEFAULT_BATCH = 100       # ERC721A: ~1,900 gas/token; bigger batches make later transfers scan further
ERC2309_CHUNK = 5000      # ERC721A's _mintERC2309 limit per call (one ConsecutiveTransfer each)
MAX_IN_FLIGHT = 8         # mint transactions sent before waiting for the first receipt
SETTER_GAS = 80_000       # for the cost estimate: a setter of a short string or a hash
ZERO = "0x0000000000000000000000000000000000000000"
ERC721_RECEIVED = bytes.fromhex("150b7a02")   # IERC721Receiver.onERC721Received.selector
EIP7702_PREFIX = bytes.fromhex("ef0100")      # an account's code that only delegates: still a wallet


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
    mint_at_deploy: bool = False
    notes: list[str] = field(default_factory=list)   # guards the user overrode


# ---------------------------------------------------------------- what every step shares

@dataclass
class Session:
    """One chain, one signer, that chain's entry in mint.json."""

    w3: Any
    chain_id: int
    target: Target
    url: str
    signer: Signer
    artifact: Any
    journal: MintJournal
    chain: ChainJournal
    say: Callable[[str], None]
    recorded: bool = True        # False: the chain's journal entry exists in memory only (saved when sending starts)

    def start_recording(self) -> None:
        """Put this chain's entry into mint.json: from here on every transaction is journaled."""
        if not self.recorded:
            self.chain = self.journal.add_chain(self.chain)
            self.recorded = True

    def send(self, tx: TxParams, kind: str, **extra: Any) -> TxEntry:
        """Sign, record the hash in mint.json, broadcast."""
        holder: list[TxEntry] = []

        def record(stx) -> None:
            holder.append(self.chain.add_tx(TxEntry(kind=kind, hash=stx.tx_hash, nonce=stx.nonce, **extra)))
            self.journal.save()

        self.signer.send(tx, kind, record)
        return holder[0]

    def settle(self, entry: TxEntry, timeout: float | None = None) -> Receipt:
        """Wait for `entry`'s receipt, record it, and stop on a revert."""
        r = self.signer.wait(entry.hash, entry.kind, timeout)
        self.record_receipt(entry, r)
        r.check(entry.kind)
        self.say(f"{entry.kind} mined in block {r.block} ({r.gas_used:,} gas)")
        return r

    def record_receipt(self, entry: TxEntry, r: Receipt) -> None:
        entry.status, entry.block, entry.gas_used = ("mined" if r.ok else "reverted"), r.block, r.gas_used
        entry.error = r.revert_reason
        if entry.kind == "deploy" and r.ok:
            self.chain.contract_address = r.contract_address
        self.journal.save()

    def call(self, contract, fn: str, args: list[Any], kind: str | None = None, **extra: Any) -> Receipt:
        entry = self.send(TxParams(to=contract.address, data=contract.encode_abi(fn, args=args)), kind or fn, **extra)
        return self.settle(entry)


# ---------------------------------------------------------------- step 1: connect

def connect(build_dir: Path, target: Target, url: str, journal: MintJournal, *, allow_mainnet: bool,
            keystore: Path | None, receipt_timeout: float | None, recipient: str | None,
            plan, uris, overrides: Overrides, say: Callable[[str], None],
            refusals: Refusals | None = None) -> tuple[Session, list[str]]:
    """The chain (checked against the network asked for), the key, the public-chain guards,
    this chain's journal entry, and every transaction a killed run left unsettled.

    Refusals (mainnet, the key, the guards) go into `refusals`; without a key nothing further
    can be checked, so they are raised then. A chain new to mint.json is not written to it yet.
    """
    from web3 import Web3

    from contracts.compile import load_artifact
    from contracts.keys import check_chain, load_account
    from contracts.rpc import connect as rpc_connect
    from contracts.tx import RECEIPT_TIMEOUT

    own = refusals if refusals is not None else Refusals()
    w3, chain_id = rpc_connect(url, fix=target.fix)
    if target.expected_chain_id is not None and chain_id != target.expected_chain_id:
        raise UserError(f"wrong chain: {redact_url(url)} is chain {chain_id}, --network {target.network} is chain "
                        f"{target.expected_chain_id}", hint=target.fix, exit_code=2)
    own.attempt(lambda: check_chain(chain_id, allow_mainnet=allow_mainnet))
    notes = check_public_chain(build_dir, plan, uris, chain_id, target.network, overrides, own)
    account = own.attempt(lambda: load_account(chain_id, keystore=keystore, missing_hint=key_hint(chain_id)))
    if account is None or refusals is None:
        own.raise_if_any()
    artifact = load_artifact("RobozCollection")
    signer = Signer(w3, account, chain_id, artifact.abi, receipt_timeout=receipt_timeout or RECEIPT_TIMEOUT,
                    poll=0.05 if is_local_chain(chain_id) else 1.0)
    say(f"chain {chain_id} at {redact_url(url)}, sending from {account.address}")

    chain = journal.chain(chain_id)
    recorded = chain is not None
    if chain is None:
        chain = ChainJournal(
            chain_id=chain_id, network=target.network, contract=artifact.name, deployer=account.address,
            to=recipient or account.address,
            artifact={"source_sha256": artifact.source_sha256, "compiler": artifact.compiler["version"]})
    if recipient is not None:
        chain.to = recipient
    chain.to = Web3.to_checksum_address(chain.to or account.address)
    s = Session(w3, chain_id, target, url, signer, artifact, journal, chain, say, recorded=recorded)
    if recorded:
        settle_recorded(s)
    return s, notes


def settle_recorded(s: Session) -> None:
    """Give every recorded transaction without a receipt its final status before anything new is sent."""
    from contracts.tx import lookup

    for entry in s.chain.txs:
        if entry.status != "sent":
            continue
        state, receipt = lookup(s.w3, entry.hash)
        if state == "pending":
            s.say(f"waiting for {entry.kind} {entry.hash} from an earlier run")
            receipt = s.signer.wait(entry.hash, entry.kind)
        if receipt is not None:
            s.record_receipt(entry, s.signer.complete(receipt))
            if not receipt.ok:
                # An earlier run's batch that lost the race (UnexpectedFirstId) minted nothing: the chain decides below.
                s.say(f"earlier {entry.kind} {entry.hash} reverted: {entry.error}")
        else:
            # Never reached a node's mempool (crash before broadcast) or was dropped; its nonce
            # will be reused by the next transaction, so it can no longer land.
            entry.status = "dropped"
            s.journal.save()
            s.say(f"earlier {entry.kind} {entry.hash} was never mined; it is dropped")


# ---------------------------------------------------------------- step 2: the contract

def constructor_data(s: Session, inputs: MintInputs, *, mint_to: str | None, chunk: int) -> str:
    """Creation code + arguments. mint_to: mint the whole supply to it in the constructor (ERC-2309)."""
    factory = s.w3.eth.contract(abi=s.artifact.abi, bytecode=s.artifact.bytecode)
    args = (inputs.name, inputs.symbol, inputs.supply, inputs.start_id, inputs.base_uri, inputs.contract_uri,
            inputs.royalty_receiver or ZERO, inputs.royalty_bps, s.signer.address, mint_to or ZERO,
            chunk if mint_to else 0)
    return factory.constructor(*args).data_in_transaction


def deploy(s: Session, inputs: MintInputs, *, mint_to: str | None, chunk: int) -> str:
    from eth_utils import keccak, to_checksum_address
    import rlp

    data = constructor_data(s, inputs, mint_to=mint_to, chunk=chunk)
    stx = s.signer.sign(TxParams(data=data), "deploy")
    predicted = to_checksum_address(keccak(rlp.encode([bytes.fromhex(s.signer.address[2:]), stx.nonce]))[12:])
    s.chain.deploy_tx = stx.tx_hash
    s.chain.mint_at_deploy = mint_to is not None
    entry = s.chain.add_tx(TxEntry(kind="deploy", hash=stx.tx_hash, nonce=stx.nonce, predicted_address=predicted))
    s.journal.save()
    s.signer.broadcast(stx, "deploy")
    s.say(f"deploying {s.artifact.name} ({stx.tx_hash})" + (" minting every token in the constructor" if mint_to else ""))
    s.settle(entry)
    return s.chain.contract_address


def ensure_contract(s: Session, inputs: MintInputs, *, mint_at_deploy: bool, chunk: int):
    """The recorded contract (checked: code, owner, supply, first id), or a new deployment."""
    address = s.chain.contract_address
    if address is not None and is_local_chain(s.chain_id) and not s.w3.eth.get_code(address):
        # A local chain's state was deleted or reset: nothing of value is lost, start over on it.
        s.say(f"no contract at {address} any more: the local chain {s.chain_id} was reset; deploying anew")
        s.chain = s.journal.add_chain(ChainJournal(
            chain_id=s.chain_id, network=s.chain.network, contract=s.chain.contract, deployer=s.chain.deployer,
            to=s.chain.to, artifact=s.chain.artifact))
        address = None
    if address is None:
        address = deploy(s, inputs, mint_to=s.chain.to if mint_at_deploy else None, chunk=chunk)
    elif not s.w3.eth.get_code(address):
        raise UserError(f"no contract at {address} on chain {s.chain_id}, though mint.json records it",
                        hint="the chain was reset (local state deleted?): move mint.json away to deploy anew", exit_code=2)
    elif mint_at_deploy and not s.chain.mint_at_deploy:
        s.say("--mint-at-deploy applies to a new deployment only: this contract is already deployed, "
              "the missing tokens are minted in batches")
    contract = s.w3.eth.contract(address=address, abi=s.artifact.abi)
    f = contract.functions
    owner = f.owner().call()
    if owner.lower() != s.signer.address.lower():
        raise UserError(f"{s.signer.address} does not own the contract at {address} (owner is {owner})", exit_code=2)
    for label, got, want in (("maxSupply", f.maxSupply().call(), inputs.supply),
                             ("startTokenId", f.startTokenId().call(), inputs.start_id)):
        if got != want:
            raise UserError(f"the contract at {address} has {label} {got}, but plan.json needs {want}",
                            hint="the plan changed after deploying: move mint.json away to deploy a new contract", exit_code=2)
    return contract


# ---------------------------------------------------------------- step 3: settings

def sync_settings(s: Session, contract, inputs: MintInputs) -> None:
    """Send a setter only where the chain differs from the build."""
    f = contract.functions
    if f.baseURI().call() != inputs.base_uri:
        s.call(contract, "setBaseURI", [inputs.base_uri], value=inputs.base_uri)
    if f.contractURI().call() != inputs.contract_uri:
        s.call(contract, "setContractURI", [inputs.contract_uri], value=inputs.contract_uri)
    onchain_prov = bytes(f.provenanceHash().call()).hex()
    if onchain_prov == "0" * 64:
        s.call(contract, "setProvenanceHash", [bytes.fromhex(inputs.provenance_hash)], value=inputs.provenance_hash)
    elif onchain_prov != inputs.provenance_hash:
        raise UserError(f"on-chain provenance {onchain_prov} differs from provenance.json's {inputs.provenance_hash}",
                        hint="the provenance hash can be set once only: the images changed after it was set")
    if inputs.royalty_bps:
        receiver, amount = f.royaltyInfo(inputs.start_id, 10_000).call()
        if amount != inputs.royalty_bps or receiver.lower() != inputs.royalty_receiver.lower():
            s.call(contract, "setDefaultRoyalty", [inputs.royalty_receiver, inputs.royalty_bps],
                   value=[inputs.royalty_receiver, inputs.royalty_bps])


# ---------------------------------------------------------------- step 4: mint

def batch_gas(quantity: int) -> int:
    # Upper bound for a pipelined mintBatch: measured ~1,900/token + ~75k fixed (benchmarks/gas.py).
    return int((90_000 + 2_500 * quantity) * 1.2)


def mint_missing(s: Session, contract, inputs: MintInputs, *, batch_size: int) -> range:
    """Mint every planned id the chain lacks, several batches in flight; returns the ids minted now."""
    end = inputs.start_id + inputs.supply
    first_new = contract.functions.nextTokenId().call()
    next_id, in_flight = first_new, []
    while next_id < end or in_flight:
        while next_id < end and len(in_flight) < MAX_IN_FLIGHT:
            qty = min(batch_size, end - next_id)
            data = contract.encode_abi("mintBatch", args=[s.chain.to, qty, next_id])
            # Behind a batch not mined yet an estimate would revert (UnexpectedFirstId): give the gas.
            tx = TxParams(to=contract.address, data=data, gas=batch_gas(qty) if in_flight else None)
            entry = s.send(tx, "mint", first_id=next_id, quantity=qty)
            s.say(f"sent mint of ids {next_id}..{next_id + qty - 1} ({entry.hash})")
            in_flight.append(entry)
            next_id += qty
        s.settle(in_flight.pop(0))
    minted_to = contract.functions.nextTokenId().call()
    s.chain.minted = {"first_id": inputs.start_id, "count": minted_to - inputs.start_id}
    s.journal.save()
    return range(first_new, minted_to)


# ---------------------------------------------------------------- step 5: verify

def verify(s: Session, contract, inputs: MintInputs):
    from contracts.verify import verify_collection

    rep = verify_collection(s.w3, contract, inputs)
    s.chain.verified = rep.to_dict()
    s.journal.save()
    return rep


# ---------------------------------------------------------------- preflight: everything before the first transaction

def runtime_code(artifact_name: str) -> str:
    """The deployed (runtime) bytecode the artifact records, for the EIP-170 size check."""
    import json

    from contracts.compile import artifact_path

    try:
        raw = json.loads(artifact_path(artifact_name).read_text("utf-8"))
    except (OSError, ValueError):
        return ""
    code = raw.get("deployedBytecode") if isinstance(raw, dict) else None
    return code if isinstance(code, str) else ""


def check_recorded_contract(s: Session, inputs: MintInputs, refusals: Refusals) -> None:
    """The contract mint.json names must be this build's collection, owned by the signer."""
    from contracts.recover import read_deployment

    address = s.chain.contract_address
    move = "move mint.json away: the next run looks on chain for this collection's own contract"
    if not s.w3.eth.get_code(address):
        if not is_local_chain(s.chain_id):   # a reset local chain is deployed anew (ensure_contract)
            refusals.add(f"no contract at {address} on chain {s.chain_id}, though mint.json records it",
                         "the chain was reset, or mint.json is another chain's: " + move)
        return
    d = read_deployment(s.w3, s.artifact.abi, address)
    if d is None:
        refusals.add(f"the contract at {address} on chain {s.chain_id} (named by mint.json) is not a "
                     "RobozCollection: it does not answer name/maxSupply/provenanceHash", move)
        return
    if d.owner.lower() != s.signer.address.lower():
        refusals.add(f"{s.signer.address} does not own the contract at {address} (owner is {d.owner})",
                     "sign with the key of the owner (ROBOZ_PRIVATE_KEY or --keystore); this key is another account")
    if (d.name, d.symbol) != (inputs.name, inputs.symbol):
        refusals.add(f"mint.json names the contract at {address}, which is {d.name!r} ({d.symbol}), not this build's "
                     f"{inputs.name!r} ({inputs.symbol}): mint.json belongs to another collection", move)
        return
    for label, got, want in (("maxSupply", d.max_supply, inputs.supply), ("startTokenId", d.start_id, inputs.start_id)):
        if got != want:
            refusals.add(f"the contract at {address} has {label} {got}, but plan.json needs {want}",
                         "the plan changed after deploying: move mint.json away to deploy a new contract")
    if d.provenance not in ("0" * 64, inputs.provenance_hash):
        refusals.add(f"on-chain provenance {d.provenance} differs from provenance.json's {inputs.provenance_hash}",
                     "the provenance hash can be set once only: the images changed after it was set")


def find_earlier_deployment(s: Session, inputs: MintInputs, refusals: Refusals, *, new_contract: bool) -> None:
    """mint.json names no contract on this public chain: look for one the sender deployed before.

    Exactly one of this collection's, owned by the signer: it is resumed (mint.json is rewritten
    from the chain). Several, or contracts that look like this collection but differ: refused,
    each named, unless --new-contract.
    """
    from contracts.recover import scan_sender

    scan = scan_sender(s.w3, s.artifact.abi, s.signer.address)
    want = dict(name=inputs.name, symbol=inputs.symbol, supply=inputs.supply, start_id=inputs.start_id,
                provenance=inputs.provenance_hash)
    same = [d for d in scan.deployments if not d.differences(**want)]
    alike = [(d, d.differences(**want)) for d in scan.deployments if d.differences(**want)
             and (d.name == inputs.name or d.provenance == inputs.provenance_hash)]
    looked = (f"nonces {scan.nonces.start}..{scan.nonces.stop - 1} of {s.signer.address}" if len(scan.nonces)
              else f"{s.signer.address} has sent nothing yet")
    if scan.pending and not new_contract:
        # A deploy from a run whose mint.json is gone may be among them: its contract appears only once mined.
        refusals.add(f"mint.json names no contract on chain {s.chain_id}, and {s.signer.address} has {scan.pending} "
                     "transaction(s) sent but not mined yet (from an earlier run whose mint.json is lost?)",
                     "wait until they are mined (or dropped), then run the same command again: a contract they "
                     "deploy is then found and resumed")
        return
    if new_contract:
        if same or alike:
            s.say(f"--new-contract: deploying another contract although {len(same) + len(alike)} earlier one(s) "
                  f"of this collection exist ({', '.join(d.address for d in same + [a for a, _ in alike])})")
        return
    mine = [d for d in same if d.owner.lower() == s.signer.address.lower()]
    if len(same) == 1 and mine:
        d = mine[0]
        s.chain.contract_address, s.chain.deploy_tx = d.address, None
        s.say(f"mint.json names no contract on chain {s.chain_id}; found this collection's contract on chain: "
              f"{d.describe()}; resuming it (mint.json is rewritten from the chain)")
        return
    if same:
        refusals.add(f"mint.json names no contract on chain {s.chain_id}, and {len(same)} contract(s) of this collection "
                     f"already exist there from {s.signer.address}: " + "; ".join(d.describe() for d in same),
                     "restore mint.json (it names the one to use), or pass --new-contract to deploy yet another")
    elif alike:
        refusals.add(f"mint.json names no contract on chain {s.chain_id}, and {s.signer.address} deployed "
                     f"{len(alike)} contract(s) like this collection: "
                     + "; ".join(f"{d.describe()} differs in {', '.join(why)}" for d, why in alike),
                     "if one is this collection, restore mint.json; to deploy a new contract anyway, pass --new-contract")
    elif scan.partial:
        s.say(f"no earlier deployment of this collection in {looked} (older nonces not looked at)")


def check_recipient(s: Session, refusals: Refusals) -> None:
    """A contract recipient must say it takes ERC-721 tokens, or they would be stuck in it for good."""
    from eth_abi import encode

    to = s.chain.to
    if to.lower() == s.signer.address.lower():
        return
    code = bytes(s.w3.eth.get_code(to))
    if not code or code.startswith(EIP7702_PREFIX):
        return
    from contracts.recover import create_address

    minter = s.chain.contract_address or create_address(s.signer.address, s.signer.next_nonce())
    data = "0x" + (ERC721_RECEIVED + encode(["address", "address", "uint256", "bytes"],
                                             [minter, ZERO, 1, b""])).hex()
    try:
        answer = bytes(s.w3.eth.call({"from": minter, "to": to, "data": data}))
    except Exception:   # a revert: it refuses tokens
        answer = b""
    if answer[:4] != ERC721_RECEIVED:
        refusals.add(f"the recipient {to} is a contract that does not accept ERC-721 tokens (no onERC721Received): "
                     "tokens minted to it could never be moved",
                     "mint to a wallet address (--to), or to a contract that implements IERC721Receiver")


def settings_to_send(s: Session, inputs: MintInputs) -> tuple[str, ...]:
    """The setters a run would send to the contract mint.json names (reads only)."""
    if s.chain.contract_address is None:
        return ("setProvenanceHash",)
    if not s.w3.eth.get_code(s.chain.contract_address):
        return ("setProvenanceHash",)       # a reset local chain: deployed anew
    f = s.w3.eth.contract(address=s.chain.contract_address, abi=s.artifact.abi).functions
    out = []
    if f.baseURI().call() != inputs.base_uri:
        out.append("setBaseURI")
    if f.contractURI().call() != inputs.contract_uri:
        out.append("setContractURI")
    if bytes(f.provenanceHash().call()).hex() == "0" * 64:
        out.append("setProvenanceHash")
    if inputs.royalty_bps:
        receiver, amount = f.royaltyInfo(inputs.start_id, 10_000).call()
        if amount != inputs.royalty_bps or receiver.lower() != (inputs.royalty_receiver or "").lower():
            out.append("setDefaultRoyalty")
    return tuple(out)


def preflight(s: Session, inputs: MintInputs, refusals: Refusals, *, mint_at_deploy: bool, chunk: int,
              batch_size: int, confirm_possible: bool, require_confirmation: bool,
              new_contract: bool) -> MintSummary | None:
    """Every check a transaction needs, before the first one; problems go into `refusals`.
    Returns the summary of what would be sent (None when it could not be estimated)."""
    local = is_local_chain(s.chain_id)
    known = len(refusals.problems)      # the guards' and the key's: the estimate below still runs with them
    if s.chain.contract_address is None:
        check_code_size(s.artifact.name, runtime_code(s.artifact.name), s.artifact.bytecode, refusals)
        if not local:
            find_earlier_deployment(s, inputs, refusals, new_contract=new_contract)
    if s.chain.contract_address is not None:
        check_recorded_contract(s, inputs, refusals)
    check_recipient(s, refusals)
    if len(refusals.problems) > known:
        # A contract that is not ours, or a recipient that cannot take tokens: estimating against it says nothing.
        return None
    try:
        summary = refusals.attempt(lambda: summarize(s, inputs, mint_at_deploy=mint_at_deploy, chunk=chunk,
                                                     batch_size=batch_size))
    except ValueError:   # web3 refusing an argument already refused above (a malformed address)
        if not refusals:
            raise
        return None
    if summary is None:
        return None
    sends = summary.tokens_to_mint or summary.settings_to_send or s.chain.contract_address is None
    if sends and summary.balance_wei < summary.worst_cost_wei:
        from web3 import Web3

        refusals.add(f"insufficient funds: {s.signer.address} has {Web3.from_wei(summary.balance_wei, 'ether')} ETH on "
                     f"chain {s.chain_id}, this run needs up to {Web3.from_wei(summary.worst_cost_wei, 'ether')} ETH "
                     f"({summary.estimated_gas:,} gas at most {summary.max_fee_wei / 10**9:.3f} gwei; "
                     f"about {Web3.from_wei(summary.estimated_cost_wei, 'ether')} ETH at today's price)",
                     "fund the account (on Sepolia: a faucet) and re-run" +
                     ("" if local else "; progress so far is kept in mint.json"))
    if sends and not local and not confirm_possible and require_confirmation:
        refusals.add(f"no terminal to confirm the transactions to chain {s.chain_id} (stdin is not a terminal)",
                     "pass --yes to send without asking (cron, CI), or run it in a terminal")
    return summary


# ---------------------------------------------------------------- the confirmation

def summarize(s: Session, inputs: MintInputs, *, mint_at_deploy: bool, chunk: int, batch_size: int) -> MintSummary:
    """Estimated gas and cost of what this run will send, for the person who confirms it."""
    from contracts.tx import fee_fields

    gas = 0
    address = s.chain.contract_address
    if address is not None and not s.w3.eth.get_code(address):
        address = None   # a reset local chain: deployed anew
    if address is None:
        data = constructor_data(s, inputs, mint_to=s.chain.to if mint_at_deploy else None, chunk=chunk)
        gas += s.signer.estimate(TxParams(data=data), "deploy")
        gas += 3 * SETTER_GAS  # provenance at least; URIs when publish.json changed them
        missing = 0 if mint_at_deploy else inputs.supply
    else:
        contract = s.w3.eth.contract(address=address, abi=s.artifact.abi)
        missing = inputs.start_id + inputs.supply - contract.functions.nextTokenId().call()
    full, rest = divmod(missing, batch_size)
    gas += full * batch_gas(batch_size) + (batch_gas(rest) if rest else 0)
    settings = settings_to_send(s, inputs)
    if address is not None:
        gas += len(settings) * SETTER_GAS
    fees = fee_fields(s.w3)
    tip = fees.get("maxPriorityFeePerGas", 0)
    price = (fees["maxFeePerGas"] - tip) // 2 + tip if "maxFeePerGas" in fees else fees["gasPrice"]
    return MintSummary(
        network=s.target.network, chain_id=s.chain_id, rpc=redact_url(s.url), sender=s.signer.address,
        contract=address or f"new {s.artifact.name}" + (" (all tokens minted at deploy)" if mint_at_deploy else ""),
        tokens_to_mint=inputs.supply if address is None else missing, tokens_total=inputs.supply,
        recipient=s.chain.to, estimated_gas=gas, gas_price_wei=price,
        balance_wei=s.w3.eth.get_balance(s.signer.address),
        max_fee_wei=fees.get("maxFeePerGas", price), settings_to_send=settings)


# ---------------------------------------------------------------- the command's entry point

def check_addresses(inputs: MintInputs, to: str | None, refusals: Refusals, *,
                    allow_unchecksummed: bool) -> tuple[str | None, MintInputs]:
    """--to and the manifest's royalty receiver: checked before anything connects.

    Returns --to checksummed, and the inputs with the receiver checksummed (web3 takes no other
    form; a refused one is still estimated with, so the run's other problems are found too)."""
    import re
    from dataclasses import replace

    from eth_utils import to_checksum_address

    recipient, original = None, inputs
    if inputs.royalty_receiver and re.fullmatch(r"0x[0-9a-fA-F]{40}", inputs.royalty_receiver):
        inputs = replace(inputs, royalty_receiver=to_checksum_address(inputs.royalty_receiver))
    if to is not None:
        try:
            recipient = checked_address(to, "--to", allow_unchecksummed=allow_unchecksummed)
        except AddressProblem as e:
            refusals.add(e.message, e.hint)
    given = original.royalty_receiver
    if inputs.royalty_bps:
        what = "collection.royalties.receiver (manifest, in plan.json)"
        if not inputs.royalty_receiver:
            refusals.add(f"{what} is missing though royalties are {inputs.royalty_bps} bps",
                         "set collection.royalties.receiver in the manifest and run `plan` again")
        else:
            try:
                checked_address(given, what, allow_unchecksummed=allow_unchecksummed)
            except AddressProblem as e:
                refusals.add(e.message, e.hint.replace("copy the address again", "write the address in the manifest")
                             + "; then run `roboz-collection plan` again")
    return recipient, inputs


def mint_build(
    build_dir: Path,
    *,
    network: str | None = None,
    rpc_url: str | None = None,
    allow_mainnet: bool = False,
    to: str | None = None,
    batch_size: int | None = None,
    keystore: Path | None = None,
    keep_chain: bool = False,
    receipt_timeout: float | None = None,
    mint_at_deploy: bool = False,
    overrides: Overrides = Overrides(),
    confirm: Callable[[MintSummary], bool] | None = None,
    require_confirmation: bool = False,
    allow_unchecksummed: bool = False,
    new_contract: bool = False,
    log: Callable[[str], None] | None = None,
) -> MintReport:
    """Check the files, connect, ensure the contract, sync settings, mint what is missing, verify.

    network: "local" (default without rpc_url: the build's anvil, state in BUILD/chain/, stopped
    at the end unless keep_chain), "sepolia" (SEPOLIA_RPC_URL or rpc_url), or None with rpc_url
    for any chain. batch_size: tokens per mint transaction, or with mint_at_deploy tokens per
    ERC-2309 ConsecutiveTransfer (default 100 either way; at most 5,000 at deploy). confirm: asked with a summary
    before anything is sent to a non-local chain (the CLI passes one on a terminal without --yes).
    require_confirmation: without `confirm`, refuse to send anything to a non-local chain (the CLI
    off a terminal without --yes). allow_unchecksummed: take all-lower/upper-case addresses.
    new_contract: deploy although an earlier deployment of this collection was found on chain.

    Every refusal (addresses, guards, key, contract, balance, confirmation) is collected and
    raised together before the first transaction.
    """
    from contracts.keys import key_configured

    build_dir = Path(build_dir)
    say = log or (lambda s: None)
    # With mint_at_deploy the batch is the ERC-2309 chunk. Not ERC721A's 5,000 by default: the first
    # transfer of a token scans back to its chunk's first id, ~11M gas at the end of a 5,000 chunk
    # against ~0.3M at the end of a 100 chunk (benchmarks/gas.py); 100 keeps later transfers as
    # cheap as after a batch mint and still saves most of the mint's gas.
    batch = batch_size if batch_size is not None else DEFAULT_BATCH
    if batch < 1:
        raise UserError("batch size must be at least 1", exit_code=2)
    if mint_at_deploy and batch > ERC2309_CHUNK:
        raise UserError(f"--batch-size {batch} is above ERC721A's ERC-2309 limit of {ERC2309_CHUNK} tokens per call",
                        exit_code=2)
    target = choose_target(network, rpc_url, key_given=key_configured(keystore))

    # Before anything starts: the build's files are what `metadata` recorded, mint.json is readable.
    plan = load_plan(build_dir)
    uris = read_uri_files(build_dir)
    inputs = read_inputs(build_dir, plan, uris)
    refusals = Refusals()
    file_problems: list[tuple[str, str]] = []
    check_build_files(build_dir, plan, uris, file_problems)   # nothing when every file is as `metadata` left it
    for msg, hint in file_problems:
        refusals.add(msg, hint)
    if inputs.uri_source == "cids.json":
        say("publish.json not found: using base_uri/contract_uri from cids.json (computed offline; make sure they get pinned)")
    journal = load_journal(build_dir)
    recipient, inputs = check_addresses(inputs, to, refusals, allow_unchecksummed=allow_unchecksummed)
    if plan.sale is not None:
        # A drop's tokens are the collectors' to mint; this command would hand them all to the artist.
        refusals.add("this build is a drop (its manifest has a `sale:` section): collectors mint its tokens, "
                     "and `mint` would give every remaining token to the artist",
                     f"run `roboz-collection sale {build_dir}` (it mints the reserve to the artist), or remove "
                     "`sale:` from the manifest and plan again to mint the whole collection yourself")
    if refusals and target.url is None:
        refusals.raise_if_any()   # the local chain adds nothing to learn: no anvil for a run that stops here

    node = None
    if target.url is None:
        from contracts.chain import local_chain

        node, _ = local_chain(build_dir, tied_to_parent=not keep_chain)
    try:
        s, notes = connect(build_dir, target, target.url or node.url, journal, allow_mainnet=allow_mainnet,
                           keystore=keystore, receipt_timeout=receipt_timeout, recipient=recipient, plan=plan,
                           uris=uris, overrides=overrides, say=say, refusals=refusals)
        summary = preflight(s, inputs, refusals, mint_at_deploy=mint_at_deploy, chunk=batch, batch_size=batch,
                            confirm_possible=confirm is not None, require_confirmation=require_confirmation,
                            new_contract=new_contract)
        refusals.raise_if_any()
        if confirm is not None and not is_local_chain(s.chain_id) and summary is not None:
            if summary.tokens_to_mint or summary.settings_to_send or s.chain.contract_address is None:
                if not confirm(summary):
                    raise UserError("cancelled: nothing was sent", exit_code=1)
        s.start_recording()
        entry_before, sent_before = s.chain, len(s.chain.txs)
        contract = ensure_contract(s, inputs, mint_at_deploy=mint_at_deploy, chunk=batch)
        sync_settings(s, contract, inputs)
        new = mint_missing(s, contract, inputs, batch_size=batch)
        rep = verify(s, contract, inputs)
    finally:
        if node is not None and not keep_chain:
            from contracts.chain import stop_local_chain

            stop_local_chain(build_dir)
    new_txs = s.chain.txs[sent_before:] if s.chain is entry_before else s.chain.txs   # a reset local chain: all new
    minted_to = inputs.start_id + s.chain.minted["count"]
    return MintReport(
        network=target.network, rpc=redact_url(s.url), chain_id=s.chain_id, contract_address=contract.address,
        owner=s.signer.address, to=s.chain.to, minted_ids=range(inputs.start_id, minted_to),
        newly_minted=range(inputs.start_id, minted_to) if s.chain.mint_at_deploy and any(
            t.kind == "deploy" for t in new_txs) else new,
        sample_token_uri=rep.sample_token_uri, uri_source=inputs.uri_source, txs_sent=len(new_txs),
        gas_used=sum(t.gas_used or 0 for t in new_txs), verified=rep.ok, problems=rep.problems,
        mint_json=s.journal.path, mint_at_deploy=s.chain.mint_at_deploy, notes=notes,
    )
