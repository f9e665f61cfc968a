"""URLs as they may be shown or stored: credentials taken out.

A user's endpoint may carry a secret (`http://user:secret@host:5001`, `?token=…`, an RPC
provider's `/v3/<key>` path). Every URL the tool prints or writes passes through `redact_url`;
`redact_text` does the same for free text that may quote a URL (an error from a library).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "***"
# query parameter names that carry a credential (compared lower-case, `-` read as `_`)
_SECRET_PARAMS = re.compile(
    r"(.*_)?(token|access_token|auth|authorization|key|apikey|api_key|secret|client_secret|password|passwd|pass|pwd|"
    r"jwt|sig|signature|credential|credentials|session)(_.*)?"
)
# RPC providers put the key in the path after a version: https://x.infura.io/v3/<key>, alchemy /v2/<key>
_PATH_KEY = re.compile(r"(/v[0-9]+/)([A-Za-z0-9_\-]{16,})(?=/|$)")
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")


def redact_url(url: str) -> str:
    """`url` with userinfo, credential-like query values and path keys replaced by ***."""
    if not url or "://" not in url:
        return url
    try:
        u = urlsplit(url)
        host = u.hostname or ""
        port = u.port
    except ValueError:  # a malformed port or host: show nothing that might be a secret
        return url.split("://", 1)[0] + "://" + REDACTED
    netloc = host if ":" not in host else f"[{host}]"
    if port is not None:
        netloc += f":{port}"
    if u.username is not None or u.password is not None:
        netloc = f"{REDACTED}@{netloc}"
    query = u.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_PARAMS.fullmatch(k.lower().replace("-", "_")) for k, _ in pairs):
            query = urlencode([(k, REDACTED if _SECRET_PARAMS.fullmatch(k.lower().replace("-", "_")) else v)
                               for k, v in pairs], safe="*")
    path = _PATH_KEY.sub(lambda m: m.group(1) + REDACTED, u.path)
    return urlunsplit((u.scheme, netloc, path, query, u.fragment))


def endpoint_url(base: str, path: str) -> str:
    """`path` under the endpoint `base`, keeping what the user put in `base` on every request:
    its userinfo, its query (`?token=…`) and its fragment-free path prefix.

    `http://host:5001/?token=t` + `api/v0/pin/ls` -> `http://host:5001/api/v0/pin/ls?token=t`
    (appending to the string would put the API path after the query, so every call went to `/`).
    """
    u = urlsplit(base)
    joined = u.path.rstrip("/") + "/" + path.lstrip("/")
    return urlunsplit((u.scheme, u.netloc, joined, u.query, ""))


def redact_text(text: str) -> str:
    """Every URL inside `text` redacted (for messages of libraries that quote the URL they used)."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group(0)), text)


def is_http_url(url: str) -> bool:
    """An absolute http(s) URL with a host: the only kind a marketplace link may be."""
    try:
        u = urlsplit(url.strip())
    except ValueError:
        return False
    return u.scheme in ("http", "https") and bool(u.netloc) and bool(u.hostname)
