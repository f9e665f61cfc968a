"""The mint page in Debian's chromium against a real anvil and the real contract.

The contract is deployed from the committed artifact and put in sale mode with setSale (an
allowlist phase, then a public one); time moves with evm_setNextBlockTimestamp. The page gets a
wallet the way an extension gives one: an EIP-1193 provider injected before the page's scripts
and announced by EIP-6963, whose request() Python answers from anvil's JSON-RPC with anvil's
unlocked accounts (tests/fixtures_preview.py Wallet). Run under flock: a browser per test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from buildfiles.sale import SalePhase
from contracts.compile import load_artifact
from contracts.merkle import StandardMerkleTree
from contracts.sale import PhaseConfig, set_sale_call
from preview.mint_page import write_mint_page
from tests.fixtures_preview import PHONE, Wallet, browser, open_mint_page, write_mint_inputs  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow

ETHER = 10**18
ALLOWLIST_PRICE, PUBLIC_PRICE = ETHER // 100, ETHER // 50
ZERO_ROOT = "0x" + "0" * 64
ERRORS = json.loads((Path(__file__).resolve().parents[1] / "contracts" / "artifacts" / "errors.json").read_text())


@dataclass
class Drop:
    w3: object
    contract: object
    page: Path
    rpc_url: str
    starts: tuple[int, int]
    owner: str
    listed: str       # on the allowlist with allowance 2
    unlisted: str
    buyer: str        # the public phase's collector

    def jump_to(self, ts: int) -> None:
        self.w3.provider.make_request("evm_setNextBlockTimestamp", [ts])
        self.w3.provider.make_request("evm_mine", [])

    def wallet(self, account: str, **kw) -> Wallet:
        return Wallet(self.rpc_url, account, **kw)


def make_drop(anvil, root: Path, max_supply: int = 10) -> Drop:
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(anvil.url))
    owner, listed, other_listed, unlisted, buyer = w3.eth.accounts[:5]
    art = load_artifact()
    factory = w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    tx = factory.constructor("Rusty Roboz", "RRZ", max_supply, 1, "ipfs://bafymeta/", "ipfs://bafymeta/collection.json",
                             owner, 500, owner, "0x" + "0" * 40, 1).transact({"from": owner})
    address = w3.eth.wait_for_transaction_receipt(tx).contractAddress
    contract = w3.eth.contract(address=address, abi=art.abi)
    contract.functions.setProvenanceHash(b"\x11" * 32).transact({"from": owner})
    tree = StandardMerkleTree.of([(listed, 2), (other_listed, 1)])
    now = w3.eth.get_block("latest").timestamp
    starts = (now + 3600, now + 7200)
    phases = [PhaseConfig("allowlist", starts[0], ALLOWLIST_PRICE, 2, 0, tree.root),
              PhaseConfig("public", starts[1], PUBLIC_PRICE, 5, 0, ZERO_ROOT)]
    w3.eth.wait_for_transaction_receipt(set_sale_call(contract, phases, owner, False, "").transact({"from": owner}))
    build = write_mint_inputs(
        root / "build", contract=address, rpc_url=anvil.url, max_supply=max_supply, trees={"0": tree.dump()},
        phases=[SalePhase(p.name, p.start, p.price_wei, p.per_wallet, p.supply, p.merkle_root) for p in phases])
    return Drop(w3, contract, write_mint_page(build), anvil.url, starts, owner, listed, unlisted, buyer)


@pytest.fixture(autouse=True)
def _close_pages(browser):
    # a page left open keeps polling its wallet, whose anvil is gone once its test ends
    yield
    for context in list(browser.contexts):
        context.close()


@pytest.fixture
def drop(anvil, tmp_path):
    return lambda **kw: make_drop(anvil, tmp_path, **kw)


# wait_for_function gets arrow functions only: a bare expression is eval'd inside the page, which the
# page's CSP (no 'unsafe-eval') refuses whenever the first check does not already pass.


def text(g, selector: str) -> str:
    return g.page.locator(selector).text_content().strip()


def connect(g) -> None:
    g.page.get_by_role("button", name="Connect wallet").click()
    g.page.wait_for_selector("#account:not([hidden])")


def mint(g, quantity: int, wait_for: str) -> None:
    g.page.fill('input[name="quantity"]', str(quantity))
    g.page.wait_for_selector("#mint:not([disabled])")
    g.page.get_by_role("button", name="Mint", exact=True).click()
    g.page.wait_for_selector(wait_for, timeout=30_000)


def only_local_requests(g, rpc_url: str | None = None) -> bool:
    # the page reads through the wallet; only while the wallet is on another chain does it ask the
    # local chain's RPC URL itself (the one origin its CSP allows)
    allowed = ("file:", "data:") + ((rpc_url.rstrip("/"),) if rpc_url else ())
    return all(u.startswith(allowed) for u in g.requests)


def test_listed_wallet_mints_with_its_proof(browser, drop):
    d = drop()
    d.jump_to(d.starts[0])
    wallet = d.wallet(d.listed)
    g = open_mint_page(browser, d.page, wallet)
    assert text(g, "#phase-name") == "allowlist"
    assert text(g, "#price") == "0.01 ETH"
    assert text(g, "#minted") == "0 / 10"
    assert text(g, "#countdown-label") == "public opens in"
    connect(g)
    g.page.wait_for_function("() => document.getElementById('eligibility').textContent.includes('may mint 2 more')")
    mint(g, 2, "#receipt:not([hidden])")
    assert text(g, "#token-ids") == "1, 2"
    assert d.contract.functions.balanceOf(d.listed).call() == 2
    assert d.contract.functions.ownerOf(2).call() == d.listed
    assert d.w3.eth.get_balance(d.contract.address) == 2 * ALLOWLIST_PRICE
    assert d.contract.functions.mintedInPhase(d.listed, 0).call() == 2
    g.page.wait_for_function("() => document.getElementById('minted').textContent === '2 / 10'")
    assert "eth_sendTransaction" in wallet.calls
    assert only_local_requests(g) and not g.errors and not g.dialogs


def test_unlisted_wallet_gets_the_plain_sentence_and_no_token(browser, drop):
    d = drop()
    d.jump_to(d.starts[0])
    # the wallet starts on another chain it knows, and has never heard of the local one
    wallet = d.wallet(d.unlisted, chain_id=1, known_chains={1})
    g = open_mint_page(browser, d.page, wallet)
    connect(g)
    assert "wallet_addEthereumChain" in wallet.calls and wallet.chain_id == 31337
    g.page.wait_for_function("() => document.getElementById('eligibility').textContent.includes('not on')")
    mint(g, 1, "#message.error")
    assert text(g, "#message") == ERRORS["NotOnAllowlist"]
    assert g.page.locator("#receipt").is_hidden()
    assert d.contract.functions.balanceOf(d.unlisted).call() == 0
    assert d.contract.functions.totalMinted().call() == 0
    assert "eth_sendTransaction" not in wallet.calls
    assert only_local_requests(g, d.rpc_url) and not g.errors


def test_public_phase_takes_payment(browser, drop):
    d = drop()
    d.jump_to(d.starts[1])
    before = d.w3.eth.get_balance(d.buyer)
    g = open_mint_page(browser, d.page, d.wallet(d.buyer))
    assert text(g, "#phase-name") == "public" and text(g, "#price") == "0.02 ETH"
    connect(g)
    mint(g, 3, "#receipt:not([hidden])")
    assert text(g, "#token-ids") == "1, 2, 3"
    assert text(g, "#tx-paid") == "0.06 ETH"
    tx = d.w3.eth.get_transaction(text(g, "#tx-hash"))
    receipt = d.w3.eth.get_transaction_receipt(tx.hash)
    assert tx.value == 3 * PUBLIC_PRICE
    assert d.w3.eth.get_balance(d.buyer) == before - 3 * PUBLIC_PRICE - receipt.gasUsed * receipt.effectiveGasPrice
    assert d.w3.eth.get_balance(d.contract.address) == 3 * PUBLIC_PRICE
    assert d.contract.functions.balanceOf(d.buyer).call() == 3
    # over the wallet limit (5 per wallet): the contract's sentence, and nothing more minted
    mint(g, 3, "#message.error")
    assert text(g, "#message") == ERRORS["WalletLimitExceeded"]
    assert d.contract.functions.balanceOf(d.buyer).call() == 3
    assert not g.errors


def test_sold_out_shows_as_sold_out(browser, drop):
    d = drop(max_supply=3)
    d.jump_to(d.starts[1])
    g = open_mint_page(browser, d.page, d.wallet(d.buyer))
    connect(g)
    mint(g, 3, "#receipt:not([hidden])")
    g.page.wait_for_selector("body[data-sold-out=true]")
    assert text(g, "#phase-name") == "Sold out"
    assert text(g, "#remaining") == "0"
    assert g.page.locator("#mint").is_disabled()
    # a fresh visitor sees it too, without connecting
    g2 = open_mint_page(browser, d.page, d.wallet(d.unlisted))
    assert text(g2, "#phase-name") == "Sold out" and "Sold out" in text(g2, "#phase-state")
    assert not g.errors and not g2.errors


def test_phone_width_has_no_horizontal_scroll_and_counts_down(browser, drop):
    d = drop()
    g = open_mint_page(browser, d.page, d.wallet(d.listed), viewport=PHONE)
    assert text(g, "#phase-kicker") == "Coming soon"
    assert text(g, "#countdown-label") == "allowlist opens in"
    h, m, s = map(int, text(g, "#countdown").split(":"))
    assert 3000 < h * 3600 + m * 60 + s <= 3600   # the phase starts an hour after the last block, by the chain's clock
    assert g.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    for name in ("Connect wallet", "Mint"):
        box = g.page.get_by_role("button", name=name, exact=True).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    connect(g)
    assert g.page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert not g.errors


def test_without_a_wallet_a_local_sale_still_shows_and_connect_says_why(browser, drop):
    d = drop()
    d.jump_to(d.starts[1])
    g = open_mint_page(browser, d.page, None)
    # read from the local chain's RPC URL itself: the one origin the page's CSP lets it fetch
    assert text(g, "#phase-name") == "public" and text(g, "#minted") == "0 / 10"
    assert any(u.startswith(d.rpc_url.rstrip("/")) for u in g.requests) and only_local_requests(g, d.rpc_url)
    g.page.get_by_role("button", name="Connect wallet").click()
    g.page.wait_for_selector("#message.error")
    assert text(g, "#message").startswith("No browser wallet found.")
    assert g.page.locator("#mint").is_disabled()
    assert not g.errors


def test_paused_sale_says_so_and_offers_no_mint(browser, drop):
    d = drop()
    d.jump_to(d.starts[1])
    d.contract.functions.pause().transact({"from": d.owner})
    g = open_mint_page(browser, d.page, d.wallet(d.buyer))
    connect(g)
    assert text(g, "#phase-state") == "The sale is paused by the artist."
    assert g.page.locator("#mint").is_disabled()
    assert not g.errors
