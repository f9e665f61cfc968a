"""Where the collection stands after `metadata`, `publish` and `mint`, for the gallery's status panel.

Reads cids.json (CIDs computed offline), publish.json (what a provider holds) and mint.json
(chain, contract, minted ids, on-chain verification; through buildfiles.mint_journal). The typed readers of these files
belong in `buildfiles/` once they land there; until then this is the one place the preview
reads them, and only the fields it shows. Endpoint URLs are never read: they may carry
credentials, and the page has no use for them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildfiles.errors import UserError

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
LOCAL_CHAIN_IDS = (31337, 1337)   # as contracts/keys.py; the preview imports no web3


@dataclass(frozen=True)
class Cids:
    source: str                      # "publish.json" (held by a provider) or "cids.json" (computed only)
    provider: str | None             # kubo, pinata, car ...; None for cids.json
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
class ChainStatus:
    cids: Cids | None
    minted: Minted | None


def load_chain_status(build_dir: Path) -> ChainStatus | None:
    pub = _read(build_dir / "publish.json")
    cid = pub if pub is not None else _read(build_dir / "cids.json")
    mint = _chain_shown(build_dir)
    if cid is None and mint is None:
        return None
    source = "publish.json" if pub is not None else "cids.json"
    return ChainStatus(_cids(build_dir / source, cid, source) if cid is not None else None,
                       _minted(mint) if mint is not None else None)


def _chain_shown(build_dir: Path):
    """The chain the page reports: a public one when the collection is on one, else the local rehearsal."""
    from buildfiles.mint_journal import load_journal

    chains = sorted(load_journal(build_dir).chains.values(), key=lambda c: (c.chain_id in LOCAL_CHAIN_IDS, c.chain_id))
    return chains[0] if chains else None


def _read(path: Path) -> dict[str, Any] | None:
    try:
        raw = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise UserError(f"{path} is unreadable ({type(e).__name__}: {e})",
                        hint="re-run the step that writes it (metadata, publish or mint)") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path} is not a JSON object", hint="re-run the step that writes it (metadata, publish or mint)")
    return raw


def _str(raw: dict, key: str, path: Path, required: bool = True) -> str | None:
    v = raw.get(key)
    if v is None and not required:
        return None
    if not isinstance(v, str) or not v:
        raise UserError(f"{path}: {key!r} is missing or not a string",
                        hint="re-run the step that writes it (metadata, publish or mint)")
    return v


def _cids(path: Path, raw: dict, source: str) -> Cids:
    return Cids(
        source=source,
        provider=_str(raw, "provider", path, required=False) if source == "publish.json" else None,
        uploaded_at=_str(raw, "uploaded_at", path, required=False),
        images=_str(raw, "images_cid", path),
        animations=_str(raw, "animations_cid", path, required=False),
        metadata=_str(raw, "metadata_cid", path),
        base_uri=_str(raw, "base_uri", path),
        contract_uri=_str(raw, "contract_uri", path),
    )


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
