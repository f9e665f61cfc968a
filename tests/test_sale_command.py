"""`roboz-collection sale` on real anvil: deploy in sale mode, reserve, phases with an allowlist root,
sale.json read back from the chain; a re-run sends nothing; a crash between recording and sending is
finished by the re-run; the public-chain guards on a non-local chain id."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from web3 import Web3

from buildfiles.atomicio import write_json
from buildfiles.errors import UserError
from buildfiles.sale import load_sale
from contracts.chain import rpc_call, start_anvil
from contracts.keys import KEY_ENV, PASSWORD_ENV, anvil_account
from tests.fixtures_chain import anvil, make_build_dir, mint_entry, read_json  # noqa: F401
from tests.fixtures_ipfs import fake_ipfs  # noqa: F401

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAYOUT = anvil_account(1).address
LISTED = anvil_account(2).address
COLLECTOR = anvil_account(3).address


@pytest.fixture(autouse=True)
def no_key_env(monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)


def sale_section(*, start: int | None = None, reveal: str = "fair", reserve: int = 2, price: str = "0.01",
                 allowlist=((LISTED, 2),), payout: str = PAYOUT) -> dict:
    """plan.json's `sale` object as the plan step writes it (collection.plan.sale.SaleSpec.to_dict())."""
    start = start if start is not None else int(time.time()) - 3600
    al = None if allowlist is None else {"file": "allowlist.csv", "sha256": "0" * 64,
                                         "entries": [[a, n] for a, n in allowlist]}
    return {"payout": payout, "reserve": reserve, "reveal": reveal, "phases": [
        {"name": "allowlist", "start": "x", "start_unix": start, "price": price,
         "price_wei": str(Web3.to_wei(price, "ether")), "per_wallet": 2, "supply": None, "allowlist": al},
        {"name": "public", "start": "y", "start_unix": start + 86400, "price": "0.02",
         "price_wei": str(Web3.to_wei("0.02", "ether")), "per_wallet": 3, "supply": 4, "allowlist": None},
    ]}


def sale_build_dir(root: Path, supply: int = 8, **sale) -> Path:
    build = make_build_dir(root, supply=supply, provider="kubo")
    plan = read_json(build / "plan.json")
    plan["sale"] = sale_section(**sale)
    write_json(build / "plan.json", plan)
    return build


def run_sale(build: Path, url: str, **kw):
    from collection.commands.sale import drop_config
    from contracts.drop import sale_build

    return sale_build(build, drop_config(build), rpc_url=url, **kw)


def test_sale_end_to_end_and_a_rerun_sends_nothing(tmp_path, anvil):
    from contracts.merkle import StandardMerkleTree

    build = sale_build_dir(tmp_path / "b")
    rep = run_sale(build, anvil.url)
    w3 = Web3(Web3.HTTPProvider(anvil.url))
    c = w3.eth.contract(address=rep.contract_address, abi=json.loads(
        (Path(REPO) / "contracts/artifacts/RobozCollection.json").read_text())["abi"])
    f = c.functions
    # reserve minted to the artist (the signer, anvil account 0), nothing more
    assert f.totalMinted().call() == 2 and f.ownerOf(1).call() == anvil_account(0).address
    assert f.payout().call() == PAYOUT and f.fairReveal().call()
    assert f.placeholderURI().call().startswith("ipfs://") and f.placeholderURI().call().endswith("/placeholder.json")
    assert (build / "placeholder" / "placeholder.png").is_file()
    tree = StandardMerkleTree.of([(LISTED, 2)])
    (start, price, per_wallet, supply, root), minted = f.phaseAt(0).call()
    assert (price, per_wallet, supply, "0x" + bytes(root).hex(), minted) == (10**16, 2, 0, tree.root, 0)
    assert f.phaseAt(1).call()[0][4] == b"\0" * 32 and f.phaseAt(1).call()[0][3] == 4

    sale = load_sale(build).chain(31337)
    assert sale.contract_address == rep.contract_address and sale.rpc_url == anvil.url
    assert [p.name for p in sale.phases] == ["allowlist", "public"]
    assert sale.phases[0].merkle_root == tree.root and sale.trees["0"] == tree.dump()
    assert sale.state["total_minted"] == 2 and sale.reserve == 2
    kinds = [t["kind"] for t in mint_entry(build)["txs"]]
    assert kinds[0] == "deploy" and "setProvenanceHash" in kinds and kinds[-2:] == ["mint", "setSale"]

    # the listed wallet mints with its proof, paying exactly (the contract's own checks, via the recorded tree)
    w3.eth.send_transaction({"from": LISTED, "to": c.address, "value": 2 * 10**16,
                             "data": c.encode_abi("mint", args=[2, 2, tree.proof(LISTED, 2)])})
    assert f.totalMinted().call() == 4

    before = w3.eth.get_transaction_count(anvil_account(0).address)
    again = run_sale(build, anvil.url)
    assert again.txs_sent == 0 and w3.eth.get_transaction_count(anvil_account(0).address) == before
    assert load_sale(build).chain(31337).phases[0].minted == 2   # sale.json follows the chain


def test_a_crash_after_recording_is_finished_by_the_rerun(tmp_path, anvil, monkeypatch):
    """The setSale hash is in mint.json but never reached the node (killed between the two):
    the re-run marks it dropped, sends setSale once, and the sale is as the manifest says."""
    from contracts import tx as txmod

    build = sale_build_dir(tmp_path / "b")
    real = txmod.Signer.broadcast

    def crash_on_set_sale(self, stx, what):
        if what == "setSale":
            raise KeyboardInterrupt("killed")
        return real(self, stx, what)

    monkeypatch.setattr(txmod.Signer, "broadcast", crash_on_set_sale)
    with pytest.raises(KeyboardInterrupt):
        run_sale(build, anvil.url)
    txs = mint_entry(build)["txs"]
    assert txs[-1]["kind"] == "setSale" and txs[-1]["status"] == "sent"
    assert not (build / "sale.json").exists()
    monkeypatch.setattr(txmod.Signer, "broadcast", real)
    rep = run_sale(build, anvil.url)
    txs = mint_entry(build)["txs"]
    sets = [t for t in txs if t["kind"] == "setSale"]
    # the same call signed again with the same nonce is the very same transaction: its entry revives
    assert [(t["status"], t.get("resent")) for t in sets] == [("mined", 1)]
    assert sum(t["kind"] == "mint" and t["status"] == "mined" for t in txs) == 1   # the reserve once
    assert load_sale(build).chain(31337).phases[1].supply == 4
    assert run_sale(build, anvil.url).txs_sent == 0


def test_the_cli_runs_sale_and_a_plan_without_sale_is_one_line(tmp_path, anvil):
    env = {**os.environ, KEY_ENV: "0x" + bytes(anvil_account(0).key).hex()}
    plain = make_build_dir(tmp_path / "plain")
    r = subprocess.run([sys.executable, "-m", "collection.cli", "sale", str(plain), "--rpc-url", anvil.url],
                       cwd=REPO, env=env, capture_output=True, text=True)
    assert r.returncode == 2 and "has no sale" in r.stderr and "Traceback" not in r.stderr
    build = sale_build_dir(tmp_path / "b", reveal="none")
    r = subprocess.run([sys.executable, "-m", "collection.cli", "sale", str(build), "--rpc-url", anvil.url],
                       cwd=REPO, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "phase      allowlist" in r.stdout and "txs        " in r.stdout
    assert load_sale(build).chain(31337).placeholder_uri == "" and not (build / "placeholder").exists()
    # the collectors' page is written from the sale.json this run wrote: its address inlined
    page = (build / "mint" / "index.html").read_text("utf-8")
    assert "mint page  " in r.stdout and load_sale(build).chain(31337).contract_address.lower() in page.lower()


def test_a_payout_contract_that_refuses_eth_is_refused_before_anything_is_sent(tmp_path, anvil):
    first = run_sale(sale_build_dir(tmp_path / "a", reveal="none"), anvil.url)   # a contract without receive()
    build = sale_build_dir(tmp_path / "b", payout=first.contract_address)
    with pytest.raises(UserError) as e:
        run_sale(build, anvil.url)
    assert "refuses plain ETH transfers" in e.value.message and not (build / "mint.json").exists()


@pytest.fixture
def sepolia_anvil():
    node = start_anvil(extra=("--chain-id", "11155111"))
    yield node
    node.stop()


def test_public_chain_guards(tmp_path, sepolia_anvil, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "0x" + "11" * 32)   # not an anvil key: those are refused off a local chain
    w3 = Web3(Web3.HTTPProvider(sepolia_anvil.url))
    key_address = w3.eth.account.from_key("0x" + "11" * 32).address
    rpc_call(sepolia_anvil.url, "anvil_setBalance", [key_address, hex(10**20)])
    build = sale_build_dir(tmp_path / "b", start=int(time.time()) - 60, price="0.0", allowlist=())
    with pytest.raises(UserError) as e:
        run_sale(build, sepolia_anvil.url, overrides=_overrides(test_renders=True), yes=True)
    msg = e.value.message
    assert "4 problems" in msg and "in the past" in msg and 'price "0.0"' in msg and "empty allowlist" in msg
    assert "placeholder" in msg and "not pinned" in msg
    assert not (build / "mint.json").exists() or not mint_entry(build, 11155111)["txs"]

    ok = sale_build_dir(tmp_path / "ok", start=int(time.time()) + 3600, price="0")
    with pytest.raises(UserError) as e:    # off a terminal, a public chain needs --yes
        run_sale(ok, sepolia_anvil.url, overrides=_overrides())
    assert "--yes" in (e.value.hint or "")
    rep = run_sale(ok, sepolia_anvil.url, overrides=_overrides(), yes=True)
    assert rep.chain_id == 11155111 and load_sale(ok).chain(11155111).rpc_url is None


def _overrides(**kw):
    from contracts.guards import Overrides

    return Overrides(**(kw or {"test_renders": True, "unpinned": True}))


def test_publish_pins_the_placeholder_and_the_mint_page_once(tmp_path, fake_ipfs):
    from metadata.build import write_metadata
    from metadata.placeholder import ensure_placeholder
    from metadata.publish import publish
    from metadata.publishers import RetryPolicy, make_publisher
    from buildfiles.plan import load_plan
    from tests.fixtures_ipfs import make_build_dir as make_media_build

    build = make_media_build(tmp_path / "b")
    write_metadata(build)
    kubo = lambda: make_publisher("kubo", None, api=fake_ipfs.url, policy=RetryPolicy(attempts=2, sleep=lambda s: None))  # noqa: E731
    publish(build, kubo(), log=lambda s: None)
    assert "extra_roots" not in read_json(build / "publish.json")     # no drop: publish.json as before

    plan = read_json(build / "plan.json")
    plan["sale"] = sale_section()
    write_json(build / "plan.json", plan)
    (build / "mint").mkdir()
    (build / "mint" / "index.html").write_text("<!doctype html><title>mint</title>\n")
    r = publish(build, kubo(), log=lambda s: None)
    rec = read_json(build / "publish.json")
    ph = ensure_placeholder(build, load_plan(build))
    assert rec["extra_roots"]["placeholder"] == ph.cid == r.roots["placeholder"]
    assert {ph.cid, rec["extra_roots"]["mint"]} <= fake_ipfs.pins
    assert r.uploaded == ("placeholder", "mint")
    meta = json.loads((build / "placeholder" / "placeholder.json").read_text())
    assert meta["image"] == f"ipfs://{ph.image_cid}"

    before, uploads = (build / "publish.json").read_bytes(), fake_ipfs.uploads("dag/import")
    again = publish(build, kubo(), log=lambda s: None)
    assert again.uploaded == () and fake_ipfs.uploads("dag/import") == uploads
    assert (build / "publish.json").read_bytes() == before


def test_sale_json_is_typed_and_damage_is_one_line(tmp_path):
    from buildfiles.jsonfile import BuildFileError
    from buildfiles.sale import SaleChain, SalePhase, open_sale, sale_json, shown

    rec = open_sale(tmp_path)
    assert rec.chains == {} and shown(rec) is None
    phase = SalePhase("public", 1797789600, 10**16, 2, 0, "0x" + "00" * 32, minted=3)
    for cid in (31337, 11155111):
        rec.put(SaleChain(chain_id=cid, network="x", contract_address=PAYOUT, owner=PAYOUT, payout=PAYOUT, reserve=1,
                          fair_reveal=True, placeholder_uri="ipfs://bafy/placeholder.json", max_supply=8, start_id=1,
                          phases=[phase], rpc_url="http://127.0.0.1:8545"))
    rec.save()
    back = load_sale(tmp_path)
    assert sale_json(back) == (tmp_path / "sale.json").read_bytes()
    assert back.chain(31337).rpc_url == "http://127.0.0.1:8545" and back.chain(11155111).rpc_url is None
    assert shown(back).chain_id == 11155111 and back.chain(31337).phases == [phase] and phase.public
    raw = read_json(tmp_path / "sale.json")
    assert raw["chains"]["31337"]["phases"][0]["price_wei"] == "10000000000000000"
    (tmp_path / "sale.json").write_text('{"format": "roboz-sale/1", "chains": {"1": {"chain_id": 2}}}')
    with pytest.raises(BuildFileError) as e:
        load_sale(tmp_path)
    assert "sale.json" in e.value.message and "chain 1 says chain_id 2" in e.value.message
    (tmp_path / "sale.json").write_text('{"format": "roboz-sale/1", "chai')
    with pytest.raises(BuildFileError) as e:
        load_sale(tmp_path)
    assert "corrupt or truncated" in e.value.message and "sale" in e.value.hint


def test_mint_refuses_a_drop_build_before_sending_anything(tmp_path, anvil):
    """`mint` would hand a drop's tokens to the artist: refused, with `sale` as the way."""
    from contracts.mint import mint_build

    build = sale_build_dir(tmp_path / "b")
    nonce = Web3(Web3.HTTPProvider(anvil.url)).eth.get_transaction_count(anvil_account(0).address)
    with pytest.raises(UserError) as e:
        mint_build(build, rpc_url=anvil.url)
    assert "this build is a drop" in e.value.message and "roboz-collection sale" in e.value.hint
    assert Web3(Web3.HTTPProvider(anvil.url)).eth.get_transaction_count(anvil_account(0).address) == nonce
    assert not (build / "mint.json").exists() or "contract_address" not in (build / "mint.json").read_text()


def test_a_contract_minted_out_by_mint_is_not_put_on_sale(tmp_path, anvil):
    from contracts.mint import mint_build

    build = sale_build_dir(tmp_path / "b")
    # minted out while the manifest had no sale yet; the sale section came afterwards
    plan = read_json(build / "plan.json")
    sale = plan.pop("sale")
    write_json(build / "plan.json", plan)
    mint_build(build, rpc_url=anvil.url)
    plan["sale"] = sale
    write_json(build / "plan.json", plan)
    with pytest.raises(UserError) as e:
        run_sale(build, anvil.url)
    assert "already holds 8 minted tokens, more than the reserve of 2" in e.value.message


def test_sigkill_with_set_sale_pending_then_rerun(tmp_path):
    """A real kill: `sale` is SIGKILLed while its setSale waits to be mined (anvil mines only when told);
    the pending transaction lands afterwards, and the re-run finds the sale set and sends nothing more."""
    import signal

    from contracts.chain import start_anvil
    from tests.test_mint_crash import automine

    node = start_anvil(no_mining=True)
    try:
        build = sale_build_dir(tmp_path / "b")
        env = {**os.environ, KEY_ENV: "0x" + bytes(anvil_account(0).key).hex()}
        out = open(build.parent / "mint.out", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "collection.cli", "sale", str(build), "--rpc-url", node.url],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        deadline, mined = time.monotonic() + 60, set()
        while True:       # mine each recorded transaction (deploy, settings, reserve) until setSale is recorded
            txs = mint_entry(build)["txs"] if (build / "mint.json").exists() else []
            if any(t["kind"] == "setSale" for t in txs):
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                break
            pending = [t["hash"] for t in txs if t["status"] == "sent" and t["hash"] not in mined]
            if pending:
                time.sleep(0.2)
                rpc_call(node.url, "evm_mine")
                mined.update(pending)
            assert proc.poll() is None, (build.parent / "mint.out").read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, txs
            time.sleep(0.05)
        assert proc.returncode == -signal.SIGKILL
        time.sleep(0.3)                 # recorded before broadcast: let it reach the node
        automine(node.url)
        rep = run_sale(build, node.url)
        txs = mint_entry(build)["txs"]
        assert [t["kind"] for t in txs].count("setSale") == 1 and txs[-1]["status"] == "mined"
        assert sum(t["kind"] == "mint" for t in txs) == 1 and sum(t["kind"] == "deploy" for t in txs) == 1
        assert rep.txs_sent == 0 and load_sale(build).chain(31337).phases[0].merkle_root != "0x" + "00" * 32
    finally:
        node.stop()
