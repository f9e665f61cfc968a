"""Kubo RPC: `dag/import` our CARs with pinning, then ask the node whether it pins our roots.

Kubo's RPC takes POST for every call, answers `dag/import` with NDJSON lines
{"Root": {"Cid": {"/": cid}, "PinErrorMsg": ""}}, and reports "not pinned" as a 500.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from buildfiles.urls import endpoint_url, redact_url
from metadata.publishers.base import (MultipartFile, Publisher, PublishError, RetryPolicy, json_answer, malformed,
                                      request, snippet)


class KuboPublisher(Publisher):
    name = "kubo"

    def __init__(self, api: str, policy: RetryPolicy):
        self.endpoint = api if "?" in api else api.rstrip("/")
        self.policy = policy
        self.unreachable = (f"is `ipfs daemon` running? start it, or pass the node's RPC address with --api "
                            f"(see `ipfs config Addresses.API`); tried {redact_url(self.endpoint)}")

    def __repr__(self) -> str:  # the address may hold credentials
        return f"KuboPublisher({redact_url(self.endpoint)})"

    def _url(self, path: str) -> str:
        return endpoint_url(self.endpoint, f"api/v0/{path}")

    def has(self, root: str, log: Callable[[str], None] = print) -> bool:
        what = "kubo pin/ls"
        resp = request("POST", self._url("pin/ls"), self.policy, what=what, log=log, unreachable_hint=self.unreachable,
                       params={"arg": root, "type": "recursive"},
                       final=lambda r: r.status_code == 500 and "not pinned" in r.text)
        if resp.status_code != 200:
            if "not pinned" in resp.text:
                return False
            raise PublishError(f"{what} at {redact_url(resp.url)} answered HTTP {resp.status_code}: {snippet(resp.text)}")
        keys = json_answer(resp, what)
        keys = keys.get("Keys") if isinstance(keys, dict) else None
        if not isinstance(keys, dict):
            raise malformed(resp, what, 'a "Keys" object')
        return root in keys

    def upload(self, car: Path, root: str, log: Callable[[str], None] = print) -> str:
        what = f"kubo dag/import {car.name}"
        resp = request("POST", self._url("dag/import"), self.policy, what=what, log=log, unreachable_hint=self.unreachable,
                       params={"pin-roots": "true"}, body=lambda: MultipartFile({}, "file", car))
        if resp.status_code != 200:
            raise PublishError(f"{what} at {redact_url(resp.url)} answered HTTP {resp.status_code}: {snippet(resp.text)}")
        reported = []
        for line in resp.text.splitlines():
            if not line.strip():
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                json_answer(resp, what)  # raises, naming the endpoint and the body
                raise
            if not isinstance(msg, dict):
                raise malformed(resp, what, "one JSON object per line")
            if "Root" in msg:
                r = msg["Root"]
                cid = r.get("Cid", {}).get("/") if isinstance(r, dict) and isinstance(r.get("Cid"), dict) else None
                if not isinstance(cid, str):
                    raise malformed(resp, what, 'a "Root": {"Cid": {"/": CID}} line')
                reported.append(cid)
                if r.get("PinErrorMsg"):
                    raise PublishError(f"kubo could not pin {root}: {r['PinErrorMsg']}")
        if reported != [root]:
            raise PublishError(f"kubo reported root(s) {reported} for {car.name}, but its CAR's root is {root}",
                               hint="a different CID is never accepted; check the node's import settings")
        if not self.has(root, log):
            raise PublishError(f"kubo imported {car.name} but does not report {root} as pinned")
        return f"imported and pinned {root}"
