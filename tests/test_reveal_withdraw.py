"""`reveal` and `withdraw` on real anvil after `sale`: placeholder before, every tokenURI mapped by the
offset after (checked against the chain and metadata/), a missed 256-block window committed again,
the proceeds paid to the payout address exactly, re-runs that send nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from web3 import Web3

from buildfiles.errors import UserError
from buildfiles.sale import load_sale
from contracts.chain import rpc_call
from contracts.keys import KEY_ENV, PASSWORD_ENV, anvil_account
from contracts.sale import revealed_token_id
from tests.fixtures_chain import anvil, mint_entry  # noqa: F401
from tests.test_sale_command import LISTED, PAYOUT, REPO, run_sale, sale_build_dir

COLLECTOR = anvil_account(3).address
ABI = json.loads((Path(REPO) / "contracts/artifacts/RobozCollection.json").read_text())["abi"]


@pytest.fixture(autouse=True)
def no_key_env(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)


def sold(tmp_path, url, **sale):
    """A sale with the allowlist phase open; the listed wallet buys 2 and a collector buys 3 in the public phase."""
    from contracts.merkle import StandardMerkleTree

    build = sale_build_dir(tmp_path / "b", **sale)
    rep = run_sale(build, url)
    w3 = Web3(Web3.HTTPProvider(url))
    c = w3.eth.contract(address=rep.contract_address, abi=ABI)
    tree = StandardMerkleTree.of([(LISTED, 2)])
    w3.eth.send_transaction({"from": LISTED, "to": c.address, "value": 2 * 10**16,
                             "data": c.encode_abi("mint", args=[2, 2, tree.proof(LISTED, 2)])})
    rpc_call(url, "evm_increaseTime", [86400])
    rpc_call(url, "evm_mine")
    w3.eth.send_transaction({"from": COLLECTOR, "to": c.address, "value": 3 * 2 * 10**16,
                             "data": c.encode_abi("mint", args=[3, 0, []])})
    assert c.functions.totalMinted().call() == 7
    return build, w3, c


def check_mapping(build, c, offset):
    f = c.functions
    base = f.baseURI().call()
    for t in range(1, 8):
        shown = revealed_token_id(t, 1, 8, offset)
        assert f.tokenURI(t).call() == f"{base}{shown}.json" and (build / "metadata" / f"{shown}.json").is_file()


def test_reveal_draws_the_offset_and_every_token_uri_follows(tmp_path, anvil):
    build, w3, c = sold(tmp_path, anvil.url)
    f = c.functions
    placeholder = f.placeholderURI().call()
    assert all(f.tokenURI(t).call() == placeholder for t in range(1, 8))

    from contracts.drop import reveal_build

    rep = reveal_build(build, rpc_url=anvil.url)
    assert f.revealed().call() and rep.offset == f.revealOffset().call() and rep.checked == 7
    block = f.revealBlock().call()
    assert rep.block == block and rep.offset == int.from_bytes(w3.eth.get_block(block)["hash"], "big") % 8
    check_mapping(build, c, rep.offset)
    r = load_sale(build).chain(31337).reveal
    assert (r.revealed, r.offset, r.block, r.checked) == (True, rep.offset, block, True)
    assert [t["kind"] for t in mint_entry(build)["txs"]][-2:] == ["commitReveal", "reveal"]

    again = reveal_build(build, rpc_url=anvil.url)
    assert again.txs_sent == 0 and again.offset == rep.offset


def test_a_missed_window_is_committed_again(tmp_path, anvil):
    build, w3, c = sold(tmp_path, anvil.url)
    owner = anvil_account(0).address
    w3.eth.send_transaction({"from": owner, "to": c.address, "data": c.encode_abi("commitReveal", args=[])})
    first = c.functions.revealBlock().call()
    rpc_call(anvil.url, "anvil_mine", [hex(300)])     # past the 256 blocks blockhash can read

    from contracts.drop import reveal_build

    rep = reveal_build(build, rpc_url=anvil.url)
    assert rep.block > first + 256 and c.functions.revealed().call()
    check_mapping(build, c, rep.offset)


def test_reveal_before_the_sale_opens_is_one_line(tmp_path, anvil):
    import time

    from contracts.drop import reveal_build

    build = sale_build_dir(tmp_path / "b", start=int(time.time()) + 7200)
    run_sale(build, anvil.url)
    with pytest.raises(UserError) as e:
        reveal_build(build, rpc_url=anvil.url)
    assert "SaleNotOpen" in e.value.message


def test_reveal_none_only_checks(tmp_path, anvil):
    from contracts.drop import reveal_build

    build, _w3, c = sold(tmp_path, anvil.url, reveal="none")
    rep = reveal_build(build, rpc_url=anvil.url)
    assert (rep.offset, rep.block, rep.txs_sent, rep.checked) == (0, None, 0, 7)
    check_mapping(build, c, 0)


def test_withdraw_pays_the_payout_exactly_once(tmp_path, anvil):
    from contracts.drop import withdraw_build

    build, w3, c = sold(tmp_path, anvil.url)
    paid = 2 * 10**16 + 3 * 2 * 10**16
    assert w3.eth.get_balance(c.address) == paid
    before = w3.eth.get_balance(PAYOUT)
    env = {**os.environ, KEY_ENV: "0x" + bytes(anvil_account(0).key).hex()}
    r = subprocess.run([sys.executable, "-m", "collection.cli", "withdraw", str(build), "--rpc-url", anvil.url],
                       cwd=REPO, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "0.080000 ETH" in r.stdout
    assert w3.eth.get_balance(PAYOUT) - before == paid and w3.eth.get_balance(c.address) == 0
    assert c.functions.totalWithdrawn().call() == paid
    sale = load_sale(build).chain(31337)
    assert [(w.amount_wei, w.to) for w in sale.withdrawals] == [(paid, PAYOUT)]
    assert sale.state["balance_wei"] == "0" and sale.state["total_withdrawn_wei"] == str(paid)

    n = w3.eth.get_transaction_count(anvil_account(0).address)
    rep = withdraw_build(build, rpc_url=anvil.url)
    assert rep.tx is None and w3.eth.get_transaction_count(anvil_account(0).address) == n
    assert len(load_sale(build).chain(31337).withdrawals) == 1


def test_reveal_and_withdraw_without_a_sale_say_so(tmp_path, anvil):
    from contracts.drop import withdraw_build
    from tests.fixtures_chain import make_build_dir

    build = make_build_dir(tmp_path / "b")
    with pytest.raises(UserError) as e:
        withdraw_build(build, rpc_url=anvil.url)
    assert "no sale contract" in e.value.message and "sale" in e.value.hint


def test_the_gallery_status_shows_the_drop(tmp_path, anvil):
    from contracts.drop import reveal_build, withdraw_build
    from preview.chain_status import eth_text, load_chain_status
    from preview.gallery import status_data

    build, _w3, _c = sold(tmp_path, anvil.url)
    run_sale(build, anvil.url)        # sale.json follows the chain: 7 minted
    view = load_chain_status(build).sale
    assert (view.minted, view.max_supply, view.remaining, view.current) == (7, 8, 1, "public")
    assert [(p.name, p.price_eth, p.kind, p.minted) for p in view.phases] == [
        ("allowlist", "0.01", "allowlist of 1", 2), ("public", "0.02", "public", 3)]
    assert (view.fair_reveal, view.revealed, view.proceeds_eth) == (True, False, "0.08")
    reveal_build(build, rpc_url=anvil.url)
    withdraw_build(build, rpc_url=anvil.url)
    data = status_data(load_chain_status(build), None)["sale"]
    assert data["revealed"] and data["offset"] is not None and data["remaining"] == 1
    assert (data["proceeds_eth"], data["withdrawn_eth"], data["payout"]) == ("0", "0.08", PAYOUT)
    assert eth_text(1) == "0.000000000000000001" and eth_text(25 * 10**17) == "2.5"
