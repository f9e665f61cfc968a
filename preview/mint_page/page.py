"""index.html of the mint page: the template with its style, viem, mint.js and drop.json inlined.

The same two rules as the gallery: data only as inert JSON in `<script type="application/json">`
(preview.gallery.embed_json), and a Content-Security-Policy that allows exactly the inlined
scripts and style by hash. The page reaches the chain through the collector's wallet (an
EIP-1193 provider, which no CSP governs); the one network address it may fetch is a local
chain's RPC URL, so the state shows before any wallet is there during a local test sale.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from preview.gallery import embed_json

HERE = Path(__file__).parent
TEMPLATE = HERE / "mint.html"
STYLE = HERE / "mint.css"
SCRIPT = HERE / "mint.js"
VIEM = HERE / "vendor" / "viem.min.js"


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def _inline(text: str, what: str) -> str:
    # An inlined script cannot contain its own end tag; better to refuse than to break the page.
    if re.search(r"</(script|style)", text, re.IGNORECASE):
        raise ValueError(f"{what} contains a closing </script> or </style> tag and cannot be inlined")
    return text


def connect_sources(drop: dict[str, Any]) -> str:
    url = drop["chain"].get("rpc_url")
    if not url or not drop["chain"].get("local"):
        return "'none'"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "'none'"
    return f"{parts.scheme}://{parts.netloc}"


def csp(style: str, scripts: list[str], drop: dict[str, Any]) -> str:
    return "; ".join([
        "default-src 'none'",
        "img-src 'self' file: data:",
        f"style-src {_hash(style)}",
        "script-src " + " ".join(_hash(s) for s in scripts),
        f"connect-src {connect_sources(drop)}",
        "base-uri 'none'",
        "form-action 'none'",
    ])


def render_page(drop: dict[str, Any]) -> str:
    style = _inline(STYLE.read_text("utf-8"), "mint.css")
    viem = _inline(VIEM.read_text("utf-8"), "vendor/viem.min.js")
    script = _inline(SCRIPT.read_text("utf-8"), "mint.js")
    values = {
        "title": html.escape(f"{drop['name']} · mint"),
        "csp": html.escape(csp(style, [viem, script], drop)),
        "style": style,
        "drop": embed_json(drop),
        "viem": viem,
        "script": script,
    }
    # One pass, so a value that happens to contain "{{drop}}" is never substituted again.
    return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m[1]], TEMPLATE.read_text("utf-8"))
