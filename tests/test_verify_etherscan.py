"""`verify` against a local HTTP server that imitates Etherscan's documented v2 API (verifysourcecode,
checkverifystatus, getsourcecode): the submission's fields, polling until a decision, an already
verified contract submitted no second time, a wrong key refused without ever being printed."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from pathlib import Path

from buildfiles.errors import UserError
from contracts.etherscan import Etherscan, EtherscanError, Submission

KEY = "TESTKEY0123456789ABCDEFGHIJKLMNOP"
ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
_COMPILER = re.compile(r"v\d+\.\d+\.\d+\+commit\.[0-9a-f]{8}")


@dataclass
class Expected:
    """What the imitation accepts as a matching source for one address (Etherscan recompiles; this
    stands in for that with the facts a recompile would have to reproduce)."""

    contract_name: str
    compiler_version: str
    constructor_args: str
    sources: set[str]


@dataclass
class FakeEtherscan:
    expected: dict[str, Expected] = field(default_factory=dict)
    pending_polls: int = 2
    verified: dict[str, str] = field(default_factory=dict)       # address -> source text
    requests: list[dict] = field(default_factory=list)
    jobs: dict[str, dict] = field(default_factory=dict)

    def handle(self, method: str, query: dict, form: dict) -> dict:
        params = {**query, **form}
        self.requests.append({"method": method, **{k: v for k, v in params.items() if k != "sourceCode"}})
        if params.get("apikey") != KEY:
            return {"status": "0", "message": "NOTOK", "result": "Invalid API Key (#err2)|" + params.get("apikey", "")}
        if "chainid" not in query:
            return {"status": "0", "message": "NOTOK", "result": "Missing chainid parameter (required for v2 api)"}
        action = params.get("action")
        if params.get("module") != "contract":
            return {"status": "0", "message": "NOTOK", "result": "Error! Missing Or invalid Module name"}
        if action == "getsourcecode":
            src = self.verified.get(params.get("address", "").lower(), "")
            return {"status": "1", "message": "OK", "result": [{"SourceCode": src, "ContractName": ""}]}
        if action == "verifysourcecode":
            if method != "POST":
                return {"status": "0", "message": "NOTOK", "result": "verifysourcecode must be POSTed"}
            addr = form.get("contractaddress", "").lower()
            if addr in self.verified:
                return {"status": "0", "message": "NOTOK", "result": "Contract source code already verified"}
            if form.get("codeformat") != "solidity-standard-json-input" or not _COMPILER.fullmatch(form.get("compilerversion", "")):
                return {"status": "0", "message": "NOTOK", "result": "Invalid codeformat or compilerversion"}
            try:
                std = json.loads(form.get("sourceCode", ""))
            except ValueError:
                return {"status": "0", "message": "NOTOK", "result": "Unable to parse the standard JSON input"}
            guid = f"guid{len(self.jobs):04d}x" + "a" * 40
            self.jobs[guid] = {"address": addr, "form": form, "std": std, "polls": 0}
            return {"status": "1", "message": "OK", "result": guid}
        if action == "checkverifystatus":
            job = self.jobs.get(params.get("guid", ""))
            if job is None:
                return {"status": "0", "message": "NOTOK", "result": "Unable to locate the GUID"}
            job["polls"] += 1
            if job["polls"] <= self.pending_polls:
                return {"status": "0", "message": "NOTOK", "result": "Pending in queue"}
            exp, form, std = self.expected.get(job["address"]), job["form"], job["std"]
            ok = (exp is not None and std.get("language") == "Solidity" and set(std.get("sources", {})) == exp.sources
                  and form["contractname"] == exp.contract_name and form["compilerversion"] == exp.compiler_version
                  and form.get("constructorArguements") == exp.constructor_args)
            if not ok:
                return {"status": "0", "message": "NOTOK",
                        "result": "Fail - Unable to verify. Compiled contract deployment bytecode does NOT match"}
            self.verified[job["address"]] = json.dumps(std)
            return {"status": "1", "message": "OK", "result": "Pass - Verified"}
        return {"status": "0", "message": "NOTOK", "result": f"Error! Invalid action {action}"}


@pytest.fixture
def etherscan():
    fake = FakeEtherscan()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            u = urlsplit(self.path)
            if u.path != "/v2/api":
                self.send_response(404)
                self.end_headers()
                return
            query = {k: v[0] for k, v in parse_qs(u.query).items()}
            form = {}
            if method == "POST":
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
            data = json.dumps(fake.handle(method, query, form)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._answer("GET")

        def do_POST(self):
            self._answer("POST")

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/v2/api"
    yield fake
    server.shutdown()
    server.server_close()


def submission(args: str = "00" * 32) -> Submission:
    std = {"language": "Solidity", "sources": {"RobozCollection.sol": {"content": "contract X {}"}}, "settings": {}}
    return Submission(chain_id=11155111, address=ADDRESS, standard_json=json.dumps(std),
                      contract_name="RobozCollection.sol:RobozCollection",
                      compiler_version="v0.8.30+commit.73712a01", constructor_args=args)


def expect(fake: FakeEtherscan, args: str = "00" * 32) -> None:
    fake.expected[ADDRESS.lower()] = Expected("RobozCollection.sol:RobozCollection", "v0.8.30+commit.73712a01",
                                              args, {"RobozCollection.sol"})


def client(fake, key=KEY) -> tuple[Etherscan, list[float]]:
    slept: list[float] = []
    return Etherscan(fake.url, key, poll_s=5.0, sleep=slept.append), slept


def test_submit_poll_pass_then_already(etherscan):
    expect(etherscan)
    es, slept = client(etherscan)
    out = es.verify(submission())
    assert (out.state, out.polls, out.message) == ("verified", 3, "Pass - Verified")
    assert slept == [5.0, 5.0, 5.0]
    post = [r for r in etherscan.requests if r["method"] == "POST"]
    assert len(post) == 1 and post[0]["chainid"] == "11155111" and post[0]["contractaddress"] == ADDRESS
    assert post[0]["codeformat"] == "solidity-standard-json-input"
    again = es.verify(submission())
    assert again.state == "already" and len([r for r in etherscan.requests if r["method"] == "POST"]) == 1


def test_a_mismatch_fails_with_etherscans_words(etherscan):
    expect(etherscan, args="11" * 32)
    es, _ = client(etherscan)
    out = es.verify(submission())
    assert out.state == "failed" and "does NOT match" in out.message


def test_a_wrong_key_is_refused_and_never_shown(etherscan):
    es, _ = client(etherscan, key="WRONG-SECRET-KEY-123")
    with pytest.raises(EtherscanError) as e:
        es.verify(submission())
    text = " ".join(e.value.lines())
    assert "Invalid API Key" in text and "WRONG-SECRET-KEY-123" not in text and "ETHERSCAN_API_KEY" in text


def test_no_server_is_one_line(etherscan):
    es = Etherscan("http://127.0.0.1:9/v2/api", KEY, sleep=lambda s: None, http_timeout=1)
    with pytest.raises(UserError) as e:
        es.verify(submission())
    assert "did not answer" in e.value.message and KEY not in e.value.message


# ---------------------------------------------------------------- the command, end to end on anvil


def test_verify_command_checks_locally_writes_files_and_submits(tmp_path, etherscan, monkeypatch):
    import hashlib
    import os
    import subprocess
    import sys

    from web3 import Web3

    from contracts.chain import start_anvil
    from contracts.compile import load_artifact
    from contracts.keys import KEY_ENV, PASSWORD_ENV, anvil_account
    from contracts.source_check import standard_json_input
    from tests.fixtures_chain import mint_entry
    from tests.test_sale_command import REPO, run_sale, sale_build_dir

    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    node = start_anvil()
    try:
        build = sale_build_dir(tmp_path / "b", reveal="none")
        rep = run_sale(build, node.url)
        # what Etherscan must receive, worked out here from the chain and the artifact
        w3 = Web3(Web3.HTTPProvider(node.url))
        tx_input = bytes(w3.eth.get_transaction(mint_entry(build)["deploy_tx"])["input"]).hex()
        args = tx_input[len(load_artifact("RobozCollection").bytecode) - 2:]
        assert args and len(args) % 64 == 0
        etherscan.expected[rep.contract_address.lower()] = Expected(
            "RobozCollection.sol:RobozCollection", "v0.8.30+commit.73712a01", args, set(standard_json_input()["sources"]))

        env = {**os.environ, "ETHERSCAN_API_KEY": KEY}
        cmd = [sys.executable, "-m", "collection.cli", "verify", str(build), "--rpc-url", node.url,
               "--api-url", etherscan.url, "--poll-seconds", "0"]
        r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert "verified now: Pass - Verified" in r.stdout and KEY not in r.stdout + r.stderr
        v = build / "verify"
        assert (v / "sources" / "RobozCollection.sol").read_bytes() == (Path(REPO) / "contracts/RobozCollection.sol").read_bytes()
        meta = json.loads((v / "metadata.json").read_text())
        assert meta["language"] == "Solidity" and "RobozCollection.sol" in meta["sources"]
        src = (v / "sources" / "RobozCollection.sol").read_bytes()
        assert meta["sources"]["RobozCollection.sol"]["keccak256"] == "0x" + Web3.keccak(src).hex().removeprefix("0x")
        assert json.loads((v / "etherscan.json").read_text())["state"] == "verified"
        assert hashlib.sha256((v / "standard-input.json").read_bytes()).hexdigest()

        again = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        assert again.returncode == 0 and "already verified" in again.stdout
        assert len([q for q in etherscan.requests if q["method"] == "POST"]) == 1

        # no key: one line naming the variable, after the local check
        env.pop("ETHERSCAN_API_KEY")
        r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        assert r.returncode == 2 and "ETHERSCAN_API_KEY" in r.stderr and "Traceback" not in r.stderr
        # a local chain without --api-url: checked and written, nothing submitted
        r = subprocess.run(cmd[:-4], cwd=REPO, env=env, capture_output=True, text=True)
        assert r.returncode == 0 and "not submitted" in r.stdout, r.stderr
    finally:
        node.stop()


def test_verify_refuses_code_that_is_not_the_sources(tmp_path, monkeypatch):
    from contracts.chain import rpc_call, start_anvil
    from buildfiles.errors import UserError
    from collection.commands.verify import verify_build
    from tests.test_sale_command import run_sale, sale_build_dir

    node = start_anvil()
    try:
        build = sale_build_dir(tmp_path / "b", reveal="none")
        rep = run_sale(build, node.url)
        rpc_call(node.url, "anvil_setCode", [rep.contract_address, "0x6000"])
        with pytest.raises(UserError) as e:
            verify_build(build, rpc_url=node.url, log=lambda m: None)
        assert "not what the sources compile to" in e.value.message and not (build / "verify").exists()
    finally:
        node.stop()
