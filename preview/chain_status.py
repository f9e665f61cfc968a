"""Where the collection stands after `metadata`, `publish`, `mint` and a drop's `sale`, `reveal` and
`withdraw`, for the gallery's status panel.

Reads cids.json (CIDs computed offline), publish.json (what a provider holds) and mint.json
(chain, contract, minted ids, on-chain verification) and sale.json (phases, minted/remaining,
reveal, proceeds, as the chain said at the last drop command) through their typed readers in
`buildfiles/`: only the fields the page shows. Endpoint URLs are never shown: the page has
no use for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from buildfiles.chains import LOCAL_CHAIN_IDS
from buildfiles.cids import load_cids
from buildfiles.errors import UserError
from buildfiles.ipfs import base_uri, contract_uri
from buildfiles.published import load_publish

# Chains with a public block explorer a collector can open; the local chain has none.
# chain id -> (name, explorer base URL).
EXPLORERS: dict[int, tuple[str, str]] = {
    11155111: ("Sepolia", "https://sepolia.etherscan.io"),
    17000: ("Holesky", "https://holesky.etherscan.io"),
    560048: ("Hoodi", "https://hoodi.etherscan.io"),
    84532: ("Base Sepolia", "https://sepolia.basescan.org"),
    11155420: ("OP Sepolia", "https://sepolia-optimism.etherscan.io"),
    421614: ("Arbitrum Sepolia", "https://sepolia.arbiscan.io"),
    80002: ("Polygon Amoy", "https://amoy.polygonscan.com"),
}
CHAIN_NAMES: dict[int, str] = {1: "Ethereum mainnet", 31337: "local anvil"}


@dataclass(frozen=True)
class Cids:
    source: str                      # "publish.json" (held by a provider) or "cids.json" (computed only)
    provider: str | None             # kubo, pinata, car ...; None for cids.json
    pinned_by: tuple[str, ...]       # providers that pin these roots (car only writes files)
    uploaded_at: str | None
    images: str
    animations: str | None
    metadata: str
    base_uri: str                    # ipfs://<metadata CID>/
    contract_uri: str


@dataclass(frozen=True)
class Minted:
    chain_id: int
    chain_name: str
    network: str | None
    contract: str | None             # None: deploy sent, address not known yet
    first_id: int | None
    count: int                       # tokens minted so far
    verified: bool | None            # None: not verified yet
    problems: tuple[str, ...]
    explorer: str | None             # base URL for a known public testnet, else None


@dataclass(frozen=True)
class SalePhaseView:
    name: str
    start: str                       # "2026-12-20 18:00 UTC"
    price_eth: str                   # exact: "0.01"
    kind: str                        # "public" or "allowlist of N"
    per_wallet: int
    supply: int | None
    minted: int


@dataclass(frozen=True)
class SaleView:
    chain_name: str
    contract: str
    explorer: str | None
    phases: tuple[SalePhaseView, ...]
    current: str                     # "not open yet", "allowlist", "sold out", ...
    minted: int
    max_supply: int
    paused: bool
    fair_reveal: bool
    revealed: bool
    offset: int | None
    proceeds_eth: str                # held by the contract now
    withdrawn_eth: str
    payout: str
    read_at: str | None              # when the chain was last read (a drop command's run)

    @property
    def remaining(self) -> int:
        return max(self.max_supply - self.minted, 0)


@dataclass(frozen=True)
class ChainStatus:
    cids: Cids | None
    minted: Minted | None
    sale: SaleView | None = None


def load_chain_status(build_dir: Path) -> ChainStatus | None:
    cids = _published(build_dir) or _computed(build_dir)
    mint = _chain_shown(build_dir)
    sale = _sale(build_dir)
    if cids is None and mint is None and sale is None:
        return None
    return ChainStatus(cids, _minted(mint) if mint is not None else None, sale)


def eth_text(wei: int) -> str:
    """Wei as exact ETH: 10**16 -> "0.01" (no float on the way)."""
    whole, frac = divmod(int(wei), 10**18)
    return f"{whole}.{frac:018d}".rstrip("0").rstrip(".") if frac else str(whole)


def _sale(build_dir: Path) -> SaleView | None:
    from datetime import datetime, timezone

    from buildfiles.sale import load_sale, shown

    c = shown(load_sale(build_dir))
    if c is None:
        return None
    st = c.state
    name, explorer = EXPLORERS.get(c.chain_id, (CHAIN_NAMES.get(c.chain_id, f"chain {c.chain_id}"), None))
    phases = []
    for i, p in enumerate(c.phases):
        tree = c.trees.get(str(i))
        listed = len(tree.get("values") or []) if isinstance(tree, dict) else 0
        phases.append(SalePhaseView(
            name=p.name, start=datetime.fromtimestamp(p.start, timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            price_eth=eth_text(p.price_wei), kind="public" if p.public else f"allowlist of {listed}",
            per_wallet=p.per_wallet, supply=p.supply or None, minted=p.minted))
    minted, max_supply = int(st.get("total_minted") or 0), c.max_supply
    if minted >= max_supply:
        current = "sold out"
    elif st.get("open") and isinstance(st.get("current_phase"), int) and st["current_phase"] < len(phases):
        current = phases[st["current_phase"]].name
    else:
        current = "not open yet"
    reveal = c.reveal
    return SaleView(
        chain_name=name, contract=c.contract_address, explorer=explorer, phases=tuple(phases), current=current,
        minted=minted, max_supply=max_supply, paused=bool(st.get("paused")), fair_reveal=c.fair_reveal,
        revealed=bool(st.get("revealed")) or bool(reveal and reveal.revealed),
        offset=(reveal.offset if reveal and reveal.revealed else None),
        proceeds_eth=eth_text(int(st.get("balance_wei") or 0)), withdrawn_eth=eth_text(int(st.get("total_withdrawn_wei") or 0)),
        payout=c.payout, read_at=c.updated_at)


def _chain_shown(build_dir: Path):
    """The chain the page reports: a public one when the collection is on one, else the local rehearsal."""
    from buildfiles.mint_journal import load_journal

    chains = sorted(load_journal(build_dir).chains.values(), key=lambda c: (c.chain_id in LOCAL_CHAIN_IDS, c.chain_id))
    return chains[0] if chains else None


def _published(build_dir: Path) -> Cids | None:
    r = load_publish(build_dir)
    if r is None or not r.target.images_cid or not r.target.metadata_cid:
        return None
    t = r.target
    pins = tuple(dict.fromkeys(x.provider for x in (t, *r.others) if x.pins and x.roots == t.roots))
    return Cids("publish.json", t.provider, pins, t.uploaded_at, t.images_cid, t.animations_cid, t.metadata_cid,
                r.base_uri, r.contract_uri)


def _computed(build_dir: Path) -> Cids | None:
    c = load_cids(build_dir)
    if c is None:
        return None
    return Cids("cids.json", None, (), None, c.images_cid, c.animations_cid, c.metadata_cid,
                base_uri(c.metadata_cid), contract_uri(c.metadata_cid))


def _minted(chain) -> Minted:
    minted = chain.minted if isinstance(chain.minted, dict) else {}
    verified = chain.verified if isinstance(chain.verified, dict) else None
    name, explorer = EXPLORERS.get(chain.chain_id, (CHAIN_NAMES.get(chain.chain_id, f"chain {chain.chain_id}"), None))
    first = minted.get("first_id")
    count = minted.get("count")
    return Minted(
        chain_id=chain.chain_id,
        chain_name=name,
        network=chain.network or None,
        contract=chain.contract_address or None,
        first_id=first if isinstance(first, int) and not isinstance(first, bool) else None,
        count=count if isinstance(count, int) and not isinstance(count, bool) else 0,
        verified=bool(verified.get("ok")) if verified is not None else None,
        problems=tuple(str(p) for p in (verified or {}).get("problems") or ())[:5],
        explorer=explorer,
    )


def gateway_base(url: str | None) -> str | None:
    """A user's IPFS gateway ("https://ipfs.io" or ".../ipfs/"): base for `<base>/ipfs/<cid>/<path>` links."""
    if not url:
        return None
    from urllib.parse import urlsplit

    u = urlsplit(url.strip())
    if u.scheme not in ("http", "https") or not u.netloc or u.username or u.password or u.query or u.fragment:
        raise UserError(f"gateway {url!r} is not a plain http(s) URL",
                        hint="e.g. --gateway https://ipfs.io (no credentials, no query)", exit_code=2)
    path = u.path.rstrip("/")
    if path.endswith("/ipfs"):
        path = path[: -len("/ipfs")]
    return f"{u.scheme}://{u.netloc}{path}"
