"""Crash safety: SIGKILL `roboz-collection mint` between sending and the receipt, re-run,
and count Transfer events: every planned id minted exactly once, none beyond the plan.

anvil runs with --no-mining, so transactions stay pending until the test mines them.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from web3 import Web3

from buildfiles.errors import UserError
from contracts.chain import rpc_call
from contracts.compile import load_artifact
from contracts.keys import KEY_ENV, anvil_account
from contracts.mint import mint_build
from tests.fixtures_chain import make_build_dir, mint_entry

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ZERO_TOPIC = "0x" + "00" * 32
TRANSFER = Web3.keccak(text="Transfer(address,address,uint256)").hex()


def _txs(build):
    p = build / "mint.json"
    if not p.exists():
        return []
    try:
        return mint_entry(build)["txs"]
    except (json.JSONDecodeError, KeyError):
        return []


def start_mint(build, url, batch=2):
    env = {**os.environ, KEY_ENV: "0x" + bytes(anvil_account(0).key).hex()}
    out = open(build.parent / "mint.out", "wb")   # read back when the mint ends before it is killed
    try:
        return subprocess.Popen([sys.executable, "-m", "collection.cli", "mint", str(build), "--rpc-url", url,
                                 "--batch-size", str(batch)], cwd=REPO, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    finally:
        out.close()


def kill_when(build, url, proc, done, timeout=60.0):
    """Mine blocks for deploy/settings transactions; SIGKILL the mint once done(txs) holds."""
    deadline = time.monotonic() + timeout
    mined = set()
    while time.monotonic() < deadline:
        txs = _txs(build)
        if done(txs):
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return txs
        pending = [t["hash"] for t in txs if t["status"] == "sent" and t["kind"] != "mint" and t["hash"] not in mined]
        if pending:
            time.sleep(0.2)   # recorded before broadcast: give it time to reach the node
            rpc_call(url, "evm_mine")
            mined.update(pending)
        if proc.poll() is not None:
            said = (build.parent / "mint.out").read_text(errors="replace")[-2000:]
            pytest.fail(f"mint exited ({proc.returncode}) before it could be killed:\n{said}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"condition not reached; txs: {_txs(build)}")


def minted_ids(url, address):
    w3 = Web3(Web3.HTTPProvider(url))
    logs = w3.eth.get_logs({"address": address, "fromBlock": 0, "toBlock": "latest", "topics": [TRANSFER, ZERO_TOPIC]})
    return sorted(int.from_bytes(bytes(log["topics"][3]), "big") for log in logs)


def automine(url):
    rpc_call(url, "evm_setAutomine", [True])
    rpc_call(url, "evm_mine")


def test_kill_with_mints_pending_then_rerun(tmp_path, anvil_manual):
    url = anvil_manual.url
    build = make_build_dir(tmp_path / "b", supply=9, start_id=1)
    proc = start_mint(build, url, batch=2)
    txs = kill_when(build, url, proc, lambda t: sum(x["kind"] == "mint" for x in t) >= 3)
    assert all(t["status"] == "sent" for t in txs if t["kind"] == "mint"), "killed before any mint receipt"
    automine(url)                         # the pending batches land while nobody is watching
    rep = mint_build(build, rpc_url=url, batch_size=2)
    assert rep.verified, rep.problems
    ids = minted_ids(url, rep.contract_address)
    assert ids == list(range(1, 10)), ids   # each id exactly once, none missing, none extra
    final = _txs(build)
    assert not [t for t in final if t["status"] == "sent"]
    deploys = [t for t in final if t["kind"] == "deploy"]
    assert len(deploys) == 1
    # Batches mined by the killed run are not sent again: the re-run starts where the chain is.
    mined_before = {t["first_id"] for t in final[:len(txs)] if t["kind"] == "mint" and t["status"] == "mined"}
    resent = {t["first_id"] for t in final[len(txs):] if t["kind"] == "mint"}
    assert mined_before and not (mined_before & resent)


def test_kill_during_pending_deploy_reuses_the_contract(tmp_path, anvil_manual):
    url = anvil_manual.url
    build = make_build_dir(tmp_path / "b", supply=3)
    proc = start_mint(build, url)
    txs = kill_when(build, url, proc, lambda t: any(x["kind"] == "deploy" for x in t), timeout=30)
    time.sleep(0.3)  # a kill right after recording may precede the broadcast; both cases must work
    automine(url)
    rep = mint_build(build, rpc_url=url)
    w3 = Web3(Web3.HTTPProvider(url))
    entry = next(t for t in _txs(build) if t["kind"] == "deploy")
    assert entry["status"] in ("mined", "dropped")
    if entry["status"] == "mined":
        assert rep.contract_address == entry["predicted_address"] == txs[0]["predicted_address"]
        assert sum(t["kind"] == "deploy" for t in _txs(build)) == 1
    assert minted_ids(url, rep.contract_address) == [1, 2, 3]
    assert w3.eth.get_code(rep.contract_address)


def test_dropped_transactions_are_minted_again_exactly_once(tmp_path, anvil_manual):
    url = anvil_manual.url
    build = make_build_dir(tmp_path / "b", supply=6, start_id=10)
    proc = start_mint(build, url, batch=2)
    kill_when(build, url, proc, lambda t: sum(x["kind"] == "mint" for x in t) >= 2)
    time.sleep(0.3)
    rpc_call(url, "anvil_dropAllTransactions")   # the node forgets them (a mempool eviction)
    automine(url)
    rep = mint_build(build, rpc_url=url, batch_size=2)
    assert minted_ids(url, rep.contract_address) == list(range(10, 16))
    statuses = [t["status"] for t in _txs(build) if t["kind"] == "mint"]
    assert statuses.count("dropped") >= 2 and statuses.count("mined") == 3
    assert rep.verified


def test_rerun_waits_for_a_still_pending_mint_and_sends_nothing(tmp_path, anvil_manual):
    url = anvil_manual.url
    build = make_build_dir(tmp_path / "b", supply=4)
    proc = start_mint(build, url, batch=2)
    kill_when(build, url, proc, lambda t: sum(x["kind"] == "mint" for x in t) >= 1)
    time.sleep(0.3)
    before = _txs(build)
    pending = [t for t in before if t["status"] == "sent"]
    if not Web3(Web3.HTTPProvider(url)).eth.get_block("pending")["transactions"]:
        pytest.skip("killed before the broadcast: covered by the dropped-transaction test")
    with pytest.raises(UserError, match="not mined after"):
        mint_build(build, rpc_url=url, receipt_timeout=1.0)
    assert len(_txs(build)) == len(before) and pending
    automine(url)
    rep = mint_build(build, rpc_url=url, batch_size=2)
    assert minted_ids(url, rep.contract_address) == [1, 2, 3, 4]


def test_artifact_abi_has_the_guarded_mint():
    # The crash tests above rely on mintBatch's firstId guard.
    fn = next(x for x in load_artifact().abi if x.get("name") == "mintBatch")
    assert [i["name"] for i in fn["inputs"]] == ["to", "quantity", "firstId"]


def test_a_resent_identical_transaction_revives_its_dropped_entry(tmp_path):
    """Killed before broadcast, the re-run marks the deploy dropped and signs the same call with
    the same nonce and fees: the same hash. mint.json must keep one entry per hash, so the
    receipt lands on it (a twin entry would stay "sent" forever; seen once in CI)."""
    from buildfiles.mint_journal import ChainJournal, MintJournal, TxEntry, load_journal

    journal = MintJournal(tmp_path / "mint.json")
    rec = journal.add_chain(ChainJournal(chain_id=31337, network="local", contract="RobozCollection",
                                         deployer="0x0", to="0x0"))
    first = rec.add_tx(TxEntry(kind="deploy", hash="0xabc", nonce=0, status="sent"))
    first.status = "dropped"
    again = rec.add_tx(TxEntry(kind="deploy", hash="0xabc", nonce=0, status="sent"))
    other = rec.add_tx(TxEntry(kind="mint", hash="0xdef", nonce=1, status="sent"))
    journal.save()
    assert again is first and again.status == "sent" and again.resent == 1
    assert [t.hash for t in load_journal(tmp_path).chain(31337).txs] == ["0xabc", "0xdef"]
    assert other.status == "sent"


def test_broadcasting_the_same_signed_transaction_twice_is_not_an_error(anvil_manual):
    # web3 resends eth_sendRawTransaction after a timeout; the node then already holds it.
    from contracts.tx import Signer, TxParams

    w3 = Web3(Web3.HTTPProvider(anvil_manual.url))
    acct = anvil_account(0)
    signer = Signer(w3, acct, 31337, load_artifact().abi)
    stx = signer.sign(TxParams(to=acct.address, data="0x", gas=21_000), "transfer")
    assert signer.broadcast(stx, "transfer") == signer.broadcast(stx, "transfer") == stx.tx_hash
    assert len(w3.eth.get_block("pending")["transactions"]) == 1
