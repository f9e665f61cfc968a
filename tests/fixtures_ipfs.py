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
                   royalties: bool = True, collection_image: bool = False) -> Path:
    """plan.json (planfile format) + images/{id}.png (PIL) + renders/{id}.json [+ animations/{id}.mp4]."""
    from PIL import Image

    from collection.planfile import PlannedToken, iter_plan_json

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


@pytest.fixture
def build_dir(tmp_path) -> Path:
    return make_build_dir(tmp_path)
