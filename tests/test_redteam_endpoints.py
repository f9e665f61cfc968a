"""Red team, issue 25: endpoints that carry credentials or never answer, and what a killed run
leaves behind (an anvil child, temp files of atomic writes). Real servers on 127.0.0.1 (the
fake Kubo/Pinata of tests/fixtures_ipfs.py, raw sockets that accept and stall), real anvil,
real subprocesses killed with SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest

from buildfiles.atomicio import PROCESS_START, clean_stale_temps, write_json
from buildfiles.urls import endpoint_url, redact_text, redact_url
from contracts.keys import KEY_ENV, PASSWORD_ENV
from metadata.build import write_metadata
from metadata.publish import publish
from metadata.publishers import PublishError, RetryPolicy, make_publisher
from tests.fixtures_chain import make_build_dir as make_chain_build
from tests.fixtures_ipfs import FakeIpfs, _handler

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "T0kenS3cret"


class Sleeps(list):
    def __call__(self, s):
        self.append(s)


@pytest.fixture
def built(build_dir):
    write_metadata(build_dir, log=lambda s: None)
    return build_dir


@pytest.fixture
def recording_ipfs():
    """The fake Kubo/Pinata, recording the path and query of every request it gets."""
    state = FakeIpfs()
    seen: list[str] = []

    class Recording(_handler(state)):
        def do_POST(self):
            seen.append(self.path)
            super().do_POST()

        def do_GET(self):
            seen.append(self.path)
            super().do_GET()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recording)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state, seen
    state.release.set()
    server.shutdown()
    server.server_close()


def cli(*args, env_extra=None, **kw):
    env = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, PASSWORD_ENV)}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "collection.cli", *args], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=180, **kw)


# ---------------------------------------------------------------- credentials in the query string

def test_query_credentials_go_with_every_kubo_request(built, recording_ipfs):
    state, seen = recording_ipfs
    api = f"{state.url}/?token={SECRET}"
    p = cli("publish", str(built), "--to", "kubo", "--api", api)
    assert p.returncode == 0, p.stderr
    assert seen and all(path.startswith("/api/v0/") and f"token={SECRET}" in path for path in seen), seen
    assert {path.split("?")[0] for path in seen} == {"/api/v0/pin/ls", "/api/v0/dag/import"}
    assert SECRET not in p.stdout + p.stderr
    for f in built.rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f


def test_query_and_userinfo_together_with_a_path_prefix(built, recording_ipfs):
    state, seen = recording_ipfs
    host = state.url.removeprefix("http://")
    pub = make_publisher("kubo", None, api=f"http://bob:pw{SECRET}@{host}/?access_token={SECRET}&x=1",
                         policy=RetryPolicy(sleep=Sleeps()))
    publish(built, pub, log=lambda s: None)
    assert all(f"access_token={SECRET}" in path and "x=1" in path for path in seen)
    assert state.auth and all(a and a.startswith("Basic ") for a in state.auth)
    assert SECRET not in repr(pub)


def test_query_credentials_go_with_every_pinata_request(built, recording_ipfs, monkeypatch):
    state, seen = recording_ipfs
    monkeypatch.setenv("PINATA_JWT", state.jwt)
    pub = make_publisher("pinata", None, api=f"{state.url}/?key={SECRET}", policy=RetryPolicy(sleep=Sleeps()))
    publish(built, pub, log=lambda s: None)
    assert seen and all(path.startswith("/v3/files") and f"key={SECRET}" in path for path in seen), seen


def test_a_failing_endpoint_never_shows_its_credentials(built, recording_ipfs):
    state, _ = recording_ipfs
    state.faults["pin/ls"] = ["500"] * 20
    host = state.url.removeprefix("http://")
    api = f"http://alice:{SECRET}@{host}/?token={SECRET}"
    p = cli("publish", str(built), "--to", "kubo", "--api", api)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert SECRET not in p.stdout + p.stderr and "token=***" in p.stderr


def test_mint_never_shows_the_rpc_key_or_the_signing_key(tmp_path):
    from eth_account import Account

    from contracts.chain import rpc_call, start_anvil

    node = start_anvil(extra=("--chain-id", "11155111"))
    try:
        acct = Account.create()
        key_hex = "0x" + bytes(acct.key).hex()
        build = make_chain_build(tmp_path / "b", supply=2, tiny=True)          # refused: test renders, unpinned, 0 ETH
        url = f"{node.url}/?apikey={SECRET}"
        refused = cli("mint", str(build), "--rpc-url", url, "--yes", env_extra={KEY_ENV: key_hex})
        assert refused.returncode == 2 and "3 problems" in refused.stderr
        rpc_call(node.url, "anvil_setBalance", [acct.address, hex(10**19)])
        done = cli("mint", str(build), "--rpc-url", url, "--yes", "--allow-test-renders", "--allow-unpinned",
                   env_extra={KEY_ENV: key_hex})
        assert done.returncode == 0, done.stderr
    finally:
        node.stop()
    said = refused.stdout + refused.stderr + done.stdout + done.stderr
    assert SECRET not in said and key_hex[2:] not in said.lower()
    for f in build.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert SECRET.encode() not in data and key_hex[2:].encode() not in data.lower(), f


@pytest.mark.parametrize("url, hidden", [
    (f"http://h:5001/api/v0/x?token={SECRET}", SECRET),
    (f"https://eth-sepolia.g.alchemy.com/v2/{SECRET}abcdefgh", SECRET),
    (f"https://u:{SECRET}@h/?Api-Key={SECRET}", SECRET),
    (f"http://h/?jwt={SECRET}&signature={SECRET}", SECRET),
])
def test_redaction_covers_userinfo_query_and_path_keys(url, hidden):
    assert hidden not in redact_url(url)
    assert hidden not in redact_text(f"HTTPConnectionPool: Max retries exceeded with url: {url} (Caused by …)")


def test_endpoint_paths_keep_the_query_after_the_path():
    assert endpoint_url("http://h:5001/?token=t", "api/v0/pin/ls") == "http://h:5001/api/v0/pin/ls?token=t"
    assert endpoint_url("http://h:5001/ipfs-proxy/", "api/v0/x") == "http://h:5001/ipfs-proxy/api/v0/x"


# ---------------------------------------------------------------- a total deadline per request

class Stalling:
    """A TCP server on 127.0.0.1 that accepts every connection, reads what comes, and then either
    never answers ("silent") or drips the start of an answer a byte at a time ("trickle")."""

    def __init__(self, mode: str):
        self.mode, self.accepted = mode, 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._hold, args=(conn,), daemon=True).start()

    def _hold(self, conn):
        conn.settimeout(0.2)
        answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + b"X-Pad: " + b"a" * 10_000
        i = 0
        while not self.stop.is_set():
            try:
                if not conn.recv(65536) and self.mode == "silent":
                    break
            except socket.timeout:
                pass
            except OSError:
                break
            if self.mode == "trickle" and i < len(answer):
                try:
                    conn.sendall(answer[i:i + 1])   # a byte per 0.2 s: no single read ever times out
                except OSError:
                    break
                i += 1
        conn.close()

    def close(self):
        self.stop.set()
        self.sock.close()


@pytest.mark.parametrize("mode", ["silent", "trickle"])
def test_a_node_that_stalls_is_given_up_on_within_the_deadline(built, mode):
    server = Stalling(mode)
    try:
        logs: list[str] = []
        policy = RetryPolicy(sleep=Sleeps(), request_timeout=1.0, progress_every=0.3)   # read_timeout stays 600 s
        pub = make_publisher("kubo", None, api=server.url, policy=policy)
        done: list[BaseException] = []
        t = threading.Thread(target=lambda: _catch(done, lambda: publish(built, pub, log=logs.append)), daemon=True)
        t.start()
        t.join(120)   # not a timing assertion: a hang must end the test, not the suite
        assert not t.is_alive(), "publish still waiting on a stalled node"
        (e,) = done
        assert isinstance(e, PublishError), e
        assert "no complete answer within 1.0 s (--timeout 1 s)" in e.message and "2 times" in e.message
        assert "--timeout" in e.hint
        assert server.accepted == 2   # tried twice, then given up on
        assert any("gives up at 1 s" in line for line in logs)
    finally:
        server.close()


def _catch(out: list, fn) -> None:
    try:
        fn()
    except BaseException as e:  # noqa: BLE001 - handed to the test thread
        out.append(e)


def test_the_cli_states_and_takes_the_deadline(built):
    help_text = cli("publish", "--help").stdout
    assert "--timeout SECONDS" in help_text and "(default 60 s, plus 1 s per 256 KiB uploaded)" in " ".join(
        help_text.split())
    server = Stalling("silent")
    try:
        p = cli("publish", str(built), "--to", "kubo", "--api", server.url, "--timeout", "0.5")
    finally:
        server.close()
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert "no complete answer within 0.5 s" in p.stderr and p.stderr.startswith("error: ")
    for bad in ("0", "-1", "soon", "inf"):
        q = cli("publish", str(built), "--to", "kubo", "--timeout", bad)
        assert q.returncode == 2 and "--timeout" in q.stderr


# ---------------------------------------------------------------- anvil dies with mint

def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for a parent that never reaps it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


def _wait_gone(pid: int, limit: float = 30.0) -> bool:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def _mint_until_anvil(build: Path, *extra: str) -> tuple[subprocess.Popen, int]:
    env = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, PASSWORD_ENV)}
    proc = subprocess.Popen([sys.executable, "-m", "collection.cli", "mint", str(build), "--network", "local",
                             "--batch-size", "1", *extra], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    node = build / "chain" / "anvil.json"
    end = time.monotonic() + 60
    while time.monotonic() < end and proc.poll() is None:
        try:
            pid = json.loads(node.read_text())["pid"]
        except (OSError, ValueError, KeyError):
            time.sleep(0.02)
            continue
        return proc, pid
    proc.kill()
    pytest.fail("mint never started its anvil")


def test_sigkill_of_mint_takes_its_anvil_along(tmp_path):
    build = make_chain_build(tmp_path / "b", supply=300)   # 300 one-token batches: still minting when killed
    proc, pid = _mint_until_anvil(build)
    assert _alive(pid)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL            # killed mid-run, not finished
    assert _wait_gone(pid), f"anvil {pid} outlived the killed mint"
    # ... having dumped its state on the SIGTERM it got: the re-run resumes on the same chain
    from contracts.mint import mint_build

    rep = mint_build(build, network="local")
    assert rep.verified and len(rep.minted_ids) == 300


def test_keep_chain_is_the_one_way_to_leave_anvil_running(tmp_path):
    from contracts.chain import stop_local_chain

    build = make_chain_build(tmp_path / "b", supply=300)
    proc, pid = _mint_until_anvil(build, "--keep-chain")
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    try:
        time.sleep(0.5)
        assert _alive(pid)          # asked for: it outlives the mint
    finally:
        stop_local_chain(build)
    assert _wait_gone(pid)


# ---------------------------------------------------------------- temp files of atomic writes

def _leftover(folder: Path, name: str, age: float = 3600.0) -> Path:
    p = folder / name
    p.write_bytes(b"half a file")
    t = PROCESS_START - age
    os.utime(p, (t, t))
    return p


def test_leftover_temp_files_are_removed_at_the_next_run_of_the_step(built):
    md = built / "metadata"
    stale = [_leftover(md, ".3.json.k2j4h5g6.tmp"), _leftover(md, ".collection.json.abcdefgh.tmp")]
    kept = [_leftover(md, ".notes.tmp"), _leftover(md, "3.json.tmp"), _leftover(md, ".3.json.ABCDEFGH.tmp"),
            _leftover(md, "mine.json.k2j4h5g6.tmp")]
    p = cli("metadata", str(built))
    assert p.returncode == 0, p.stderr
    assert not any(f.exists() for f in stale)
    assert all(f.exists() for f in kept)   # not the tool's own pattern: never touched


def test_a_write_killed_mid_file_leaves_a_temp_the_next_metadata_removes(built):
    target = built / "metadata" / "3.json"
    before = target.read_bytes()
    code = ("import os, signal, sys; from buildfiles.atomicio import atomic_open; "
            "cm = atomic_open(sys.argv[1]); fh = cm.__enter__(); fh.write(b'{\"name\": \"half'); fh.flush(); "
            "os.kill(os.getpid(), signal.SIGKILL)")
    p = subprocess.run([sys.executable, "-c", code, str(target)], cwd=REPO)
    assert p.returncode == -signal.SIGKILL
    left = list((built / "metadata").glob(".3.json.*.tmp"))
    assert len(left) == 1 and target.read_bytes() == before      # the file itself is whole: atomic
    assert cli("metadata", str(built)).returncode == 0
    assert not left[0].exists() and target.read_bytes() == before


def test_only_files_older_than_the_process_and_only_files(tmp_path):
    young = tmp_path / ".a.json.abcdefgh.tmp"
    young.write_bytes(b"x")
    future = time.time() + 3600            # written after this process started: another writer's, in flight
    os.utime(young, (future, future))
    (tmp_path / ".b.json.abcdefgh.tmp").mkdir()   # a directory of that name is not a temp file
    target = _leftover(tmp_path, "real.json")
    (tmp_path / ".c.json.abcdefgh.tmp").symlink_to(target)
    old = _leftover(tmp_path, ".d.json.abcdefgh.tmp")
    assert clean_stale_temps(tmp_path) == [old]
    assert young.exists() and (tmp_path / ".b.json.abcdefgh.tmp").is_dir() and target.exists()
    assert (tmp_path / ".c.json.abcdefgh.tmp").is_symlink()


def test_a_write_cleans_its_folder_once(tmp_path):
    old = _leftover(tmp_path, ".x.json.abcdefgh.tmp")
    write_json(tmp_path / "x.json", {"a": 1})
    assert not old.exists() and json.loads((tmp_path / "x.json").read_text()) == {"a": 1}
    again = _leftover(tmp_path, ".y.json.abcdefgh.tmp")
    write_json(tmp_path / "y.json", {})
    assert again.exists()   # once per folder and process: a long run does not rescan on every write
