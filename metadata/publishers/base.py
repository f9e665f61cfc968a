"""The publisher interface, and HTTP with retries shared by the HTTP publishers.

Every HTTP request has a total deadline (connect + sending the body + waiting + reading the
answer): socket timeouts alone bound each single read, so a node that trickles a byte now
and then, or accepts and never answers, could otherwise hold `publish` without end. A
watchdog shuts the request's socket down when its deadline passes, whatever phase it is in.
"""

from __future__ import annotations

import email.utils
import os
import socket
import threading
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from buildfiles.errors import UserError
from buildfiles.urls import redact_text, redact_url


class PublishError(UserError):
    """An upload failed or a provider disagreed with our CIDs."""


class Publisher(ABC):
    name: str
    endpoint: str
    pins: bool = True   # False for a provider that only writes CAR files: nothing is online afterwards

    @abstractmethod
    def has(self, root: str, log: Callable[[str], None] = print) -> bool:
        """Whether the provider already pins `root` (then nothing is uploaded)."""

    @abstractmethod
    def upload(self, car: Path, root: str, log: Callable[[str], None] = print) -> str:
        """Upload one CAR whose root is `root`; raise PublishError unless the provider reports exactly `root`.
        Returns a one-line note for the user."""


DEFAULT_REQUEST_TIMEOUT = 60.0      # seconds: stated in `publish --help`, set with --timeout
MIN_UPLOAD_RATE = 256 * 1024        # bytes/s an upload is given on top (1 s per 256 KiB): a 1 GB CAR gets ~70 min


@dataclass
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 1.0           # 1, 2, 4, 8, 16 s between tries
    max_delay: float = 120.0          # also the cap on a server's Retry-After
    connect_timeout: float = 10.0
    read_timeout: float = 600.0       # silence allowed from the server once the request is sent
    deadline: float = 1800.0          # all attempts of one request together, waits included
    progress_every: float = 30.0      # a line while a request is in flight this long
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT   # one attempt, connect to last byte of the answer ...
    upload_rate: float = MIN_UPLOAD_RATE               # ... plus the body's size at this many bytes/s
    silent_tries: int = 2             # attempts that ran out of time before we stop asking that node
    sleep: Callable[[float], None] = field(default=time.sleep)

    def backoff(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * 2 ** attempt)

    def time_for(self, body_bytes: int) -> float:
        """The total deadline of one attempt that uploads `body_bytes`."""
        return self.request_timeout + body_bytes / self.upload_rate


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After is either delta-seconds or an HTTP-date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class MultipartFile:
    """A multipart/form-data body streamed from disk with a known length (so no chunked encoding,
    and a 2 GB CAR never sits in memory). One instance per attempt: it is read once."""

    def __init__(self, fields: dict[str, str], file_field: str, path: Path, content_type: str = "application/vnd.ipld.car"):
        self.boundary = uuid.uuid4().hex
        head = b""
        for k, v in fields.items():
            head += f'--{self.boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        head += (
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{path.name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        self._parts = [head, None, f"\r\n--{self.boundary}--\r\n".encode()]
        self._path = path
        self._len = len(head) + path.stat().st_size + len(self._parts[2])
        self._fh = None
        self._i = 0
        self._pos = 0
        self.sent = 0           # bytes handed to the socket so far (progress lines read it)

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def __len__(self) -> int:
        return self._len

    def read(self, n: int = -1) -> bytes:
        out = b""
        while self._i < 3 and (n < 0 or len(out) < n):
            want = -1 if n < 0 else n - len(out)
            if self._i == 1:
                if self._fh is None:
                    self._fh = open(self._path, "rb")
                b = self._fh.read(want) if want >= 0 else self._fh.read()
                if not b:
                    self._fh.close()
                    self._i += 1
                out += b
            else:
                part = self._parts[self._i]
                b = part[self._pos:] if want < 0 else part[self._pos:self._pos + want]
                self._pos += len(b)
                out += b
                if self._pos >= len(part):
                    self._i, self._pos = self._i + 1, 0
        self.sent += len(out)
        return out


def _never_connected(e: Exception) -> str | None:
    """Why a connection was never made (refused, unknown host, unreachable), or None when it was made and
    then failed (reset mid-transfer, timeout): only the second kind is worth retrying."""
    import requests
    from urllib3.exceptions import NameResolutionError, NewConnectionError

    if isinstance(e, requests.Timeout):
        return None
    reason = e.args[0].reason if e.args and hasattr(e.args[0], "reason") else None
    if isinstance(reason, NameResolutionError):
        return "its host name does not resolve"
    if isinstance(reason, NewConnectionError):
        cause = reason.__cause__ or reason.__context__
        return "connection refused" if isinstance(cause, ConnectionRefusedError) else f"no connection ({_errno_text(cause)})"
    return None


def _errno_text(e: BaseException | None) -> str:
    return (getattr(e, "strerror", None) or type(e).__name__) if e is not None else "unreachable"


class _Ticker:
    """Prints a line every `every` seconds while a request is in flight, so a slow or silent node
    never leaves the user looking at nothing."""

    def __init__(self, what: str, every: float, log: Callable[[str], None], body: "MultipartFile | None",
                 limit: float | None = None):
        self.what, self.every, self.log, self.body, self.limit = what, every, log, body, limit
        self._stop = threading.Event()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        if self.every > 0:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            waited = time.monotonic() - self._t0
            end = f", gives up at {self.limit:.0f} s" if self.limit else ""
            b = self.body
            if b is not None and b.sent < len(b):
                self.log(f"  {self.what}: sent {b.sent / 1e6:,.1f} of {len(b) / 1e6:,.1f} MB ({waited:.0f} s{end})")
            else:
                self.log(f"  {self.what}: waiting for the answer ({waited:.0f} s so far{end})")


class _Watchdog:
    """Shuts down every socket of one request when its deadline passes: a blocked connect, send or
    recv then returns at once, in whatever phase the request is."""

    def __init__(self, seconds: float):
        self.expired = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> "_Watchdog":
        self._timer.start()
        return self

    def __exit__(self, *exc) -> None:
        self._timer.cancel()

    def track(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._socks.append(sock)
            late = self.expired
        if late:
            _shut(sock)

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            socks = list(self._socks)
        for sock in socks:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _watched_session(dog: _Watchdog):
    """A requests Session whose every new connection's socket is handed to `dog`."""
    import requests
    import urllib3
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection

    class Conn(HTTPConnection):
        def connect(self):
            super().connect()
            dog.track(self.sock)

    class ConnS(HTTPSConnection):
        def connect(self):
            super().connect()
            dog.track(self.sock)

    class Pool(urllib3.HTTPConnectionPool):
        ConnectionCls = Conn

    class PoolS(urllib3.HTTPSConnectionPool):
        ConnectionCls = ConnS

    def watched(manager):
        manager.pool_classes_by_scheme = {"http": Pool, "https": PoolS}
        return manager

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *a, **kw):
            super().init_poolmanager(*a, **kw)
            watched(self.poolmanager)

        def proxy_manager_for(self, proxy, **kw):
            return watched(super().proxy_manager_for(proxy, **kw))

    session = requests.Session()
    adapter = Adapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def request(
    method: str,
    url: str,
    policy: RetryPolicy,
    *,
    what: str,
    headers: dict[str, str] | None = None,
    body: Callable[[], MultipartFile] | None = None,
    params: dict[str, str] | None = None,
    final: Callable[[object], bool] | None = None,
    unreachable_hint: str = "check the address and your network, then run the same command again",
    log: Callable[[str], None] = print,
):
    """One HTTP call. Retried: 429 (honouring Retry-After), 5xx, timeouts and connections dropped
    mid-transfer, within `policy.deadline` in all. Not retried: a connection never made (refused,
    unknown host), which fails at once with the URL and `unreachable_hint`.

    `final(response)` may mark a 5xx as a real answer (Kubo reports "not pinned" as a 500).
    Headers are never logged (they carry the API token); URLs are shown redacted.
    """
    import requests

    shown = redact_url(url)
    last = ""
    start = time.monotonic()
    silent = 0
    for attempt in range(policy.attempts):
        left = policy.deadline - (time.monotonic() - start)
        data = body() if body else None
        h = dict(headers or {})
        if data is not None:
            h["Content-Type"] = data.content_type
            h["Content-Length"] = str(len(data))
        own = policy.time_for(len(data) if data is not None else 0)
        limit = max(0.1, min(own, left))
        dog = _Watchdog(limit)
        session = _watched_session(dog)
        try:
            with _Ticker(what, policy.progress_every, log, data, limit), dog:
                resp = session.request(method, url, params=params, data=data, headers=h, stream=True,
                                       # the watchdog ends the request at `limit`; socket timeouts are a fallback
                                       timeout=(min(policy.connect_timeout, limit), min(policy.read_timeout, limit + 5)))
                resp.content  # the whole answer, under the same deadline  # noqa: B018
            if dog.expired:   # cut off mid-answer: what arrived is not the answer
                raise requests.Timeout("deadline")
        except requests.RequestException as e:
            if not isinstance(e, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)):
                raise PublishError(f"{what}: cannot send a request to {shown} ({type(e).__name__}: "
                                   f"{redact_text(str(e))[:120]})", hint=unreachable_hint) from None
            why = None if dog.expired else _never_connected(e)
            if why:
                raise PublishError(f"{what}: cannot reach {shown} ({why})", hint=unreachable_hint) from None
            if dog.expired:
                silent += 1
                why = (f"what was left of {policy.deadline:g} s for all tries" if limit < own else
                       f"--timeout {policy.request_timeout:g} s" + (" plus the upload's size" if data is not None else ""))
                last = f"no complete answer within {limit:.1f} s ({why})"
            elif isinstance(e, requests.Timeout):
                silent += 1
                last = f"no answer within the read timeout ({policy.read_timeout:g} s of silence)"
            else:
                last = f"connection dropped ({type(e).__name__})"
            wait = policy.backoff(attempt)
            if silent >= policy.silent_tries:
                raise PublishError(f"{what} at {shown} failed after {attempt + 1} attempt(s): {last}, "
                                   f"{silent} times",
                                   hint="is the node overloaded or stuck? check it, or raise --timeout; then run the "
                                        "same command again (it resumes)")
        else:
            if final and final(resp):
                return resp
            if resp.status_code == 429 or resp.status_code >= 500:
                last = f"HTTP {resp.status_code} {snippet(resp.text)}"
                hinted = retry_after_seconds(resp.headers.get("Retry-After")) if resp.status_code in (429, 503) else None
                wait = min(policy.max_delay, hinted) if hinted is not None else policy.backoff(attempt)
            else:
                return resp
        finally:
            session.close()
        spent = time.monotonic() - start
        if attempt + 1 < policy.attempts and spent + wait < policy.deadline:
            log(f"  {what}: {last}; retrying in {wait:g}s ({attempt + 1}/{policy.attempts - 1})")
            policy.sleep(wait)
            continue
        tries = f"after {attempt + 1} attempts" if attempt + 1 == policy.attempts else \
            f"after {attempt + 1} attempt(s) in {spent:.1f} s (limit {policy.deadline:g} s)"
        raise PublishError(f"{what} at {shown} failed {tries}: {last}",
                           hint="check that the service is reachable, then run the same command again (it resumes)")
    raise AssertionError("unreachable")  # pragma: no cover


def snippet(text: str, n: int = 120) -> str:
    """The start of a server's answer, one line, for an error message."""
    return redact_text(" ".join(text.split()))[:n]


def json_answer(resp, what: str):
    """The JSON body of a 2xx answer; anything else is one PublishError naming the endpoint and what it sent."""
    try:
        return resp.json()
    except ValueError:
        pass
    ctype = resp.headers.get("Content-Type", "?")
    raise PublishError(f"{what} at {redact_url(resp.url)} answered HTTP {resp.status_code} with {ctype} that is not JSON: "
                       f"{snippet(resp.text) or '(empty body)'!r}",
                       hint="is the address an IPFS API (not a gateway or another service)? check --api")


def malformed(resp, what: str, expected: str) -> PublishError:
    return PublishError(f"{what} at {redact_url(resp.url)} answered JSON without {expected}: {snippet(resp.text)!r}",
                        hint="is the address an IPFS API of the expected kind? check --api")


def env_secret(name: str) -> str | None:
    v = os.environ.get(name, "").strip()
    return v or None
