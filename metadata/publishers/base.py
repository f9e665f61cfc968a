"""The publisher interface, and HTTP with retries shared by the HTTP publishers."""

from __future__ import annotations

import email.utils
import os
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from buildfiles.errors import UserError


class PublishError(UserError):
    """An upload failed or a provider disagreed with our CIDs."""


class Publisher(ABC):
    name: str
    endpoint: str
    pins: bool = True   # False for a provider that only writes CAR files: nothing is online afterwards

    @abstractmethod
    def has(self, root: str) -> bool:
        """Whether the provider already pins `root` (then nothing is uploaded)."""

    @abstractmethod
    def upload(self, car: Path, root: str) -> str:
        """Upload one CAR whose root is `root`; raise PublishError unless the provider reports exactly `root`.
        Returns a one-line note for the user."""


@dataclass
class RetryPolicy:
    attempts: int = 6
    base_delay: float = 1.0           # 1, 2, 4, 8, 16 s between tries
    max_delay: float = 120.0          # also the cap on a server's Retry-After
    connect_timeout: float = 10.0
    read_timeout: float = 600.0       # a large CAR import can take minutes to answer
    sleep: Callable[[float], None] = field(default=time.sleep)

    def backoff(self, attempt: int) -> float:
        return min(self.max_delay, self.base_delay * 2 ** attempt)


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
        return out


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
    log: Callable[[str], None] = print,
):
    """One HTTP call with retries on 429 (honouring Retry-After), 5xx, timeouts and dropped connections.

    `final(response)` may mark a 5xx as a real answer (Kubo reports "not pinned" as a 500).
    Headers are never logged: they carry the API token.
    """
    import requests

    last = ""
    for attempt in range(policy.attempts):
        data = body() if body else None
        h = dict(headers or {})
        if data is not None:
            h["Content-Type"] = data.content_type
            h["Content-Length"] = str(len(data))
        try:
            resp = requests.request(method, url, params=params, data=data, headers=h,
                                    timeout=(policy.connect_timeout, policy.read_timeout))
        except (requests.ConnectionError, requests.Timeout) as e:
            last = f"{type(e).__name__}"
            wait = policy.backoff(attempt)
        else:
            if final and final(resp):
                return resp
            if resp.status_code == 429 or resp.status_code >= 500:
                last = f"HTTP {resp.status_code} {resp.text[:200].strip()}"
                hinted = retry_after_seconds(resp.headers.get("Retry-After")) if resp.status_code in (429, 503) else None
                wait = min(policy.max_delay, hinted) if hinted is not None else policy.backoff(attempt)
            else:
                return resp
        if attempt + 1 < policy.attempts:
            log(f"  {what}: {last}; retrying in {wait:g}s ({attempt + 1}/{policy.attempts - 1})")
            policy.sleep(wait)
    raise PublishError(f"{what} failed after {policy.attempts} attempts: {last}",
                       hint="check that the service is reachable, then run the same command again (it resumes)")


def env_secret(name: str) -> str | None:
    v = os.environ.get(name, "").strip()
    return v or None
