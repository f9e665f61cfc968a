"""`mint_build` and `roboz-collection mint` end to end on real anvil: deploy, mint, verify, re-run, errors."""

import hashlib
import json
import os
import subprocess
import sys

import pytest
from eth_account import Account
from web3 import Web3

from buildfiles.errors import UserError
from contracts.chain import chain_id_at, rpc_call, start_anvil
from contracts.keys import KEY_ENV, PASSWORD_ENV, anvil_account, write_keystore
from contracts.mint import mint_build
from tests.fixtures_chain import ROYALTY_RECEIVER, make_build_dir, mint_entry, read_json

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def no_key_env(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)


def test_local_network_mints_verifies_and_survives_a_restart(tmp_path):
    build = make_build_dir(tmp_path / "build", supply=12, start_id=5)
    rep = mint_build(build, network="local", batch_size=5)
    assert rep.chain_id == 31337 and rep.verified, rep.problems
    assert rep.minted_ids == range(5, 17) and rep.newly_minted == range(5, 17)
    assert rep.sample_token_uri == "ipfs://bafybeigdyrztmetadata/5.json"
    m = mint_entry(build)
    assert m["contract_address"] == rep.contract_address and m["chain_id"] == 31337
    mints = [t for t in m["txs"] if t["kind"] == "mint"]
    assert [(t["first_id"], t["quantity"]) for t in mints] == [(5, 5), (10, 5), (15, 2)]
    assert all(t["status"] == "mined" and t["hash"].startswith("0x") for t in m["txs"])
    assert m["verified"]["ok"] and m["verified"]["checked_tokens"] == 12
    # The anvil it started was stopped, and its state kept in the build dir.
    assert not (build / "chain" / "anvil.json").exists()
    assert (build / "chain" / "anvil-state.json").stat().st_size > 0

    again = mint_build(build, network="local")
    assert again.contract_address == rep.contract_address
    assert again.txs_sent == 0 and len(again.newly_minted) == 0 and again.verified
    assert len(mint_entry(build)["txs"]) == len(m["txs"])


def test_rerun_sends_only_what_changed_and_cids_fallback(tmp_path, anvil):
    build = make_build_dir(tmp_path / "b", supply=3, uris_file="cids.json")
    notes = []
    rep = mint_build(build, rpc_url=anvil.url, log=notes.append)
    assert rep.uri_source == "cids.json" and any("cids.json" in n for n in notes)
    # Publishing later gives a new base URI: the re-run sets it (ERC-4906 event) and mints nothing.
    (build / "publish.json").write_text(json.dumps({"base_uri": "ipfs://published/", "contract_uri": "ipfs://published/c.json"}))
    rep2 = mint_build(build, rpc_url=anvil.url)
    kinds = [t["kind"] for t in mint_entry(build)["txs"][-rep2.txs_sent:]]
    assert kinds == ["setBaseURI", "setContractURI"]
    assert rep2.verified and rep2.sample_token_uri == "ipfs://published/1.json" and rep2.uri_source == "publish.json"


def test_mint_to_another_address_with_royalties(tmp_path, anvil):
    build = make_build_dir(tmp_path / "b", supply=4)
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    rep = mint_build(build, rpc_url=anvil.url, to=w3.eth.accounts[3], batch_size=3)
    assert rep.to == w3.eth.accounts[3]
    c = w3.eth.contract(address=rep.contract_address, abi=json.load(open(f"{REPO}/contracts/artifacts/RobozCollection.json"))["abi"])
    assert c.functions.balanceOf(w3.eth.accounts[3]).call() == 4
    assert tuple(c.functions.royaltyInfo(1, 10_000).call()) == (Web3.to_checksum_address(ROYALTY_RECEIVER), 500)


def test_provenance_cannot_change_once_set(tmp_path, anvil):
    build = make_build_dir(tmp_path / "b", supply=2)
    mint_build(build, rpc_url=anvil.url)
    # An image re-rendered after the hash was set, and `metadata` run again: provenance.json is
    # consistent with the files, but the chain already holds the old hash.
    (build / "images" / "1.png").write_bytes(b"re-rendered")
    prov = read_json(build / "provenance.json")
    prov["images"][0]["sha256"] = hashlib.sha256(b"re-rendered").hexdigest()
    prov["provenance_hash"] = hashlib.sha256("".join(i["sha256"] for i in prov["images"]).encode()).hexdigest()
    (build / "provenance.json").write_text(json.dumps(prov))
    with pytest.raises(UserError, match="can be set once|differs from provenance.json"):
        mint_build(build, rpc_url=anvil.url)


def test_another_chain_gets_its_own_journal_entry(tmp_path, anvil):
    # mint.json is keyed by chain: minting on a second chain deploys there and leaves the first
    # chain's entry as it was (issue 16: one chain's attempt never blocks another).
    build = make_build_dir(tmp_path / "b", supply=1)
    first = mint_build(build, rpc_url=anvil.url)
    before = mint_entry(build, 31337)
    other = start_anvil(extra=("--chain-id", "1337"))
    try:
        rep = mint_build(build, rpc_url=other.url)
    finally:
        other.stop()
    assert rep.chain_id == 1337 and rep.verified and rep.minted_ids == range(1, 2)
    assert mint_entry(build, 31337) == before and before["contract_address"] == first.contract_address
    assert mint_entry(build, 1337)["contract_address"] == rep.contract_address


def test_wrong_chain_for_network_and_mainnet_refused(tmp_path, anvil):
    build = make_build_dir(tmp_path / "b", supply=1)
    with pytest.raises(UserError, match="wrong chain.*chain 31337.*11155111"):
        mint_build(build, network="sepolia", rpc_url=anvil.url)
    main = start_anvil(extra=("--chain-id", "1"))
    try:
        with pytest.raises(UserError, match="mainnet"):
            mint_build(build, rpc_url=main.url)
        assert not (build / "mint.json").exists()
    finally:
        main.stop()


def test_anvil_default_keys_refused_off_local_chains(tmp_path, monkeypatch):
    build = make_build_dir(tmp_path / "b", supply=1)
    node = start_anvil(extra=("--chain-id", "11155111"))
    try:
        # No key at all on a non-local chain: refused, no anvil fallback.
        with pytest.raises(UserError, match="no signing key"):
            mint_build(build, network="sepolia", rpc_url=node.url)
        monkeypatch.setenv(KEY_ENV, "0x" + bytes(anvil_account(3).key).hex())
        with pytest.raises(UserError, match="anvil's public default keys"):
            mint_build(build, network="sepolia", rpc_url=node.url)
    finally:
        node.stop()


def test_insufficient_funds_is_one_clear_error(tmp_path, anvil, monkeypatch):
    build = make_build_dir(tmp_path / "b", supply=1)
    monkeypatch.setenv(KEY_ENV, "0x" + bytes(Account.create().key).hex())   # a fresh key with 0 ETH
    with pytest.raises(UserError, match="insufficient funds: .* has 0 ETH on chain 31337, this run needs up to"):
        mint_build(build, rpc_url=anvil.url)
    assert not (build / "mint.json").exists()   # the estimated total is checked before the first transaction


def test_unreachable_rpc_error_hides_the_url_path(tmp_path):
    from contracts.chain import free_port

    build = make_build_dir(tmp_path / "b", supply=1)
    with pytest.raises(UserError, match="cannot reach") as ei:
        mint_build(build, rpc_url=f"http://127.0.0.1:{free_port()}/v3/SECRETAPIKEY")
    assert "SECRETAPIKEY" not in str(ei.value)


def test_keystore_with_password_from_env(tmp_path, anvil, monkeypatch):
    build = make_build_dir(tmp_path / "b", supply=2)
    acct = Account.create()
    rpc_call(anvil.url, "anvil_setBalance", [acct.address, hex(10**19)])
    ks = write_keystore(tmp_path / "key.json", acct, "correct horse")
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    with pytest.raises(UserError, match="wrong password"):
        mint_build(build, rpc_url=anvil.url, keystore=ks)
    monkeypatch.setenv(PASSWORD_ENV, "correct horse")
    rep = mint_build(build, rpc_url=anvil.url, keystore=ks)
    assert rep.owner == acct.address and rep.verified
    assert bytes(acct.key).hex() not in (build / "mint.json").read_text()


def test_bad_env_key_is_not_echoed(tmp_path, anvil, monkeypatch):
    build = make_build_dir(tmp_path / "b", supply=1)
    monkeypatch.setenv(KEY_ENV, "0xnotakey-but-maybe-a-secret-typo")
    with pytest.raises(UserError) as ei:
        mint_build(build, rpc_url=anvil.url)
    assert "secret" not in str(ei.value) and KEY_ENV in str(ei.value)


def _cli(args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, PASSWORD_ENV)}
    env.update(env_extra or {})
    code = ("import sys; from collection.cli import main; rc = main(sys.argv[1:]); "
            "assert 'torch' not in sys.modules, 'mint imported torch'; sys.exit(rc)")
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=REPO,
                          timeout=120)


def test_cli_mints_without_torch_and_never_prints_the_key(tmp_path, anvil):
    build = make_build_dir(tmp_path / "b", supply=3)
    acct = Account.create()
    rpc_call(anvil.url, "anvil_setBalance", [acct.address, hex(10**19)])
    key_hex = bytes(acct.key).hex()
    p = _cli(["mint", str(build), "--rpc-url", anvil.url], {KEY_ENV: "0x" + key_hex})
    assert p.returncode == 0, p.stderr
    assert "verified" in p.stdout and "ipfs://bafybeigdyrztmetadata/1.json" in p.stdout
    for text in (p.stdout, p.stderr, (build / "mint.json").read_text()):
        assert key_hex not in text


def test_cli_errors_are_one_line(tmp_path):
    build = make_build_dir(tmp_path / "b", supply=1)
    (build / "provenance.json").unlink()
    p = _cli(["mint", str(build), "--rpc-url", "http://127.0.0.1:9"])
    assert p.returncode == 2
    assert p.stderr.startswith("error: ") and "provenance.json" in p.stderr and "Traceback" not in p.stderr
    assert chain_id_at("http://127.0.0.1:9") is None


def test_mint_at_deploy_sends_no_mint_transactions_and_reruns_idle(tmp_path, anvil):
    build = make_build_dir(tmp_path / "b", supply=250, start_id=3)
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    rep = mint_build(build, rpc_url=anvil.url, mint_at_deploy=True, to=w3.eth.accounts[2])
    assert rep.verified and rep.mint_at_deploy and rep.minted_ids == rep.newly_minted == range(3, 253)
    m = mint_entry(build)
    assert m["mint_at_deploy"] is True and [t["kind"] for t in m["txs"]].count("mint") == 0
    deploy = next(t for t in m["txs"] if t["kind"] == "deploy")
    # chunks of 100 by default: three ConsecutiveTransfer events in the deploy receipt
    logs = w3.eth.get_transaction_receipt(deploy["hash"])["logs"]
    topic = Web3.keccak(text="ConsecutiveTransfer(uint256,uint256,address,address)")
    assert sum(bytes(log["topics"][0]) == bytes(topic) for log in logs) == 3
    c = w3.eth.contract(address=rep.contract_address, abi=json.load(open(f"{REPO}/contracts/artifacts/RobozCollection.json"))["abi"])
    assert c.functions.balanceOf(w3.eth.accounts[2]).call() == 250
    again = mint_build(build, rpc_url=anvil.url, mint_at_deploy=True)
    assert again.txs_sent == 0 and len(again.newly_minted) == 0 and again.verified


def test_mint_at_deploy_chunk_above_erc721a_limit_is_refused(tmp_path):
    build = make_build_dir(tmp_path / "b", supply=2)
    with pytest.raises(UserError, match="above ERC721A's ERC-2309 limit of 5000"):
        mint_build(build, network="local", mint_at_deploy=True, batch_size=5001)
