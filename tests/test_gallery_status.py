"""Mint status on the page: CIDs (gateway links only when the user names a gateway), chain,
contract, each token's tokenURI, explorer links for known testnets; the page follows `publish`
and `mint`; and still no request leaves file:// unless a gateway was configured."""

from __future__ import annotations

import json
import re

import pytest

from buildfiles.errors import UserError
from collection.cli import main
from preview import make_preview
from tests.fixtures_preview import browser, open_gallery, preview_build  # noqa: F401  (fixtures)

IMAGES = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"
META = "bafybeibwzifw52ttrkqlikfzext5akxu7lz4xiwjgwzmqcpdzmp3n5vnbe"
CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def write_publish(build, provider="kubo"):
    (build / "publish.json").write_text(json.dumps({
        "provider": provider, "endpoint": "http://user:secret@127.0.0.1:5001", "images_cid": IMAGES, "animations_cid": None,
        "metadata_cid": META, "base_uri": f"ipfs://{META}/", "contract_uri": f"ipfs://{META}/collection.json",
        "uploaded_at": "2026-11-26T06:00:00+00:00"}))


def write_mint(build, chain_id=11155111, count=4):
    (build / "mint.json").write_text(json.dumps({
        "format": "roboz-mint/1", "chain_id": chain_id, "network": "sepolia", "contract_address": CONTRACT,
        "minted": {"first_id": 1, "count": count}, "verified": {"ok": True, "problems": []}, "txs": []}))


def hrefs(page) -> list[str]:
    return page.locator("a[href]").evaluate_all("as => as.map(a => a.href)")


def test_before_publish_the_page_says_what_to_run(browser, preview_build):
    b = preview_build(3)
    make_preview(b.path, thumb_size=32, report=False)
    g = open_gallery(browser, b.path)
    assert "not published" in g.page.locator("#status-ipfs").text_content()
    assert "not minted" in g.page.locator("#status-chain").text_content()
    assert hrefs(g.page) == []


def test_published_and_minted_on_sepolia_without_a_gateway(browser, preview_build, monkeypatch):
    monkeypatch.delenv("ROBOZ_IPFS_GATEWAY", raising=False)
    b = preview_build(5)
    write_publish(b.path)
    write_mint(b.path, count=4)
    html = make_preview(b.path, thumb_size=32, report=False).gallery.read_text()
    assert "secret" not in html and "5001" not in html  # the endpoint (maybe with credentials) is never shown
    g = open_gallery(browser, b.path)
    p = g.page
    ipfs = p.locator("#status-ipfs").text_content()
    assert "published on kubo" in ipfs and IMAGES in ipfs and META in ipfs and "No gateway links" in ipfs
    chain = p.locator("#status-chain").text_content()
    assert "Sepolia (chain id 11155111)" in chain and "4 of 5 tokens" in chain
    assert p.locator("#contract-address").text_content() == CONTRACT
    # no gateway configured: the only links are the public testnet's explorer
    assert hrefs(p) == [f"https://sepolia.etherscan.io/address/{CONTRACT}"]

    p.locator('#grid .card[data-id="3"]').click()
    p.wait_for_selector("#detail:not([hidden])")
    assert p.locator("#detail-token-uri").text_content() == f"ipfs://{META}/3.json"
    assert p.locator("#detail-minted").text_content().startswith("yes, on Sepolia")
    assert f"https://sepolia.etherscan.io/nft/{CONTRACT}/3" in hrefs(p)
    p.keyboard.press("ArrowRight")
    p.keyboard.press("ArrowRight")  # token 5: not minted yet (count 4)
    p.wait_for_function("() => document.getElementById('detail-token-uri')?.textContent.endsWith('/5.json')")
    assert p.locator("#detail-minted").text_content() == "not yet"
    assert all(u.startswith("file://") for u in g.requests), g.requests
    assert not g.errors


def test_gateway_links_only_when_configured(browser, preview_build, monkeypatch):
    b = preview_build(2)
    write_publish(b.path)
    monkeypatch.setenv("ROBOZ_IPFS_GATEWAY", "https://gw.example/ipfs/")
    make_preview(b.path, thumb_size=32, report=False)
    g = open_gallery(browser, b.path, "#token-2")
    links = hrefs(g.page)
    assert f"https://gw.example/ipfs/{IMAGES}/" in links
    assert f"https://gw.example/ipfs/{META}/collection.json" in links
    assert f"https://gw.example/ipfs/{META}/2.json" in links and f"https://gw.example/ipfs/{IMAGES}/2.png" in links
    # links, not fetches: opening the page still requests nothing beyond file://
    assert all(u.startswith("file://") for u in g.requests), g.requests
    # the flag wins over the environment
    make_preview(b.path, thumb_size=32, report=False, gateway="http://127.0.0.1:8080")
    g = open_gallery(browser, b.path)
    assert f"http://127.0.0.1:8080/ipfs/{META}/" in hrefs(g.page)


@pytest.mark.parametrize("bad", ["ftp://gw.example", "https://user:pw@gw.example", "gw.example", "https://gw.example/?token=1"])
def test_bad_gateway_is_one_line(preview_build, bad):
    b = preview_build(1)
    with pytest.raises(UserError, match="gateway"):
        make_preview(b.path, thumb_size=32, report=False, gateway=bad)


def test_local_chain_has_no_explorer(browser, preview_build):
    b = preview_build(2)
    write_publish(b.path, provider="car")
    write_mint(b.path, chain_id=31337, count=2)
    make_preview(b.path, thumb_size=32, report=False)
    g = open_gallery(browser, b.path)
    assert "local anvil (chain id 31337)" in g.page.locator("#status-chain").text_content()
    assert "CAR files written" in g.page.locator("#status-ipfs").text_content()
    assert hrefs(g.page) == []


def test_garbled_mint_json_is_one_line_naming_it(preview_build, capsys):
    b = preview_build(2)
    (b.path / "mint.json").write_text('{"format": "roboz-mint/1"')
    assert main(["preview", str(b.path), "--thumb-size", "32", "--no-report"]) != 0
    err = capsys.readouterr().err
    assert "mint.json" in err and "Traceback" not in err and err.startswith("error: ")


def embedded_status(build) -> dict:
    html = (build / "gallery.html").read_text()
    return json.loads(re.search(r'id="roboz-data">(.*?)</script>', html, re.S)[1])["status"]


def test_page_follows_publish_and_mint(preview_build, monkeypatch, capsys):
    monkeypatch.delenv("ROBOZ_PRIVATE_KEY", raising=False)
    b = preview_build(3, records="tiny")
    assert main(["metadata", str(b.path)]) == 0
    assert main(["preview", str(b.path), "--thumb-size", "32", "--no-report"]) == 0
    assert embedded_status(b.path)["cids"]["source"] == "cids.json"
    assert embedded_status(b.path)["minted"] is None

    assert main(["publish", str(b.path), "--to", "car"]) == 0
    s = embedded_status(b.path)
    pub = json.loads((b.path / "publish.json").read_text())
    assert s["cids"]["source"] == "publish.json" and s["cids"]["provider"] == "car"
    assert s["cids"]["metadata"] == pub["metadata_cid"] and s["cids"]["base_uri"] == pub["base_uri"]

    assert main(["mint", str(b.path), "--network", "local"]) == 0
    from buildfiles.mint_journal import load_journal

    s = embedded_status(b.path)
    local = load_journal(b.path).chains[31337]
    assert s["minted"]["contract"] == local.contract_address and s["minted"]["count"] == 3
    assert s["minted"]["chain_id"] == 31337 and s["minted"]["verified"] is True
    assert "Traceback" not in capsys.readouterr().err
