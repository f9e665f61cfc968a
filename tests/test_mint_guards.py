"""What `mint` refuses, on real anvil: stale or broken build files (any chain), test renders and
unpinned CIDs (non-local chains: anvil started with Sepolia's chain id), bad input, and
what a user must fix first. Each refusal is one line, and nothing is sent."""

import json
import os
import pty
import select
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from eth_account import Account

from buildfiles.errors import UserError
from contracts.chain import free_port, local_chain, rpc_call, start_anvil, stop_local_chain
from contracts.guards import Overrides
from contracts.keys import KEY_ENV, PASSWORD_ENV
from contracts.mint import mint_build
from contracts.network import SEPOLIA_RPC_ENV
from tests.fixtures_chain import make_build_dir, mint_entry, read_json

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEPOLIA = 11155111


@pytest.fixture(autouse=True)
def no_key_env(monkeypatch):
    for k in (KEY_ENV, PASSWORD_ENV, SEPOLIA_RPC_ENV):
        monkeypatch.delenv(k, raising=False)


@pytest.fixture
def public_anvil():
    """anvil posing as a public chain (Sepolia's id): mint's local-chain allowances do not apply."""
    node = start_anvil(extra=("--chain-id", str(SEPOLIA)))
    yield node
    node.stop()


@pytest.fixture
def funded_key(monkeypatch, public_anvil):
    acct = Account.create()
    rpc_call(public_anvil.url, "anvil_setBalance", [acct.address, hex(10**19)])
    monkeypatch.setenv(KEY_ENV, "0x" + bytes(acct.key).hex())
    return acct


def cli(args, env_extra=None, **kw):
    env = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, PASSWORD_ENV, SEPOLIA_RPC_ENV)}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "collection.cli", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=120, **kw)


def one_line_error(p) -> str:
    assert p.returncode != 0 and "Traceback" not in p.stderr, p.stderr
    lines = p.stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and all(x.startswith("hint: ") for x in lines[1:]), p.stderr
    return p.stderr


# ---------------------------------------------------------------- public chain guards

def test_test_renders_refused_on_a_public_chain_unless_allowed(tmp_path, public_anvil, funded_key):
    build = make_build_dir(tmp_path / "b", supply=3, tiny=True, provider="kubo")
    with pytest.raises(UserError, match=r"3 of 3 tokens are test or demo renders \(token 1: renders/1.json says tiny: "
                                        r"true\); refusing to mint them on chain 11155111") as ei:
        mint_build(build, rpc_url=public_anvil.url)
    assert "--allow-test-renders" in ei.value.hint
    assert not (build / "mint.json").exists()   # refused before a journal entry or a transaction
    rep = mint_build(build, rpc_url=public_anvil.url, overrides=Overrides(test_renders=True))
    assert rep.verified and rep.chain_id == SEPOLIA and any("--allow-test-renders" in n for n in rep.notes)


def test_demo_render_label_in_metadata_is_refused(tmp_path, public_anvil, funded_key):
    build = make_build_dir(tmp_path / "b", supply=2, provider="kubo")
    md = read_json(build / "metadata" / "2.json")
    md["attributes"].append({"trait_type": "Demo render", "value": "small demo models"})
    (build / "metadata" / "2.json").write_text(json.dumps(md))
    # Refresh the recorded CID as `metadata` would have: the label, not a stale file, is refused.
    from metadata.unixfs import add_bytes, cid_str

    pub = read_json(build / "publish.json")
    pub["files"]["metadata/2.json"] = cid_str(add_bytes((build / "metadata" / "2.json").read_bytes()).cid)
    (build / "publish.json").write_text(json.dumps(pub))
    with pytest.raises(UserError, match=r"1 of 2 tokens .*token 2: metadata/2.json: Demo render: small demo models"):
        mint_build(build, rpc_url=public_anvil.url)


def test_cids_only_in_car_files_refused_unless_allowed(tmp_path, public_anvil, funded_key):
    build = make_build_dir(tmp_path / "b", supply=2, provider="car")
    with pytest.raises(UserError, match="publish.json shows only car: .*no IPFS provider confirmed") as ei:
        mint_build(build, rpc_url=public_anvil.url)
    assert "--allow-unpinned" in ei.value.hint and "publish" in ei.value.hint
    never = make_build_dir(tmp_path / "c", supply=2, uris_file="cids.json")
    with pytest.raises(UserError, match="never published"):
        mint_build(never, rpc_url=public_anvil.url)
    rep = mint_build(build, rpc_url=public_anvil.url, overrides=Overrides(unpinned=True))
    assert rep.verified and any("--allow-unpinned" in n for n in rep.notes)


def test_local_chains_mint_test_renders_and_car_only(tmp_path, anvil):
    # The rehearsal on anvil stays as easy as before.
    build = make_build_dir(tmp_path / "b", supply=2, tiny=True, provider="car")
    assert mint_build(build, rpc_url=anvil.url).verified


def test_confirmation_sees_a_summary_and_cancelling_sends_nothing(tmp_path, public_anvil, funded_key):
    build = make_build_dir(tmp_path / "b", supply=3, provider="kubo")
    seen = []
    with pytest.raises(UserError, match="cancelled: nothing was sent"):
        mint_build(build, network="sepolia", rpc_url=public_anvil.url, confirm=lambda s: seen.append(s) or False)
    (s,) = seen
    assert (s.network, s.chain_id, s.tokens_to_mint, s.sender) == ("sepolia", SEPOLIA, 3, funded_key.address)
    assert s.contract == "new RobozCollection" and s.balance_wei == 10**19
    assert 1_000_000 < s.estimated_gas < 10_000_000 and s.estimated_cost_wei > 0
    assert any("chain id 11155111" in line for line in s.lines())
    assert not (build / "mint.json").exists()   # a chain is journaled only once sending starts
    rep = mint_build(build, network="sepolia", rpc_url=public_anvil.url, confirm=lambda s: True)
    assert rep.verified


def test_terminal_asks_and_no_means_no(tmp_path, public_anvil, funded_key):
    build = make_build_dir(tmp_path / "b", supply=2, provider="kubo")
    env = {**os.environ, KEY_ENV: "0x" + bytes(funded_key.key).hex()}
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "collection.cli", "mint", str(build), "--rpc-url", public_anvil.url],
                            stdin=slave, stdout=slave, stderr=slave, cwd=REPO, env=env, close_fds=True)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 60
    while b"[y/N]" not in out and time.monotonic() < deadline:
        if select.select([master], [], [], 0.5)[0]:
            out += os.read(master, 4096)
    os.write(master, b"n\n")
    proc.wait(timeout=60)
    try:
        while select.select([master], [], [], 0.5)[0]:
            out += os.read(master, 4096)
    except OSError:
        pass
    os.close(master)
    text = out.decode()
    assert "chain id 11155111" in text and "balance 10.000000 ETH" in text and "2 to mint now of 2" in text
    assert "cancelled: nothing was sent" in text and proc.returncode == 1
    assert not (build / "mint.json").exists()


# ---------------------------------------------------------------- stale or broken build files (every chain)

@pytest.mark.parametrize("damage, message", [
    ("pixel", "images/3.png changed since `metadata` ran"),
    ("delete", "images/3.png is missing"),
    ("garble", "metadata/3.json is not valid JSON"),
    ("edit", "metadata/3.json changed since `metadata` ran"),
])
def test_files_changed_since_metadata_stop_mint_before_anything(tmp_path, damage, message):
    build = make_build_dir(tmp_path / "b", supply=4)
    img, md = build / "images" / "3.png", build / "metadata" / "3.json"
    if damage == "pixel":
        img.write_bytes(img.read_bytes()[:-1] + b"X")
    elif damage == "delete":
        img.unlink()
    elif damage == "garble":
        md.write_text('{"name": "Rusty')
    else:
        md.write_text(json.dumps({**read_json(md), "name": "edited"}))
    p = cli(["mint", str(build), "--network", "local"])
    assert message in one_line_error(p)
    assert "metadata" in p.stderr.split("hint:", 1)[1]
    assert p.returncode == 2
    assert not (build / "mint.json").exists() and not (build / "chain").exists()  # no anvil, nothing sent


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("content, message", [
    ('{"format": "roboz-mint/1", "txs": []', "mint.json is not valid JSON"),
    ('[1, 2, 3]', "mint.json is not a JSON object (found a list)"),
    ('{"format": "roboz-mint/1", "contract_address": "0x1", "txs": []}', "mint.json has no chain_id"),
])
def test_damaged_mint_json_is_one_line(tmp_path, content, message):
    build = make_build_dir(tmp_path / "b", supply=1)
    (build / "mint.json").write_text(content)
    p = cli(["mint", str(build), "--network", "local"])
    assert message in one_line_error(p) and p.returncode == 2
    assert not (build / "chain").exists()


def test_bad_to_address_is_one_line(tmp_path):
    build = make_build_dir(tmp_path / "b", supply=1)
    p = cli(["mint", str(build), "--network", "local", "--to", "0x1234"])
    assert "--to '0x1234' is not an Ethereum address" in one_line_error(p) and p.returncode == 2


def test_a_key_one_digit_short_is_refused(tmp_path, anvil, monkeypatch):
    build = make_build_dir(tmp_path / "b", supply=1)
    key = bytes(Account.create().key).hex()
    monkeypatch.setenv(KEY_ENV, "0x" + key[:63])
    with pytest.raises(UserError, match=r"ROBOZ_PRIVATE_KEY is not a valid private key \(63 characters; expected "
                                        r"exactly 64 hex digits") as ei:
        mint_build(build, rpc_url=anvil.url)
    assert key[:20] not in str(ei.value)


# ---------------------------------------------------------------- what to fix first, and how

def test_sepolia_without_rpc_and_key_names_both_in_order(tmp_path):
    build = make_build_dir(tmp_path / "b", supply=1)
    p = cli(["mint", str(build), "--network", "sepolia"])
    err = one_line_error(p)
    assert "needs an RPC endpoint (SEPOLIA_RPC_URL) and a signing key (ROBOZ_PRIVATE_KEY or --keystore)" in err
    hint = err.split("hint:", 1)[1]
    assert hint.index("1) export SEPOLIA_RPC_URL") < hint.index("2) export ROBOZ_PRIVATE_KEY") and "faucet" in hint
    assert "npm" not in err and p.returncode == 2


def test_sepolia_key_missing_hint_is_for_sepolia(tmp_path, public_anvil):
    build = make_build_dir(tmp_path / "b", supply=1, provider="kubo")
    with pytest.raises(UserError, match="no signing key for chain 11155111") as ei:
        mint_build(build, network="sepolia", rpc_url=public_anvil.url)
    assert "faucet" in ei.value.hint and "npm" not in ei.value.hint


def test_refused_rpc_fails_at_once_with_url_and_fix(tmp_path):
    build = make_build_dir(tmp_path / "b", supply=1)
    url = f"http://127.0.0.1:{free_port()}/v3/SECRETAPIKEY"
    p = cli(["mint", str(build), "--rpc-url", url])
    err = one_line_error(p)
    assert f"cannot reach the RPC at {url.split('/v3')[0]} (connection refused)" in err
    assert "is a node running at" in err and "SECRETAPIKEY" not in err and "npm" not in err


class _Flaky(BaseHTTPRequestHandler):
    """A JSON-RPC endpoint answering `codes` in turn, then eth_chainId."""

    codes: list[int] = []
    seen = 0

    def do_POST(self):  # noqa: N802
        type(self).seen += 1
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        code = self.codes.pop(0) if self.codes else 200
        body = json.dumps({"jsonrpc": "2.0", "id": 0, "result": hex(SEPOLIA)}).encode() if code == 200 else b"busy"
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.mark.parametrize("codes, ok, requests", [([503, 429], True, 3), ([401], False, 1), ([404], False, 1)])
def test_only_transient_http_errors_are_retried(codes, ok, requests):
    from contracts.rpc import connect

    handler = type("H", (_Flaky,), {"codes": list(codes), "seen": 0})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        if ok:
            assert connect(url, fix="-")[1] == SEPOLIA
        else:
            with pytest.raises(UserError, match=f"HTTP {codes[0]}"):
                connect(url, fix="-")
    finally:
        server.shutdown()
    assert handler.seen == requests


# ---------------------------------------------------------------- processes and chains

def test_detached_anvil_gets_a_scrubbed_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "0x" + "11" * 32)
    monkeypatch.setenv("PINATA_JWT", "secret-jwt")
    monkeypatch.setenv(SEPOLIA_RPC_ENV, "https://rpc.example/v3/secretkey")
    build = tmp_path / "b"
    node, started = local_chain(build)
    try:
        assert started
        env = dict(kv.split("=", 1) for kv in open(f"/proc/{node.pid}/environ").read().split("\0") if "=" in kv)
    finally:
        stop_local_chain(build)
    assert KEY_ENV not in env and "PINATA_JWT" not in env and SEPOLIA_RPC_ENV not in env
    assert "secret" not in json.dumps(env) and "PATH" in env


def test_a_failed_public_attempt_never_blocks_local(tmp_path, public_anvil, monkeypatch):
    build = make_build_dir(tmp_path / "b", supply=2, provider="kubo")
    monkeypatch.setenv(KEY_ENV, "0x" + bytes(Account.create().key).hex())   # 0 ETH on the "public" chain
    with pytest.raises(UserError, match="insufficient funds"):
        mint_build(build, network="sepolia", rpc_url=public_anvil.url)
    assert not (build / "mint.json").exists()   # refused before the first transaction: nothing journaled
    monkeypatch.delenv(KEY_ENV)
    rep = mint_build(build, network="local")
    assert rep.verified and rep.chain_id == 31337
    assert set(read_json(build / "mint.json")["chains"]) == {"31337"}


def test_two_mints_on_one_build_directory_the_second_refuses(tmp_path, anvil_manual):
    build = make_build_dir(tmp_path / "b", supply=2)
    env = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, PASSWORD_ENV)}
    first = subprocess.Popen([sys.executable, "-m", "collection.cli", "mint", str(build), "--rpc-url", anvil_manual.url],
                             cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (build / "mint.json").exists() or not mint_entry(build).get("txs"):
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.1)   # the first holds the lock, waiting for its deploy (anvil mines on demand only)
        p = cli(["mint", str(build), "--rpc-url", anvil_manual.url])
        err = one_line_error(p)
        assert f"is in use by pid {first.pid}" in err and "`mint`" in err
        assert len(mint_entry(build)["txs"]) == 1
    finally:
        first.kill()
        first.wait()


def test_corrupt_local_chain_state_is_one_line_and_a_reset_chain_redeploys(tmp_path):
    build = make_build_dir(tmp_path / "b", supply=2)
    first = mint_build(build, network="local")
    state = build / "chain" / "anvil-state.json"
    state.write_text("{garbled")
    p = cli(["mint", str(build), "--network", "local"])
    assert "chain/anvil-state.json is corrupt: anvil cannot load the local chain from it" in one_line_error(p)
    assert "move it away" in p.stderr and p.returncode == 2
    state.unlink()   # the user's fix: a fresh local chain, on which the recorded contract does not exist
    notes = []
    rep = mint_build(build, network="local", log=notes.append)
    assert rep.verified and rep.newly_minted == range(1, 3) and any("was reset; deploying anew" in n for n in notes)
    entry = mint_entry(build)
    assert entry["contract_address"] == rep.contract_address
    # The reset chain's entry starts over: only this run's transactions, the first one a deploy.
    assert len(entry["txs"]) == rep.txs_sent >= 2 and entry["txs"][0]["kind"] == "deploy"
    assert first.verified


@pytest.mark.parametrize("record, flagged", [
    ({"tiny": True, "models": "tiny"}, True),
    ({"models": "demo_vqgan+demo_clip"}, True),          # the demo models, by registry name
    ({"demo": True, "models": "x+y"}, True),
    ({"label": "demo"}, True),
    ({"label": "Demo render"}, True),
    ({"models": {"vqgan": "demo_vqgan", "clip": "demo_clip"}}, True),
    ({"models": "vqgan_imagenet_f16_16384+ViT-B/32"}, False),
    ({"models": "my_democratic+ViT-B/32"}, False),       # an artist's own checkpoint names are not labels
    ({"models": "my-tiny-vqgan+ViT-B/32"}, False),
])
def test_what_counts_as_a_test_or_demo_render(tmp_path, record, flagged):
    from contracts.guards import not_real_render

    (tmp_path / "renders").mkdir()
    (tmp_path / "renders" / "4.json").write_text(json.dumps({"id": 4, **record}))
    assert (not_real_render(tmp_path, 4) is not None) == flagged
