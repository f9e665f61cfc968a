"""write_mint_page's output, without a browser: what the page carries and what it may reach."""

from __future__ import annotations

import base64
import hashlib
import json
import re

import pytest

from buildfiles.errors import UserError
from buildfiles.jsonfile import BuildFileError
from buildfiles.sale import SalePhase
from contracts.merkle import StandardMerkleTree
from preview.mint_page import write_mint_page
from tests.fixtures_preview import HOSTILE_NAME, write_mint_inputs

CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
LISTED = [("0x70997970C51812dc3A010C7d01b50e0d17dc79C8", 2), ("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", 1)]


def _phases(tree):
    return [SalePhase("allowlist", 1_900_000_000, 10**16, 2, 0, tree.root),
            SalePhase("public", 1_900_086_400, 2 * 10**16, 5, 0, "0x" + "0" * 64)]


def _build(tmp_path, **kw):
    tree = StandardMerkleTree.of(LISTED)
    return write_mint_inputs(tmp_path / "build", contract=CONTRACT, phases=_phases(tree), trees={"0": tree.dump()}, **kw)


def _csp(html: str) -> str:
    m = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', html)
    assert m, "no CSP meta element"
    return m[1].replace("&#x27;", "'")


def _inline_scripts(html: str) -> list[str]:
    return re.findall(r"<script>(.*?)</script>", html, re.DOTALL)


def test_page_is_self_contained_under_its_csp(tmp_path):
    build = _build(tmp_path)
    page = write_mint_page(build)
    assert page == build / "mint" / "index.html"
    html = page.read_text("utf-8")
    csp = _csp(html)
    assert "default-src 'none'" in csp and "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    scripts = _inline_scripts(html)
    assert len(scripts) == 2  # viem, then the page's own script
    for s in scripts:
        digest = base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    style = re.search(r"<style>(.*?)</style>", html, re.DOTALL)[1]
    assert "'sha256-" + base64.b64encode(hashlib.sha256(style.encode()).digest()).decode() + "'" in csp
    # a local chain's RPC origin is the one address the page may fetch
    assert "connect-src http://127.0.0.1:8545" in csp
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), "external resource"
    assert "Connect wallet" in html and 'name="quantity"' in html and ">Mint</button>" in html


def test_drop_json_is_inlined_and_beside_the_page(tmp_path):
    build = _build(tmp_path)
    html = write_mint_page(build).read_text("utf-8")
    inline = json.loads(re.search(r'<script type="application/json" id="drop">(.*?)</script>', html, re.DOTALL)[1])
    beside = json.loads((build / "mint" / "drop.json").read_text())
    assert inline == beside
    assert inline["contract"] == CONTRACT and inline["chain"]["id"] == 31337
    assert [p["name"] for p in inline["phases"]] == ["allowlist", "public"]
    assert inline["phases"][0]["price_wei"] == str(10**16)   # wei as text: past 2**53 a JS number rounds
    assert inline["phases"][0]["tree"]["tree"][0] == StandardMerkleTree.of(LISTED).root
    assert inline["phases"][1]["tree"] is None
    assert {e["name"] for e in inline["abi"] if e["type"] == "function"} >= {"mint", "phaseAt", "totalMinted"}
    assert inline["errors"]["NotOnAllowlist"]
    assert (build / "mint" / inline["cover"]).read_bytes() == (build / "images" / "collection.png").read_bytes()
    assert (build / "mint" / inline["banner"]).is_file()


def test_public_chain_page_carries_no_rpc_url(tmp_path):
    build = _build(tmp_path, chain_id=11155111, rpc_url="https://sepolia.example/v3/SECRETKEY")
    html = write_mint_page(build).read_text("utf-8")
    assert "SECRETKEY" not in html and "SECRETKEY" not in (build / "mint" / "drop.json").read_text()
    assert "connect-src 'none'" in _csp(html)


def test_collection_text_cannot_close_the_script(tmp_path):
    build = _build(tmp_path, name=HOSTILE_NAME, description="<img src=x onerror=alert(1)>")
    html = write_mint_page(build).read_text("utf-8")
    assert HOSTILE_NAME not in html and "<img src=x" not in html
    assert html.count("</script>") == 3


def test_rerun_gives_the_same_bytes(tmp_path):
    build = _build(tmp_path)
    first = write_mint_page(build).read_bytes()
    assert write_mint_page(build).read_bytes() == first


def test_missing_sale_json_is_one_line(tmp_path):
    build = _build(tmp_path)
    (build / "sale.json").unlink()
    with pytest.raises(UserError, match=r"sale\.json not found") as e:
        write_mint_page(build)
    assert "roboz-collection sale" in e.value.hint


def test_allowlist_phase_without_its_tree_is_refused(tmp_path):
    tree = StandardMerkleTree.of(LISTED)
    build = write_mint_inputs(tmp_path / "build", contract=CONTRACT, phases=_phases(tree), trees={})
    with pytest.raises(BuildFileError, match="phase 0 .allowlist. is an allowlist phase without its tree"):
        write_mint_page(build)
    other = StandardMerkleTree.of(LISTED[:1])
    build = write_mint_inputs(tmp_path / "build2", contract=CONTRACT, phases=_phases(tree), trees={"0": other.dump()})
    with pytest.raises(BuildFileError, match="is not the phase's root"):
        write_mint_page(build)
