"""Build directories for preview tests: a real plan.json and real PNGs, no renderer needed.

Each token's image is a solid colour named by its "colour" trait, so a test can
check which image landed where on a contact sheet by reading one pixel.
"""

from __future__ import annotations

import json
import os
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image

from buildfiles.atomicio import write_json, write_text
from buildfiles.plan import CollectionInfo, PlannedToken, collection_to_dict, iter_plan_json

COLOURS = {"Red": (220, 40, 40), "Green": (40, 200, 60), "Blue": (40, 80, 220)}
EYES = ("Laser", "Round")
HOSTILE_PROMPT = '<script>window.__pwned = 1</script>"><img src=x onerror="window.__pwned = 2; alert(1)">'
HOSTILE_NAME = '</script><script>window.__pwned = 3</script>'


@dataclass(frozen=True)
class PreviewBuild:
    path: Path
    tokens: tuple[PlannedToken, ...]


def colour_of(i: int) -> str:
    # Uneven on purpose (3:2:1), so rarity ranks differ between tokens.
    return ("Red", "Red", "Red", "Green", "Green", "Blue")[i % 6]


def eyes_of(i: int) -> str:
    return EYES[0] if i % 4 == 0 else EYES[1]


def make_tokens(n: int, start_id: int = 1, hostile_id: int | None = None) -> list[PlannedToken]:
    out = []
    for i in range(n):
        tid = start_id + i
        traits = {"colour": colour_of(i), "eyes": eyes_of(i)}
        prompt = f"a {traits['colour'].lower()} robot with {traits['eyes'].lower()} eyes:1 | rust:0.5"
        name = f"Rusty Roboz #{tid}"
        if tid == hostile_id:
            prompt, name = HOSTILE_PROMPT, HOSTILE_NAME
        out.append(PlannedToken(id=tid, name=name, special=None, traits=traits, prompt=prompt, seed=1000 + tid))
    return out


def write_plan(build: Path, tokens: list[PlannedToken], name: str = "Rusty Roboz") -> None:
    info = CollectionInfo(
        name=name, symbol="ROBOZ", description="Robots, rusting.", external_url=None, image=None,
        name_template="Rusty Roboz #{id}", seed=7, start_id=tokens[0].id if tokens else 1,
        supply=len(tokens), shuffle=False, royalties=None,
    )
    header = {"manifest_sha256": "0" * 64, "collection": collection_to_dict(info), "render": {}, "inputs": {}}
    write_text(build / "plan.json", "".join(iter_plan_json(header, tokens)))


def write_image(path: Path, rgb, size=(64, 64)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, rgb).save(path)


def write_rarity(build: Path, tokens: list[PlannedToken]) -> None:
    """rarity.json in the contract's format; score = sum of 1/frequency over traits."""
    counts: dict[str, dict[str, int]] = {}
    for t in tokens:
        for c, v in t.traits.items():
            counts.setdefault(c, {}).setdefault(v, 0)
            counts[c][v] += 1
    n = len(tokens)
    scores = {t.id: sum(n / counts[c][v] for c, v in t.traits.items()) for t in tokens}
    order = sorted(scores, key=lambda i: (-scores[i], i))
    rank = {tid: r for r, tid in enumerate(order, start=1)}
    write_json(build / "rarity.json", {
        "method": "openrarity",
        "trait_counts": counts,
        "tokens": [{"id": t.id, "score": scores[t.id], "rank": rank[t.id]} for t in tokens],
    })


def make_preview_build(
    root: Path,
    n: int = 10,
    *,
    rendered: set[int] | None = None,     # ids with an image; default all
    snapshots: dict[int, list[int]] | None = None,
    animations: tuple[int, ...] = (),
    rarity: bool = True,
    hostile_id: int | None = None,
    image_size=(64, 64),
    records: str | None = None,           # "tiny" / "demo" / "real": write renders/{id}.json with that models label
    iterations: int = 4000,
    candidates: dict[int, list[dict]] | None = None,
) -> PreviewBuild:
    build = root / "build"
    build.mkdir(parents=True, exist_ok=True)
    tokens = make_tokens(n, hostile_id=hostile_id)
    write_plan(build, tokens)
    for i, t in enumerate(tokens):
        if rendered is None or t.id in rendered:
            write_image(build / "images" / f"{t.id}.png", COLOURS[t.traits["colour"]], image_size)
    for tid, iters in (snapshots or {}).items():
        for it in iters:
            # brighter at later iterations, whatever order the test lists them in
            shade = 40 + 200 * (sorted(iters).index(it) + 1) // len(iters)
            write_image(build / "snapshots" / str(tid) / f"{it:04d}.png", (shade, shade, shade), image_size)
    for tid in animations:
        (build / "animations").mkdir(exist_ok=True)
        (build / "animations" / f"{tid}.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")  # presence is all the preview checks
    if records:
        for t in tokens:
            if rendered is None or t.id in rendered:
                write_record(build, t, records, iterations, (candidates or {}).get(t.id))
    if rarity:
        write_rarity(build, tokens)
    return PreviewBuild(build, tuple(tokens))


def write_record(build: Path, t: PlannedToken, models: str, iterations: int, candidates: list[dict] | None = None) -> None:
    """renders/{id}.json as the render step writes it (the fields the preview reads)."""
    rec = {"id": t.id, "models": {"tiny": "tiny", "demo": "demo"}.get(models, "vqgan_imagenet_f16_16384+ViT-B/32"),
           "tiny": models == "tiny", "iterations": iterations, "seed": t.seed, "size": [64, 64]}
    if candidates is not None:
        rec["candidates"] = candidates
    # a plain write: 10,000 fsyncs would make the benchmark's fixture slower than what it measures
    (build / "renders").mkdir(parents=True, exist_ok=True)
    (build / "renders" / f"{t.id}.json").write_text(json.dumps(rec))


@pytest.fixture
def preview_build(tmp_path):
    """Factory: preview_build(n=10, rendered=..., snapshots=..., rarity=..., hostile_id=...)."""
    return lambda n=10, **kw: make_preview_build(tmp_path, n, **kw)


# ---- the gallery in a real browser: Debian's chromium driven by Playwright, from file:// ----

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        msg = f"{CHROMIUM} missing: apt-get install -y chromium"
        pytest.fail(msg) if os.environ.get("CI") else pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@dataclass
class Gallery:
    page: object
    errors: list = field(default_factory=list)
    dialogs: list = field(default_factory=list)
    requests: list = field(default_factory=list)

    def cards(self) -> int:
        return self.page.locator("#grid .card").count()

    def count_text(self) -> str:
        return self.page.locator("#count").text_content()

    def filter(self, category: str, value: str) -> None:
        self.page.select_option(f'select[data-category="{category}"]', value=value)


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1440, "height": 900}


def open_gallery(browser, build: Path, fragment: str = "", viewport: dict | None = None) -> Gallery:
    page = browser.new_page(viewport=viewport or {"width": 1280, "height": 900})
    g = Gallery(page)
    page.on("pageerror", lambda e: g.errors.append(str(e)))
    page.on("dialog", lambda d: (g.dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: g.requests.append(r.url))
    page.goto((build / "gallery.html").as_uri() + fragment)
    page.wait_for_selector("body[data-ready=true]")
    return g


# ---- the mint page: build files it reads, and a wallet injected into the page ----

def write_mint_inputs(build: Path, *, contract: str, phases: list, trees: dict | None = None, chain_id: int = 31337,
                      rpc_url: str | None = "http://127.0.0.1:8545", max_supply: int = 10, name: str = "Rusty Roboz",
                      description: str = "Robots, rusting.") -> Path:
    """metadata/collection.json, its cover and banner under images/, and sale.json through buildfiles.sale's
    own writer (phases: buildfiles.sale.SalePhase)."""
    from buildfiles.sale import SaleChain, SaleRecord, sale_path

    build.mkdir(parents=True, exist_ok=True)
    write_image(build / "images" / "collection.png", COLOURS["Green"])
    write_image(build / "images" / "banner.png", COLOURS["Blue"], (256, 32))
    write_json(build / "metadata" / "collection.json", {
        "name": name, "symbol": "ROBOZ", "description": description,
        "image": "ipfs://bafyimages/collection.png", "banner_image": "ipfs://bafyimages/banner.png"})
    owner = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    entry = SaleChain(chain_id=chain_id, network="local" if chain_id == 31337 else "sepolia", contract_address=contract,
                      owner=owner, payout=owner, reserve=0, fair_reveal=False, placeholder_uri="", max_supply=max_supply,
                      start_id=1, phases=list(phases), trees=dict(trees or {}), rpc_url=rpc_url)
    SaleRecord(sale_path(build), {chain_id: entry}).save()
    return build


# An EIP-1193 provider whose request() is answered from Python (Wallet.handle), announced by EIP-6963
# and set as window.ethereum. Added with add_init_script, so it exists before the page's own scripts
# run and is not subject to the page's CSP (a wallet extension is not either).
WALLET_INIT_SCRIPT = """
(() => {
  const listeners = {};
  const provider = {
    isRobozTestWallet: true,
    async request({ method, params }) {
      const r = await window.__robozWallet(method, params === undefined ? [] : params);
      if (r.error) {
        const e = new Error(r.error.message);
        e.code = r.error.code;
        if (r.error.data !== undefined) e.data = r.error.data;
        throw e;
      }
      return r.result;
    },
    on(name, fn) { (listeners[name] = listeners[name] || []).push(fn); return provider; },
    removeListener(name, fn) { listeners[name] = (listeners[name] || []).filter((f) => f !== fn); return provider; },
  };
  const info = Object.freeze({ uuid: "5b4f1c2e-0000-4000-8000-000000000001", name: "Roboz Test Wallet",
                               icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E", rdns: "org.roboz.testwallet" });
  const announce = () => window.dispatchEvent(new CustomEvent("eip6963:announceProvider",
                                                              { detail: Object.freeze({ info, provider }) }));
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
  window.ethereum = provider;
})();
"""


@dataclass
class Wallet:
    """The wallet side of the injected provider: `account` is one of anvil's unlocked accounts, so
    eth_sendTransaction goes to anvil as it is; every other call is forwarded to anvil's JSON-RPC."""
    rpc_url: str
    account: str
    chain_id: int = 31337          # what the wallet says it is on (a test may start it elsewhere)
    known_chains: set = field(default_factory=lambda: {31337})
    calls: list = field(default_factory=list)

    def handle(self, method: str, params: list) -> dict:
        self.calls.append(method)
        if method in ("eth_requestAccounts", "eth_accounts"):
            return {"result": [self.account]}
        if method == "eth_chainId":
            return {"result": hex(self.chain_id)}
        if method == "wallet_switchEthereumChain":
            wanted = int(params[0]["chainId"], 16)
            if wanted not in self.known_chains:
                return {"error": {"code": 4902, "message": f"Unrecognized chain ID {params[0]['chainId']}"}}
            self.chain_id = wanted
            return {"result": None}
        if method == "wallet_addEthereumChain":
            self.known_chains.add(int(params[0]["chainId"], 16))
            return {"result": None}
        if method == "eth_sendTransaction" and params and str(params[0].get("from", "")).lower() != self.account.lower():
            return {"error": {"code": 4100, "message": "the wallet does not hold that account"}}
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
        req = urllib.request.Request(self.rpc_url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            reply = json.loads(r.read())
        return {"error": reply["error"]} if "error" in reply else {"result": reply["result"]}


def open_mint_page(browser, page_path: Path, wallet: Wallet | None, viewport: dict | None = None) -> Gallery:
    """The mint page from file://, with `wallet` injected (None: a browser without a wallet)."""
    page = browser.new_page(viewport=viewport or {"width": 1280, "height": 900})
    g = Gallery(page)
    page.on("pageerror", lambda e: g.errors.append(str(e)))
    page.on("dialog", lambda d: (g.dialogs.append(d.message), d.dismiss()))
    page.on("request", lambda r: g.requests.append(r.url))
    page.on("console", lambda m: g.errors.append(m.text) if m.type == "error" else None)
    if wallet is not None:
        page.expose_function("__robozWallet", wallet.handle)
        page.add_init_script(WALLET_INIT_SCRIPT)
    page.goto(page_path.as_uri())
    page.wait_for_selector("body[data-ready=true]")
    return g
