"""Talking to a JSON-RPC endpoint: connect once, fail at once on what a retry cannot fix.

web3's HTTPProvider retries every connection error five times, a refused connection
included, which only delays the message a user needs ("nothing listens at this URL").
Here only transient failures are retried: timeouts, a connection reset mid-transfer,
HTTP 429 and 5xx. A refused connection, a bad host name or a 401/403/404 fail on the
first try, with the (redacted) URL and the likely fix for the network asked for.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from web3 import Web3
from web3.providers.rpc.utils import check_if_retry_on_failure

from buildfiles.errors import UserError
from contracts.tx import redact_url

RETRIES = 5
BACKOFF = 0.25            # seconds, doubled per retry: 0.25 + 0.5 + 1 + 2 = 3.75 s at most
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


def is_transient(e: BaseException) -> bool:
    """Whether a failed request may succeed if simply sent again."""
    if isinstance(e, (requests.Timeout, requests.exceptions.ChunkedEncodingError)):
        return True
    if isinstance(e, requests.HTTPError):
        return e.response is not None and e.response.status_code in RETRY_STATUS
    if isinstance(e, requests.ConnectionError):
        # Refused / no route / unknown host: nothing is listening, and waiting will not start it.
        text = repr(e)
        return not any(s in text for s in ("NewConnectionError", "NameResolutionError", "Connection refused",
                                           "Failed to resolve", "No route to host"))
    return False


class TransientRetryHTTPProvider(Web3.HTTPProvider):
    """HTTPProvider that retries idempotent calls on transient failures only."""

    def __init__(self, url: str, timeout: float):
        super().__init__(url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None)

    def _make_request(self, method: Any, request_data: bytes) -> bytes:
        retry = check_if_retry_on_failure(method)   # web3's list of methods safe to send twice
        for attempt in range(RETRIES):
            try:
                return self._request_session_manager.make_post_request(
                    self.endpoint_uri, request_data, **self.get_request_kwargs())
            except requests.RequestException as e:
                if not retry or attempt == RETRIES - 1 or not is_transient(e):
                    raise
                time.sleep(BACKOFF * 2 ** attempt)
        raise AssertionError("unreachable")


def describe_failure(e: BaseException) -> str:
    if isinstance(e, requests.HTTPError) and e.response is not None:
        return f"HTTP {e.response.status_code}"
    if isinstance(e, requests.Timeout):
        return "no answer in time"
    if isinstance(e, requests.ConnectionError):
        text = repr(e)
        if "refused" in text.lower() or "NewConnectionError" in text:
            return "connection refused"
        if "resolve" in text.lower():
            return "unknown host"
        return "connection failed"
    if isinstance(e, ValueError):
        return "not a JSON-RPC answer"
    return type(e).__name__


def connect(url: str, *, fix: str, timeout: float = 30.0) -> tuple[Web3, int]:
    """A Web3 on an HTTP RPC and its chain id; one-line UserError (with `fix` as hint) if it does not answer."""
    w3 = Web3(TransientRetryHTTPProvider(url, timeout))
    try:
        chain_id = int(w3.eth.chain_id)
    except Exception as e:  # requests, OSError, JSON errors: all mean "no usable RPC here"
        raise UserError(f"cannot reach the RPC at {redact_url(url)} ({describe_failure(e)})", hint=fix) from None
    return w3, chain_id
