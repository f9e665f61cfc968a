"""Local chain management: start, find and stop anvil (npm @foundry-rs/anvil).

The binary is started directly (0.1 s to ready), not through `npx` (0.4 s per call
and a shell wrapper whose pid is not anvil's). For `--network local` the chain
state lives in the build directory (`anvil --state`), so a local collection
survives restarts, and the running node is recorded so a later run reuses it.

An anvil that `mint` starts for itself dies with it, even when `mint` is SIGKILLed and
cannot clean up: it runs in its own process group (a Ctrl-C meant for `mint` does not cut
its state dump short) and asks the kernel for SIGTERM when its parent dies
(PR_SET_PDEATHSIG), so anvil still dumps its state. Only `--keep-chain` leaves it running.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from buildfiles.atomicio import write_json
from buildfiles.chains import LOCAL_CHAIN_IDS
from buildfiles.errors import UserError

CONTRACTS_DIR = Path(__file__).resolve().parent
ANVIL_BIN = CONTRACTS_DIR / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"

CHAIN_DIR = "chain"                 # inside the build directory
STATE_FILE = "anvil-state.json"
NODE_FILE = "anvil.json"            # {"pid", "port", "state"} of the running node
LOG_FILE = "anvil.log"


@dataclass
class Anvil:
    url: str
    port: int
    pid: int
    process: subprocess.Popen | None = None   # None when reused from an earlier run

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (anvil dumps --state on a clean exit), then SIGKILL if it hangs."""
        stop_pid(self.pid, timeout, self.process)


ANVIL_ENV = "ROBOZ_ANVIL"            # path of an anvil binary, for an installed package without contracts/node_modules
ANVIL_NPM = "npm install @foundry-rs/anvil@1.7.1"   # puts node_modules/.bin/anvil under the current folder


def _native(p: Path) -> Path:
    """npm's `anvil` is a node wrapper (bin.mjs) whose pid is not anvil's, so stopping it could orphan
    the node: use the platform binary npm installed beside it (the one optional dependency that fits)."""
    real = p.resolve()
    if real.name == "bin.mjs":
        for cand in sorted(real.parent.parent.glob("anvil-*/bin/anvil")):
            if os.access(cand, os.X_OK):
                return cand
    return p


def anvil_binary() -> Path:
    """anvil: $ROBOZ_ANVIL if set, else the checkout's contracts/node_modules, else `anvil` on PATH."""
    named = os.environ.get(ANVIL_ENV)
    if named:
        p = Path(named).expanduser()
        if not (p.is_file() and os.access(p, os.X_OK)):
            raise UserError(f"{ANVIL_ENV}={named} is not an executable anvil", hint="point it at the anvil binary, or unset it")
        return _native(p)
    if ANVIL_BIN.exists():
        return ANVIL_BIN
    found = shutil.which("anvil")
    if found:
        return _native(Path(found))
    raise UserError(f"anvil not found (not at {ANVIL_BIN}, not on PATH, {ANVIL_ENV} not set)",
                    hint=f"in a checkout: `cd contracts && npm ci`; elsewhere: `{ANVIL_NPM}` and put node_modules/.bin on "
                         f"PATH (or set {ANVIL_ENV} to the binary), or install Foundry")


# What a child process may inherit. Everything else stays behind: a detached anvil outlives
# `mint` and is readable in /proc/<pid>/environ, so ROBOZ_PRIVATE_KEY, PINATA_JWT, provider
# URLs with API keys and the like must never reach it.
CHILD_ENV_KEEP = ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ")


def scrubbed_env() -> dict[str, str]:
    return {k: os.environ[k] for k in CHILD_ENV_KEEP if k in os.environ}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rpc_call(url: str, method: str, params: list | None = None, timeout: float = 2.0):
    """One raw JSON-RPC call with the stdlib (used before web3 is worth importing)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        reply = json.loads(r.read())
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error'].get('message')}")
    return reply["result"]


def chain_id_at(url: str, timeout: float = 2.0) -> int | None:
    try:
        return int(rpc_call(url, "eth_chainId", timeout=timeout), 16)
    except (OSError, urllib.error.URLError, ValueError, RuntimeError):
        return None


PR_SET_PDEATHSIG = 1


def _die_with(parent_pid: int):
    """A preexec_fn: the child gets SIGTERM when the thread that started it dies (Linux), and
    exits at once if the parent is already gone (died between fork and prctl)."""
    def arm() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):   # not Linux: stop_local_chain and the caller's cleanup remain
            return
        if os.getppid() != parent_pid:
            os._exit(1)
    return arm


def start_anvil(
    *,
    port: int | None = None,
    state: Path | None = None,
    no_mining: bool = False,
    log: Path | None = None,
    detach: bool = False,
    die_with_parent: bool = True,
    extra: tuple[str, ...] = (),
    ready_timeout: float = 15.0,
) -> Anvil:
    """Start anvil on 127.0.0.1 and wait until it answers eth_chainId.

    detach: its own session and process group, so a terminal's Ctrl-C or hang-up reaches
    this process only. die_with_parent: SIGTERM to anvil when this process dies, however it
    dies (SIGKILL included); False only for a node meant to outlive it (`mint --keep-chain`).
    """
    port = port or free_port()
    cmd = [str(anvil_binary()), "--host", "127.0.0.1", "--port", str(port)]
    if state is not None:
        # --state loads at start and dumps on exit; the interval dump keeps most
        # of the state even if anvil itself is killed.
        cmd += ["--state", str(state), "--state-interval", "1"]
    if no_mining:
        cmd += ["--no-mining"]
    cmd += list(extra)
    out = open(log, "ab") if log else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=detach, env=scrubbed_env(),
                                preexec_fn=_die_with(os.getpid()) if die_with_parent else None)
    finally:
        if log:
            out.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise UserError(f"anvil exited at start (code {proc.returncode})",
                            hint=f"see {log}" if log else "is the port in use?")
        if chain_id_at(url, timeout=0.5) is not None:
            return Anvil(url=url, port=port, pid=proc.pid, process=proc)
        time.sleep(0.05)
    proc.kill()
    raise UserError(f"anvil did not answer on {url} within {ready_timeout:.0f} s")


def pid_alive(pid: int) -> bool:
    try:
        # Reap it if it is our own exited child, or a zombie would look alive.
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_pid(pid: int, timeout: float = 10.0, process: subprocess.Popen | None = None) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None:
            if process.poll() is not None:
                return
        elif not pid_alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    if process is not None:
        process.wait()


def local_chain(build_dir: Path, *, tied_to_parent: bool = False) -> tuple[Anvil, bool]:
    """The build's local anvil: reuse the recorded one if it still answers, else start it.

    Returns (node, started_now). State is kept in BUILD/chain/anvil-state.json.
    tied_to_parent: a node started now dies with this process (mint without --keep-chain).
    """
    d = Path(build_dir) / CHAIN_DIR
    d.mkdir(parents=True, exist_ok=True)
    node_file = d / NODE_FILE
    if node_file.exists():
        try:
            rec = json.loads(node_file.read_text("utf-8"))
            url = f"http://127.0.0.1:{int(rec['port'])}"
            if pid_alive(int(rec["pid"])) and chain_id_at(url) in LOCAL_CHAIN_IDS:
                return Anvil(url=url, port=int(rec["port"]), pid=int(rec["pid"])), False
        except (ValueError, KeyError, json.JSONDecodeError):
            pass
    log = d / LOG_FILE
    offset = log.stat().st_size if log.exists() else 0
    try:
        node = start_anvil(state=d / STATE_FILE, log=log, detach=True, die_with_parent=tied_to_parent)
    except UserError:
        said = log.read_bytes()[offset:].decode("utf-8", "replace") if log.exists() else ""
        if STATE_FILE in said:  # anvil names the state file it could not load
            raise UserError(f"{d / STATE_FILE} is corrupt: anvil cannot load the local chain from it",
                            hint=f"move it away to start a fresh local chain (the next `mint --network local` "
                                 f"deploys anew); details in {log}", exit_code=2) from None
        raise
    write_json(node_file, {"pid": node.pid, "port": node.port, "state": STATE_FILE})
    return node, True


def stop_local_chain(build_dir: Path) -> bool:
    """Stop the build's recorded anvil (it dumps its state on exit). True if one was running."""
    node_file = Path(build_dir) / CHAIN_DIR / NODE_FILE
    if not node_file.exists():
        return False
    try:
        rec = json.loads(node_file.read_text("utf-8"))
        pid = int(rec["pid"])
    except (ValueError, KeyError, json.JSONDecodeError):
        node_file.unlink(missing_ok=True)
        return False
    running = pid_alive(pid)
    if running:
        stop_pid(pid)
    node_file.unlink(missing_ok=True)
    return running
