"""gallery.html: one static page that works from file://, offline, with no CDN.

Safety rests on two rules. Manifest text (names, prompts, trait values) reaches the
page only as JSON inside `<script type="application/json">`, with every `<`, `>`
and `&` written as a \\u escape so no string can close the script element. The
page's script then builds the DOM with textContent and never parses data as HTML.
The template (gallery.html beside this file, with gallery.js inlined into it) also
carries a Content-Security-Policy that allows only that one script, by hash, and no
network at all: should an injection ever slip through, an `onerror=` still won't run.
Links (a gateway the user configured, a testnet's block explorer) are plain `<a href>`:
the page itself still fetches nothing but files beside it.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
from pathlib import Path
from typing import Any

from buildfiles.atomicio import write_text
from preview.chain_status import ChainStatus
from preview.rarity_report import RaritySummary, missing_hint, summarize
from preview.sources import BuildView, TokenView
from preview.thumbs import cached_thumb_path
from generator.prompts import split_prompts  # pure string parsing: the renderer's own reading of a prompt

GALLERY_FILE = "gallery.html"
TEMPLATE = Path(__file__).with_name("gallery.html")
SCRIPT = Path(__file__).with_name("gallery.js")
PAGE_SIZE = 120  # cards per page: keeps the DOM small at 10,000 tokens

_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_JSON_UNSAFE = re.compile("[<>&\u2028\u2029]")


def embed_json(obj: Any) -> str:
    """JSON that is inert inside an HTML <script> element (and still valid JSON)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return _JSON_UNSAFE.sub(lambda m: _JSON_ESCAPES[m[0]], text)


def _finite(x: float | None) -> float | None:
    return x if x is None or math.isfinite(x) else None


def prompt_parts(prompt: str) -> list[list[Any]]:
    """[[text, weight or None, stop or None], ...] as the renderer reads the prompt."""
    return [[p.text, _finite(p.weight), _finite(p.stop)] for p in split_prompts(prompt)]


def token_data(t: TokenView, thumb: str | None) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": t.id,
        "name": t.name,
        "special": t.special,
        "traits": t.traits,
        "prompt": t.prompt,
        "parts": prompt_parts(t.prompt),
        "seed": t.seed,
        "image": t.image,
        "thumb": thumb,
        "snapshots": [[s.iteration, s.path] for s in t.snapshots],
        "animation": t.animation,
        "attributes": list(t.attributes),
        "rank": t.rank,
        "score": t.score,
        "label": t.label,
    }
    r = t.render
    if r is not None:
        # only what exists, so 10,000 unrendered-detail tokens stay small
        d["iterations"] = r.iterations
        if r.score is not None:
            d["judge"] = r.score
        if r.candidates:
            d["candidates"] = [[c.seed, c.score, c.stop_iteration, c.image, c.chosen] for c in r.candidates]
            d["judge_by"] = r.judge
        if t.final_is_last_snapshot():
            d["final_is_last"] = True
    return d


def status_data(chain: ChainStatus | None, gateway: str | None) -> dict[str, Any]:
    cids = chain.cids if chain else None
    minted = chain.minted if chain else None
    return {
        "gateway": gateway,
        "cids": None if cids is None else {
            "source": cids.source, "provider": cids.provider, "pinned_by": list(cids.pinned_by),
            "uploaded_at": cids.uploaded_at,
            "images": cids.images, "animations": cids.animations, "metadata": cids.metadata,
            "base_uri": cids.base_uri, "contract_uri": cids.contract_uri,
        },
        "minted": None if minted is None else {
            "chain_id": minted.chain_id, "chain": minted.chain_name, "network": minted.network,
            "contract": minted.contract, "first_id": minted.first_id, "count": minted.count,
            "verified": minted.verified, "problems": list(minted.problems), "explorer": minted.explorer,
        },
        "sale": _sale_data(chain.sale if chain else None),
    }


def _sale_data(sale) -> dict[str, Any] | None:
    if sale is None:
        return None
    from dataclasses import asdict

    return {**asdict(sale), "remaining": sale.remaining}


def shares_data(view: BuildView) -> dict[str, Any]:
    s = view.shares
    if s is None:
        return {"expected": False, "categories": []}
    return {
        "expected": s.expected,
        "categories": [
            {"category": c.category, "base": c.base,
             "values": [[v.value, v.count, v.planned, v.expected] for v in c.values]}
            for c in s.categories
        ],
    }


def gallery_data(view: BuildView, summary: RaritySummary, thumb_size: int, *,
                 gateway: str | None = None, banner: str | None = None) -> dict[str, Any]:
    tokens = []
    for t in view.tokens:
        # A current cached thumbnail keeps 10,000 cards light; else the full image.
        thumb = cached_thumb_path(view.build_dir, t.image, thumb_size) if t.image else None
        tokens.append(token_data(t, thumb))
    first_image = next((t.image for t in view.tokens if t.image), None)
    return {
        "collection": {
            "name": view.collection_name,
            "description": view.description,
            "artist": view.artist,
            # collection.json's image: the manifest's collection image, else the first token's
            "image": view.collection_image or first_image,
            "banner": banner,
            "labels": sorted(view.labels),
            "specials": sum(t.special is not None for t in view.tokens),
            "rendered": sum(t.image is not None for t in view.tokens),
        },
        "categories": list(view.categories),
        "page_size": PAGE_SIZE,
        "tokens": tokens,
        "shares": shares_data(view),
        "status": status_data(view.chain, gateway),
        "rarity": {
            "available": summary.available,
            "method": summary.method,
            "hint": None if summary.available else missing_hint(view),
            "rarest": [t.id for t in summary.rarest],
            "commonest": [t.id for t in summary.commonest],
            "trait_counts": {c: [[v, n] for v, n in vals] for c, vals in summary.trait_counts.items()},
        },
    }


def render_gallery(data: dict[str, Any]) -> str:
    script = SCRIPT.read_text("utf-8")
    values = {
        "title": html.escape(f"{data['collection']['name']} · gallery"),
        "data": embed_json(data),
        "script": script,
        "script_hash": base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode(),
    }
    # One pass, so a value that happens to contain "{{data}}" is never substituted again.
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m[1]], TEMPLATE.read_text("utf-8"))


def write_gallery(view: BuildView, *, thumb_size: int = 256, summary: RaritySummary | None = None,
                  gateway: str | None = None, banner: str | None = None) -> Path:
    summary = summary or summarize(view)
    data = gallery_data(view, summary, thumb_size, gateway=gateway, banner=banner)
    return write_text(view.build_dir / GALLERY_FILE, render_gallery(data))
