"""The viem the mint page inlines is the committed bundle, built from npm by a documented script.

preview/mint_page/js/ holds package.json + package-lock.json (viem, esbuild) and build.mjs; the
bundle, its sha256 and the licences of every package in it sit in preview/mint_page/vendor/."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "preview" / "mint_page"
JS, VENDOR = PAGE / "js", PAGE / "vendor"


def test_bundle_matches_its_recorded_sha256():
    recorded = (VENDOR / "viem.min.js.sha256").read_text().split()
    assert recorded[1] == "viem.min.js"
    assert hashlib.sha256((VENDOR / "viem.min.js").read_bytes()).hexdigest() == recorded[0]


def test_versions_are_pinned_and_licences_shipped():
    pkg = json.loads((JS / "package.json").read_text())
    lock = json.loads((JS / "package-lock.json").read_text())
    viem = pkg["dependencies"]["viem"]
    assert viem[0].isdigit(), "viem must be pinned to an exact version"
    assert lock["packages"]["node_modules/viem"]["version"] == viem
    header = (VENDOR / "viem.min.js").read_text().splitlines()[0]
    assert f"viem {viem} (MIT)" in header
    licences = (VENDOR / "LICENSES.txt").read_text()
    assert f"==== viem {viem} (MIT) ====" in licences and "Permission is hereby granted" in licences


@pytest.mark.skipif(not (JS / "node_modules" / "esbuild").is_dir() or not shutil.which("node"),
                    reason="preview/mint_page/js has no node_modules: `cd preview/mint_page/js && npm ci`")
def test_committed_bundle_equals_a_fresh_build():
    r = subprocess.run(["node", "build.mjs", "--check"], cwd=JS, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr + r.stdout
