"""Fixtures for metadata/IPFS tests: the independent ipfs-car, a fake Kubo/Pinata server, build dirs.

The fake server is a real HTTP server on 127.0.0.1 implementing the documented
endpoints (Kubo RPC `/api/v0/dag/import`, `/api/v0/pin/ls`; Pinata `POST /v3/files`
and `GET /v3/files/public`). It parses every CAR it receives with its own small
reader (not metadata/car.py) and checks every block's sha2-256, so a bug in our CAR
writer cannot hide behind the same bug in the checker.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

JS_DIR = Path(__file__).parent / "js"


# --- ipfs-car (npm), the independent implementation --------------------------------


def _ipfs_car_bin() -> Path:
    bin_path = JS_DIR / "node_modules" / ".bin" / "ipfs-car"
    if not bin_path.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("tests/js needs `npm ci` (node 20 + npm) to install ipfs-car@3")
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=JS_DIR, check=True, capture_output=True)
    return bin_path


@pytest.fixture(scope="session")
def ipfs_car():
    """Callable: ipfs_car("pack", path, "--output", car) -> stdout (stripped)."""
    bin_path = _ipfs_car_bin()

    def run(*args) -> str:
        out = subprocess.run([str(bin_path), *map(str, args)], check=True, capture_output=True, text=True)
        return out.stdout.strip()

    return run


def ipfs_car_pack(ipfs_car, path: Path, car: Path, *, wrap: bool = False) -> str:
    args = ["pack", path, "--output", car]
    if path.is_file() and not wrap:
        args.append("--no-wrap")
    return ipfs_car(*args).splitlines()[-1]


# --- an independent CAR reader ---------------------------------------------------


def _uvarint(buf: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return n, i


def b32cid(raw: bytes) -> str:
    return "b" + base64.b32encode(raw).decode().lower().rstrip("=")


def parse_car(data: bytes) -> tuple[list[str], dict[str, bytes]]:
    """Roots and {cid: block} of a CARv1; raises AssertionError on any bad block hash."""
    hlen, i = _uvarint(data, 0)
    header = data[i:i + hlen]
    i += hlen
    assert header.endswith(b"\x67version\x01"), "not a CARv1 header"
    roots = []
    j = header.find(b"\xd8\x2a\x58\x25\x00")
    while j != -1:
        roots.append(b32cid(header[j + 5:j + 5 + 36]))
        j = header.find(b"\xd8\x2a\x58\x25\x00", j + 1)
    blocks: dict[str, bytes] = {}
    while i < len(data):
        n, i = _uvarint(data, i)
        section = data[i:i + n]
        assert len(section) == n, "truncated CAR section"
        i += n
        cid, block = section[:36], section[36:]
        assert cid[0] == 1 and cid[2:4] == b"\x12\x20", "expected CIDv1 sha2-256"
        assert hashlib.sha256(block).digest() == cid[4:], f"bad block hash for {b32cid(cid)}"
        blocks[b32cid(cid)] = block
    return roots, blocks


# --- a small build directory, made without the other steps' code ----------------

TRAITS = [
    {"Body": "Rusty", "Eyes": "Laser"},
    {"Body": "Rusty", "Eyes": "Sleepy"},
    {"Body": "Chrome", "Eyes": "Laser"},
    {"Body": "Rusty", "Eyes": "Laser"},
    {"Body": "Gold", "Eyes": "Sleepy"},
]


def make_build_dir(root: Path, *, n: int = 5, special: bool = True, video_ids=(2,), tiny: bool = True,
                   royalties: bool = True, collection_image: bool = False, legacy_records: bool = False) -> Path:
    """plan.json (planfile format) + images/{id}.png (PIL) + renders/{id}.json [+ animations/{id}.mp4].
    Render records hold image_sha256 as the renderer writes it; `legacy_records` leaves it out (older builds)."""
    from PIL import Image

    from buildfiles.plan import PlannedToken, iter_plan_json

    build = root / "build"
    (build / "images").mkdir(parents=True)
    (build / "renders").mkdir()
    tokens = []
    for k in range(n):
        tid = 1 + k
        is_special = special and k == n - 1
        traits = {} if is_special else dict(TRAITS[k % len(TRAITS)])
        name = "Jax the First" if is_special else f"Rusty Roboz #{tid}"
        tokens.append(PlannedToken(tid, name, "Jax" if is_special else None, traits,
                                   f"a {traits.get('Body', 'jax')} robot:1", 1000 + tid, {}))
        img = Image.new("RGB", (16, 16), ((tid * 40) % 256, 80, 160))
        img.save(build / "images" / f"{tid}.png")
        render = {"id": tid, "models": ["tiny-vqgan", "tiny-clip"], "tiny": tiny, "iterations": 20,
                  "seed": 1000 + tid, "size": [16, 16], "final_loss": 0.5, "seconds": 1.0,
                  "device": "cpu", "settings": {}}
        if not legacy_records:
            render["image_sha256"] = hashlib.sha256((build / "images" / f"{tid}.png").read_bytes()).hexdigest()
        (build / "renders" / f"{tid}.json").write_text(json.dumps(render))
        if tid in video_ids:
            (build / "animations").mkdir(exist_ok=True)
            (build / "animations" / f"{tid}.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes([tid]) * 100)
    image = None
    if collection_image:
        (build / "inputs").mkdir()
        Image.new("RGB", (8, 8), (1, 2, 3)).save(build / "inputs" / "cover.png")
        image = "inputs/cover.png"
    header = {
        "manifest_sha256": "0" * 64,
        "collection": {
            "name": "Rusty Roboz", "symbol": "ROBOZ", "description": "Robots rendered with VQGAN+CLIP.",
            "external_url": "https://roboz.example/token/{id}", "image": image,
            "name_template": "Rusty Roboz #{id}", "seed": 7, "start_id": 1, "supply": n, "shuffle": False,
            "royalties": {"receiver": "0x" + "ab" * 20, "bps": 500} if royalties else None,
        },
        "render": {"iterations": 20},
        "inputs": {},
    }
    (build / "plan.json").write_text("".join(iter_plan_json(header, tokens)))
    return build


def repaint(build: Path, tid: int, colour: tuple[int, int, int]) -> None:
    """What a re-render does to a token: a new image, and its render record updated to match."""
    from PIL import Image

    Image.new("RGB", (16, 16), colour).save(build / "images" / f"{tid}.png")
    rec = json.loads((build / "renders" / f"{tid}.json").read_text())
    rec["image_sha256"] = hashlib.sha256((build / "images" / f"{tid}.png").read_bytes()).hexdigest()
    (build / "renders" / f"{tid}.json").write_text(json.dumps(rec))


@pytest.fixture
def build_dir(tmp_path) -> Path:
    return make_build_dir(tmp_path)


# --- a fake Kubo RPC + Pinata server on 127.0.0.1 ----------------------------------


def pb_links(block: bytes) -> list[str]:
    """CIDs linked from a dag-pb node (PBNode field 2 = PBLink, whose field 1 = Hash)."""
    out, i = [], 0
    while i < len(block):
        key, i = _uvarint(block, i)
        n, i = _uvarint(block, i)
        if key == (2 << 3) | 2:
            link = block[i:i + n]
            k2, j = _uvarint(link, 0)
            assert k2 == (1 << 3) | 2
            ln, j = _uvarint(link, j)
            out.append(b32cid(link[j:j + ln]))
        i += n
    return out


@dataclass
class FakeIpfs:
    """State and fault plan of the fake server. faults["dag/import"] = ["500", "429", "drop", "wrong_cid",
    "garbage", "shape", "hang"] are consumed one per request, in order. garbage: 200 with an HTML body;
    shape: 200 with JSON of the wrong shape; hang: read the request, then never answer (until teardown)."""

    jwt: str = "test-jwt-SECRET"
    retry_after: str = "2"
    pins: set = field(default_factory=set)
    blocks: dict = field(default_factory=dict)
    faults: dict = field(default_factory=dict)
    calls: list = field(default_factory=list)       # (endpoint, outcome)
    errors: list = field(default_factory=list)      # problems the server found in what it received
    url: str = ""
    release: threading.Event = field(default_factory=threading.Event)   # ends every "hang"
    auth: list = field(default_factory=list)       # Authorization headers seen by the Kubo endpoints

    def next_fault(self, endpoint: str) -> str | None:
        q = self.faults.get(endpoint) or []
        return q.pop(0) if q else None

    def uploads(self, endpoint: str) -> int:
        return sum(1 for e, outcome in self.calls if e == endpoint and outcome == "ok")

    def import_car(self, data: bytes) -> list[str]:
        roots, blocks = parse_car(data)  # AssertionError on a bad block hash
        self.blocks.update(blocks)
        for root in roots:  # the whole DAG must be there, as a pin would require
            stack = [root]
            while stack:
                c = stack.pop()
                assert c in self.blocks, f"block {c} missing under root {root}"
                if c.startswith("bafy"):
                    stack.extend(pb_links(self.blocks[c]))
        return roots


def _multipart(body: bytes, content_type: str) -> dict[str, bytes]:
    boundary = content_type.split("boundary=")[1].encode()
    parts = {}
    for chunk in body.split(b"--" + boundary)[1:-1]:
        head, _, value = chunk[2:].partition(b"\r\n\r\n")
        name = head.split(b'name="')[1].split(b'"')[0].decode()
        parts[name] = value[:-2]
    return parts


def _handler(state: FakeIpfs):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def _send(self, code: int, payload, headers=None):
            body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _fault(self, endpoint: str) -> str | None:
            q = state.faults.get(endpoint) or []
            if q and q[0] == "wrong_cid":
                return None  # consumed by the endpoint itself, after a good import
            fault = state.next_fault(endpoint)
            if fault == "500":
                state.calls.append((endpoint, "500"))
                self._send(500, {"Message": "injected failure", "Code": 0, "Type": "error"})
            elif fault == "429":
                state.calls.append((endpoint, "429"))
                self._send(429, {"error": "rate limited"}, {"Retry-After": state.retry_after})
            elif fault == "drop":
                # read part of the upload, then hang up without an answer
                n = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(min(n, max(1, n // 2)))
                state.calls.append((endpoint, "drop"))
                self.close_connection = True
                self.connection.shutdown(2)
            elif fault == "garbage":
                self._body()
                state.calls.append((endpoint, "garbage"))
                self._send(200, b"<html><body>IPFS gateway</body></html>", {"Content-Type": "text/html"})
            elif fault == "shape":
                self._body()
                state.calls.append((endpoint, "shape"))
                self._send(200, {"Keys": []} if endpoint == "pin/ls" else {"Root": "bafy"})
            elif fault == "hang":
                self._body()
                state.calls.append((endpoint, "hang"))
                state.release.wait(30)
                self.close_connection = True
            return fault if fault in ("500", "429", "drop", "garbage", "shape", "hang") else None

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length", "0")))

        def _import(self, endpoint: str) -> list[str] | None:
            body = self._body()
            try:
                return state.import_car(_multipart(body, self.headers["Content-Type"])["file"])
            except (AssertionError, KeyError, IndexError) as e:
                state.errors.append(f"{endpoint}: {e}")
                state.calls.append((endpoint, "bad car"))
                self._send(500, {"Message": f"bad CAR: {e}", "Code": 0, "Type": "error"})
                return None

        def do_POST(self):
            u = urlparse(self.path)
            q = parse_qs(u.query)
            if u.path.startswith("/api/v0/"):
                state.auth.append(self.headers.get("Authorization"))
            if u.path == "/api/v0/dag/import":
                if self._fault("dag/import"):
                    return
                wrong = state.faults.get("dag/import") and state.faults["dag/import"][0] == "wrong_cid"
                if wrong:
                    state.faults["dag/import"].pop(0)
                roots = self._import("dag/import")
                if roots is None:
                    return
                if q.get("pin-roots", ["true"])[0] == "true":
                    state.pins.update(roots)
                state.calls.append(("dag/import", "ok"))
                lines = []
                for r in roots:
                    reported = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku" if wrong else r
                    lines.append(json.dumps({"Root": {"Cid": {"/": reported}, "PinErrorMsg": ""}}))
                self._send(200, ("\n".join(lines) + "\n").encode())
            elif u.path == "/api/v0/pin/ls":
                if self._fault("pin/ls"):
                    return
                cid = q["arg"][0]
                state.calls.append(("pin/ls", "ok"))
                if cid in state.pins:
                    self._send(200, {"Keys": {cid: {"Type": "recursive"}}})
                else:
                    self._send(500, {"Message": f"path '{cid}' is not pinned", "Code": 0, "Type": "error"})
            elif u.path == "/v3/files":
                if self.headers.get("Authorization") != f"Bearer {state.jwt}":
                    self._body()
                    self._send(401, {"error": "unauthorized"})
                    return
                if self._fault("pinata/upload"):
                    return
                wrong = state.faults.get("pinata/upload") and state.faults["pinata/upload"][0] == "wrong_cid"
                if wrong:
                    state.faults["pinata/upload"].pop(0)
                body = self._body()
                form = _multipart(body, self.headers["Content-Type"])
                assert form.get("car") == b"true" and form.get("network") == b"public"
                try:
                    roots = state.import_car(form["file"])
                except AssertionError as e:
                    state.errors.append(f"pinata: {e}")
                    self._send(400, {"error": str(e)})
                    return
                state.pins.update(roots)
                state.calls.append(("pinata/upload", "ok"))
                cid = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku" if wrong else roots[0]
                self._send(200, {"data": {"id": "x", "cid": cid, "name": form["name"].decode(), "is_duplicate": False}})
            else:
                self._send(404, {"error": "no such endpoint"})

        def do_GET(self):
            u = urlparse(self.path)
            if u.path == "/v3/files/public":
                if self.headers.get("Authorization") != f"Bearer {state.jwt}":
                    self._send(401, {"error": "unauthorized"})
                    return
                cid = parse_qs(u.query)["cid"][0]
                state.calls.append(("pinata/list", "ok"))
                files = [{"cid": cid, "name": "x"}] if cid in state.pins else []
                self._send(200, {"data": {"files": files, "next_page_token": None}})
            else:
                self._send(404, {"error": "no such endpoint"})

    return H


@pytest.fixture
def fake_ipfs():
    state = FakeIpfs()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()
