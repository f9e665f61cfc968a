"""A drop on chain: `sale` (contract in sale mode, reserve, phases), `reveal` and `withdraw`.

Every transaction goes through mint's Session (contracts/mint.py): its hash is journaled in
mint.json before it is broadcast, and a re-run settles what a killed run left behind, then
reads the chain and sends only what differs. What the transactions produced is written to
sale.json (buildfiles/sale.py), as read back from the chain. So `sale` run twice sends nothing
the second time, and a crash at any point is finished by running it again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from buildfiles.chains import is_local_chain
from buildfiles.errors import UserError
from buildfiles.mint_journal import load_journal
from buildfiles.plan import load_plan
from buildfiles.sale import RevealRecord, SaleChain, SalePhase, Withdrawal, open_sale
from contracts.guards import Overrides
from contracts.sale import PhaseConfig, read_sale_state, revealed_token_id, sale_contract

EIP7702_PREFIX = bytes.fromhex("ef0100")   # an account whose code only delegates: a wallet still
ZERO_ROOT = "0x" + "00" * 32
BLOCKHASH_WINDOW = 256


@dataclass(frozen=True)
class DropPhase:
    name: str
    start: int                  # unix seconds
    price: str                  # as the manifest wrote it ("0" is free on purpose, "0.0" is not)
    price_wei: int
    per_wallet: int
    supply: int                 # 0: no cap of its own
    allowlist: tuple[tuple[str, int], ...] | None   # (address, allowance); None: a public phase


@dataclass(frozen=True)
class DropConfig:
    payout: str
    reserve: int
    fair_reveal: bool
    placeholder_uri: str        # "" when reveal is none
    phases: tuple[DropPhase, ...]


@dataclass
class DropReport:
    chain_id: int
    contract_address: str
    txs_sent: int
    gas_used: int
    sale: SaleChain
    sale_json: Path
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- pure pieces


def phase_configs(cfg: DropConfig) -> tuple[list[PhaseConfig], dict[str, dict[str, Any]]]:
    """The contract's phases and, for allowlist phases, the tree dumps the mint page proves against."""
    from contracts.merkle import StandardMerkleTree

    out, trees = [], {}
    for i, p in enumerate(cfg.phases):
        root = ZERO_ROOT
        if p.allowlist is not None and p.allowlist:
            tree = StandardMerkleTree.of(list(p.allowlist))
            root = tree.root
            trees[str(i)] = tree.dump()
        out.append(PhaseConfig(name=p.name, start=p.start, price_wei=p.price_wei, per_wallet=p.per_wallet,
                               supply=p.supply, merkle_root=root))
    return out, trees


def _utc(ts: int) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ---------------------------------------------------------------- guards


def payout_problem(w3, payout: str, sender: str) -> str | None:
    """Why `payout` cannot receive ETH (a contract whose receive/fallback reverts), or None.
    A wallet (no code, or EIP-7702 delegation code) always can."""
    code = bytes(w3.eth.get_code(payout))
    if not code or code.startswith(EIP7702_PREFIX):
        return None
    try:
        w3.eth.call({"from": sender, "to": payout, "value": 1, "data": "0x"})
    except Exception:
        return (f"the payout address {payout} is a contract that refuses plain ETH transfers (no receive or "
                "payable fallback): withdraw would revert with PayoutRejected and the proceeds would stay locked")
    return None


def sale_problems(cfg: DropConfig, *, chain_time: int, public: bool, will_set: bool) -> list[tuple[str, str]]:
    """What `sale` refuses to put on a public chain: (message, hint) each. Phases are only judged
    when they are about to be sent: on a re-run after the sale opened, a start in the past is expected."""
    if not public:
        return []
    out = []
    for i, p in enumerate(cfg.phases):
        if will_set and p.start <= chain_time:
            out.append((f"phase {i + 1} ({p.name}) starts at {_utc(p.start)}, which is in the past "
                        f"(the chain's clock says {_utc(chain_time)})",
                        "move its start into the future in the manifest's sale.phases and run `plan` again"))
        if p.price_wei == 0 and p.price != "0":
            out.append((f"phase {i + 1} ({p.name}) has price \"{p.price}\", which is 0 ETH",
                        "write price: \"0\" if the phase is free on purpose, or give the price you meant"))
        if p.allowlist is not None and not p.allowlist:
            out.append((f"phase {i + 1} ({p.name}) has an empty allowlist: nobody could mint in it",
                        "add addresses to its CSV, or drop `allowlist:` to make the phase public"))
    return out


def placeholder_problems(build_dir: Path, cfg: DropConfig) -> list[tuple[str, str]]:
    """A fair reveal's placeholder must be pinned before its URI goes on a public chain."""
    from buildfiles.published import load_publish

    if not cfg.fair_reveal:
        return []
    cid = cfg.placeholder_uri.removeprefix("ipfs://").split("/")[0]
    rec = load_publish(build_dir)
    if rec is not None and rec.pins and rec.extras.get("placeholder") == cid:
        return []
    return [(f"the placeholder {cfg.placeholder_uri} is not pinned by any IPFS provider in publish.json: "
             "until the reveal every token would show nothing",
             "run `roboz-collection publish BUILD_DIR --to kubo|pinata` (it pins placeholder/), or pass --allow-unpinned")]


def raise_all(problems: list[tuple[str, str]]) -> None:
    if not problems:
        return
    if len(problems) == 1:
        raise UserError(problems[0][0] + "; nothing was sent", hint=problems[0][1], exit_code=2)
    lines = "; ".join(f"({i + 1}) {m}" for i, (m, _h) in enumerate(problems))
    hints = "; ".join(f"({i + 1}) {h}" for i, (_m, h) in enumerate(problems))
    raise UserError(f"{len(problems)} problems, nothing was sent: {lines}", hint=hints, exit_code=2)


# ---------------------------------------------------------------- the session (shared with mint)


@dataclass
class Opened:
    s: Any            # contracts.mint.Session
    inputs: Any       # contracts.inputs.MintInputs
    node: Any         # the build's local anvil when this run started or reused it
    sent_before: int
    entry: Any
    notes: list[str]


def open_session(build_dir: Path, *, network: str | None, rpc_url: str | None, keystore: Path | None,
                 allow_mainnet: bool, overrides: Overrides, receipt_timeout: float | None,
                 say: Callable[[str], None], check_files: bool = True) -> Opened:
    from contracts.inputs import check_build_files, read_inputs, read_uri_files
    from contracts.keys import key_configured
    from contracts.mint import connect
    from contracts.network import choose_target

    target = choose_target(network, rpc_url, key_given=key_configured(keystore))
    plan = load_plan(build_dir)
    uris = read_uri_files(build_dir)
    inputs = read_inputs(build_dir, plan, uris)
    if check_files:
        check_build_files(build_dir, plan, uris)
    journal = load_journal(build_dir)
    node = None
    if target.url is None:
        from contracts.chain import local_chain

        node, _ = local_chain(build_dir)
    try:
        s, notes = connect(build_dir, target, target.url or node.url, journal, allow_mainnet=allow_mainnet,
                           keystore=keystore, receipt_timeout=receipt_timeout, recipient=None, plan=plan, uris=uris,
                           overrides=overrides, say=say)
    except BaseException:
        close(build_dir, node, keep_chain=False)
        raise
    return Opened(s, inputs, node, len(s.chain.txs), s.chain, notes)


def open_after_deploy(build_dir: Path, *, network: str | None, rpc_url: str | None, keystore: Path | None,
                      allow_mainnet: bool, receipt_timeout: float | None, say: Callable[[str], None]) -> Opened:
    """The session of an owner's call on a contract already deployed (reveal, withdraw): the build's renders and
    pins were judged when it was deployed, so test renders and unpinned files are not refused again here."""
    return open_session(build_dir, network=network, rpc_url=rpc_url, keystore=keystore, allow_mainnet=allow_mainnet,
                        overrides=Overrides(test_renders=True, unpinned=True), receipt_timeout=receipt_timeout, say=say,
                        check_files=False)


def start_recording(s) -> None:
    """A chain new to mint.json goes into it before the first transaction (mint's Session may hold it in memory)."""
    if hasattr(s, "start_recording"):
        s.start_recording()
    elif s.journal.chain(s.chain_id) is not s.chain:
        s.chain = s.journal.add_chain(s.chain)


def close(build_dir: Path, node, *, keep_chain: bool) -> None:
    if node is not None and not keep_chain:
        from contracts.chain import stop_local_chain

        stop_local_chain(build_dir)


def new_txs(o: Opened) -> list:
    return o.s.chain.txs[o.sent_before:] if o.s.chain is o.entry else list(o.s.chain.txs)


def recorded_contract(o: Opened, what: str):
    address = o.s.chain.contract_address
    if address is None or not o.s.w3.eth.get_code(address):
        raise UserError(f"no sale contract for this build on chain {o.s.chain_id}",
                        hint=f"run `roboz-collection sale BUILD_DIR` on this chain before `{what}`", exit_code=2)
    return sale_contract(o.s.w3, address)


# ---------------------------------------------------------------- sale


def onchain_sale(contract) -> tuple[list[tuple], str, bool, str]:
    f = contract.functions
    phases = []
    for i in range(f.phaseCount().call()):
        (start, price, per_wallet, supply, root), _minted = f.phaseAt(i).call()
        phases.append((start, price, per_wallet, supply, "0x" + bytes(root).hex()))
    return phases, f.payout().call(), f.fairReveal().call(), f.placeholderURI().call()


def wanted_sale(cfg: DropConfig, configs: list[PhaseConfig]) -> tuple[list[tuple], str, bool, str]:
    phases = [(p.start, p.price_wei, p.per_wallet, p.supply, p.merkle_root) for p in configs]
    return phases, cfg.payout, cfg.fair_reveal, cfg.placeholder_uri


def sale_build(build_dir: Path, cfg: DropConfig, *, network: str | None = None, rpc_url: str | None = None,
               keystore: Path | None = None, allow_mainnet: bool = False, overrides: Overrides = Overrides(),
               confirm: Callable[[list[str]], bool] | None = None, yes: bool = False, keep_chain: bool = False,
               receipt_timeout: float | None = None, log: Callable[[str], None] | None = None) -> DropReport:
    """Deploy (or reuse) the contract, mint the reserve to the artist, set the sale, write sale.json."""
    build_dir = Path(build_dir)
    say = log or (lambda _m: None)
    o = open_session(build_dir, network=network, rpc_url=rpc_url, keystore=keystore, allow_mainnet=allow_mainnet,
                     overrides=overrides, receipt_timeout=receipt_timeout, say=say)
    s, inputs = o.s, o.inputs
    try:
        configs, trees = phase_configs(cfg)
        if cfg.reserve > inputs.supply:
            raise UserError(f"reserve {cfg.reserve} is more than the {inputs.supply} tokens planned", exit_code=2)
        contract = None
        if s.chain.contract_address and s.w3.eth.get_code(s.chain.contract_address):
            contract = sale_contract(s.w3, s.chain.contract_address)
        will_set = contract is None or onchain_sale(contract) != wanted_sale(cfg, configs)
        if contract is not None and not onchain_sale(contract)[0]:
            minted = contract.functions.nextTokenId().call() - inputs.start_id
            if minted > cfg.reserve:
                raise UserError(f"the contract at {contract.address} already holds {minted} minted tokens, more than "
                                f"the reserve of {cfg.reserve}: `mint` minted them to the artist, so there is little "
                                "or nothing left to sell", hint="raise sale.reserve to match, or move mint.json away "
                                "to deploy a new contract for the drop", exit_code=2)
        local = is_local_chain(s.chain_id)
        problems = sale_problems(cfg, chain_time=s.w3.eth.get_block("latest")["timestamp"], public=not local,
                                 will_set=will_set)
        if not local and will_set and not overrides.unpinned:
            problems += placeholder_problems(build_dir, cfg)
        why = payout_problem(s.w3, cfg.payout, s.signer.address)
        if why:
            problems.append((why, "name a wallet, or a contract with a payable receive(), as sale.payout"))
        raise_all(problems)
        if not local and (will_set or contract is None):
            lines = [f"chain      {s.chain_id} ({s.target.network})",
                     f"contract   {s.chain.contract_address or 'new ' + s.artifact.name}",
                     f"reserve    {cfg.reserve} tokens to {s.chain.to}",
                     *[f"phase {i + 1}    {p.name}: from {_utc(p.start)}, {p.price} ETH, "
                       f"{'allowlist of ' + str(len(p.allowlist)) if p.allowlist is not None else 'public'}, "
                       f"{p.per_wallet} per wallet" + (f", {p.supply} at most" if p.supply else "")
                       for i, p in enumerate(cfg.phases)],
                     f"payout     {cfg.payout}"]
            if not yes and (confirm is None or not confirm(lines)):
                raise UserError("cancelled: nothing was sent" if confirm is not None else
                                "no terminal to confirm the transactions (stdin is not a terminal); nothing was sent",
                                hint=None if confirm is not None else "pass --yes to send without asking", exit_code=1)
        from contracts.mint import ensure_contract, sync_settings

        start_recording(s)
        contract = sale_contract(s.w3, ensure_contract(s, inputs, mint_at_deploy=False, chunk=100).address)
        sync_settings(s, contract, inputs)   # base URI, contractURI, provenance (setSale needs it), royalties
        mint_reserve(s, contract, inputs.start_id, cfg.reserve)
        if onchain_sale(contract) != wanted_sale(cfg, configs):
            if _started(s, contract):
                raise UserError("the sale on chain has already opened, so its phases can no longer change "
                                "(the contract refuses: SaleAlreadyStarted)",
                                hint="put the manifest's sale back as it was, or deploy a new contract for a new drop",
                                exit_code=2)
            from contracts.sale import set_sale_call
            from contracts.tx import TxParams

            fn = set_sale_call(contract, configs, cfg.payout, cfg.fair_reveal, cfg.placeholder_uri)
            entry = s.send(TxParams(to=contract.address, data=contract.encode_abi(fn.fn_name, args=list(fn.args))),
                           "setSale",
                           value={"phases": len(configs), "payout": cfg.payout, "fair_reveal": cfg.fair_reveal})
            s.settle(entry)
        sale = write_sale_json(build_dir, s, contract, cfg, trees, node_url=(o.node.url if o.node else s.url))
        txs = new_txs(o)
        return DropReport(s.chain_id, contract.address, len(txs), sum(t.gas_used or 0 for t in txs), sale,
                          build_dir / "sale.json", o.notes)
    finally:
        close(build_dir, o.node, keep_chain=keep_chain)


def _started(s, contract) -> bool:
    phases = onchain_sale(contract)[0]
    return bool(phases) and s.w3.eth.get_block("latest")["timestamp"] >= phases[0][0]


def mint_reserve(s, contract, start_id: int, reserve: int) -> None:
    """The artist's reserve, once: mintBatch takes the id it must start at, so a resend reverts."""
    from contracts.tx import TxParams

    next_id = contract.functions.nextTokenId().call()
    missing = start_id + reserve - next_id
    if missing <= 0:
        return
    data = contract.encode_abi("mintBatch", args=[s.chain.to, missing, next_id])
    entry = s.send(TxParams(to=contract.address, data=data), "mint", first_id=next_id, quantity=missing)
    s.say(f"minting the reserve: ids {next_id}..{next_id + missing - 1} to {s.chain.to}")
    s.settle(entry)


def write_sale_json(build_dir: Path, s, contract, cfg: DropConfig | None, trees: dict[str, Any] | None,
                    node_url: str | None, **changes: Any) -> SaleChain:
    """sale.json's entry for this chain, as the chain has it now (names and trees from the build)."""
    state = read_sale_state(s.w3, contract.address)
    record = open_sale(build_dir)
    old = record.chain(s.chain_id)
    if old is not None and old.contract_address != contract.address:
        old = None   # a new contract (a reset local chain): the old entry described another one
    names = [p.name for p in cfg.phases] if cfg else [p.name for p in (old.phases if old else [])]
    phases = [SalePhase(name=names[p.index] if p.index < len(names) else f"phase {p.index + 1}", start=p.start,
                        price_wei=p.price_wei, per_wallet=p.per_wallet, supply=p.supply, merkle_root=p.merkle_root,
                        minted=p.minted) for p in state.phases]
    entry = SaleChain(
        chain_id=s.chain_id, network=s.target.network, contract_address=contract.address,
        owner=contract.functions.owner().call(), payout=state.payout,
        reserve=cfg.reserve if cfg else (old.reserve if old else 0), fair_reveal=state.fair_reveal,
        placeholder_uri=state.placeholder_uri, max_supply=state.max_supply, start_id=state.start_token_id,
        phases=phases, trees=trees if trees is not None else (old.trees if old else {}), state=state.to_dict(),
        rpc_url=node_url if is_local_chain(s.chain_id) else None,
        reveal=changes.get("reveal", old.reveal if old else None),
        withdrawals=(old.withdrawals if old else []) + changes.get("withdrawals", []), updated_at=_now())
    if old is not None and _same(old, entry):
        return old
    record.put(entry)
    record.save()
    return entry


def _same(a: SaleChain, b: SaleChain) -> bool:
    da, db = a.to_dict(), b.to_dict()
    for d in (da, db):
        d.pop("updated_at")
        d["state"] = {k: v for k, v in d["state"].items() if k != "block_timestamp"}
    return da == db


# ---------------------------------------------------------------- reveal


@dataclass
class RevealReport:
    chain_id: int
    contract_address: str
    offset: int
    block: int | None
    checked: int                # tokens whose tokenURI was checked
    txs_sent: int
    sale_json: Path


def wait_for_block(s, number: int, *, local: bool, timeout: float = 1800.0) -> None:
    """Until block `number` is mined: a local chain mines it now (evm_mine), a public one is waited for."""
    deadline = time.monotonic() + timeout
    while s.w3.eth.block_number < number:
        if local:
            s.w3.provider.make_request("evm_mine", [])
            continue
        if time.monotonic() > deadline:
            raise UserError(f"block {number} not mined after {timeout:.0f} s",
                            hint="run `reveal` again: the commitment is on chain and is reused")
        time.sleep(2.0)


def reveal_build(build_dir: Path, *, network: str | None = None, rpc_url: str | None = None,
                 keystore: Path | None = None, allow_mainnet: bool = False, keep_chain: bool = False,
                 receipt_timeout: float | None = None, log: Callable[[str], None] | None = None) -> RevealReport:
    """commitReveal (unless a commitment is still usable), wait for its block, reveal, then check every
    minted token's tokenURI against metadata/ with the offset applied."""
    from contracts.tx import TxParams

    build_dir = Path(build_dir)
    say = log or (lambda _m: None)
    o = open_after_deploy(build_dir, network=network, rpc_url=rpc_url, keystore=keystore, allow_mainnet=allow_mainnet,
                          receipt_timeout=receipt_timeout, say=say)
    s = o.s
    try:
        contract = recorded_contract(o, "reveal")
        f = contract.functions
        local = is_local_chain(s.chain_id)
        start_recording(s)
        block = None
        if f.fairReveal().call() and not f.revealed().call():
            committed = f.revealBlock().call()
            now = s.w3.eth.block_number
            if committed == 0 or now > committed + BLOCKHASH_WINDOW:
                if committed:
                    say(f"the committed block {committed} is out of the 256-block window: committing again")
                s.settle(s.send(TxParams(to=contract.address, data=contract.encode_abi("commitReveal", args=[])),
                                "commitReveal"))
                committed = f.revealBlock().call()
            say(f"reveal drawn from the hash of block {committed}")
            wait_for_block(s, committed + 1, local=local)
            s.settle(s.send(TxParams(to=contract.address, data=contract.encode_abi("reveal", args=[])), "reveal"))
            block = committed
        elif f.fairReveal().call():
            block = f.revealBlock().call()
        offset = f.revealOffset().call()
        checked = check_token_uris(build_dir, contract, o.inputs.base_uri, offset)
        write_sale_json(build_dir, s, contract, None, None, o.node.url if o.node else s.url,
                        reveal=RevealRecord(revealed=bool(f.revealed().call()) or not f.fairReveal().call(),
                                            offset=offset, block=block, checked=True))
        return RevealReport(s.chain_id, contract.address, offset, block, checked, len(new_txs(o)),
                            build_dir / "sale.json")
    finally:
        close(build_dir, o.node, keep_chain=keep_chain)


def check_token_uris(build_dir: Path, contract, base_uri: str, offset: int) -> int:
    """Every minted token's tokenURI names the metadata file the offset maps it to, and that file exists."""
    f = contract.functions
    start, n = f.startTokenId().call(), f.maxSupply().call()
    minted_to = f.nextTokenId().call()
    base = f.baseURI().call()
    if base != base_uri:
        raise UserError(f"the contract's base URI is {base}, the build's is {base_uri}",
                        hint="run `roboz-collection sale BUILD_DIR` again to update it")
    problems = []
    for t in range(start, minted_to):
        shown = revealed_token_id(t, start, n, offset)
        want = f"{base_uri}{shown}.json"
        got = f.tokenURI(t).call()
        if got != want:
            problems.append(f"token {t}: tokenURI {got}, expected {want}")
        elif not (build_dir / "metadata" / f"{shown}.json").is_file():
            problems.append(f"token {t} shows metadata/{shown}.json, which the build lacks")
    if problems:
        raise UserError(f"{len(problems)} tokenURIs do not match the build: " + "; ".join(problems[:3]))
    return minted_to - start


# ---------------------------------------------------------------- withdraw


@dataclass
class WithdrawReport:
    chain_id: int
    contract_address: str
    payout: str
    amount_wei: int
    tx: str | None
    sale_json: Path


def withdraw_build(build_dir: Path, *, network: str | None = None, rpc_url: str | None = None,
                   keystore: Path | None = None, allow_mainnet: bool = False, keep_chain: bool = False,
                   receipt_timeout: float | None = None, log: Callable[[str], None] | None = None) -> WithdrawReport:
    """Send the contract's whole balance to its payout address; nothing is sent when there is none."""
    from contracts.tx import TxParams

    build_dir = Path(build_dir)
    say = log or (lambda _m: None)
    o = open_after_deploy(build_dir, network=network, rpc_url=rpc_url, keystore=keystore, allow_mainnet=allow_mainnet,
                          receipt_timeout=receipt_timeout, say=say)
    s = o.s
    try:
        contract = recorded_contract(o, "withdraw")
        payout = contract.functions.payout().call()
        balance = s.w3.eth.get_balance(contract.address)
        tx, amount = None, 0
        if balance == 0:
            say("the contract holds no ETH: nothing to withdraw")
        else:
            start_recording(s)
            entry = s.send(TxParams(to=contract.address, data=contract.encode_abi("withdraw", args=[])), "withdraw")
            s.settle(entry)
            receipt = s.w3.eth.get_transaction_receipt(entry.hash)
            events = contract.events.Withdrawn().process_receipt(receipt)
            amount = sum(int(e["args"]["amount"]) for e in events)
            tx = entry.hash
        write_sale_json(build_dir, s, contract, None, None, o.node.url if o.node else s.url,
                        withdrawals=[Withdrawal(tx, amount, payout)] if tx else [])
        return WithdrawReport(s.chain_id, contract.address, payout, amount, tx, build_dir / "sale.json")
    finally:
        close(build_dir, o.node, keep_chain=keep_chain)
