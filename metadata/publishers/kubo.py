"""Kubo RPC: `dag/import` our CARs with pinning, then ask the node whether it pins our roots.

Kubo's RPC takes POST for every call, answers `dag/import` with NDJSON lines
{"Root": {"Cid": {"/": cid}, "PinErrorMsg": ""}}, and reports "not pinned" as a 500.
"""

from __future__ import annotations

import json
from pathlib import Path

from metadata.publishers.base import MultipartFile, Publisher, PublishError, RetryPolicy, request


class KuboPublisher(Publisher):
    name = "kubo"

    def __init__(self, api: str, policy: RetryPolicy):
        self.endpoint = api.rstrip("/")
        self.policy = policy

    def _url(self, path: str) -> str:
        return f"{self.endpoint}/api/v0/{path}"

    def has(self, root: str) -> bool:
        resp = request("POST", self._url("pin/ls"), self.policy, what="kubo pin/ls",
                       params={"arg": root, "type": "recursive"},
                       final=lambda r: r.status_code == 500 and "not pinned" in r.text)
        if resp.status_code != 200:
            if "not pinned" in resp.text:
                return False
            raise PublishError(f"kubo pin/ls answered HTTP {resp.status_code}: {resp.text[:200]}")
        return root in (resp.json().get("Keys") or {})

    def upload(self, car: Path, root: str) -> str:
        resp = request("POST", self._url("dag/import"), self.policy, what=f"kubo dag/import {car.name}",
                       params={"pin-roots": "true"}, body=lambda: MultipartFile({}, "file", car))
        if resp.status_code != 200:
            raise PublishError(f"kubo dag/import answered HTTP {resp.status_code}: {resp.text[:200]}")
        reported = []
        for line in resp.text.splitlines():
            if not line.strip():
                continue
            msg = json.loads(line)
            if "Root" in msg:
                reported.append(msg["Root"]["Cid"]["/"])
                if msg["Root"].get("PinErrorMsg"):
                    raise PublishError(f"kubo could not pin {root}: {msg['Root']['PinErrorMsg']}")
        if reported != [root]:
            raise PublishError(f"kubo reported root(s) {reported} for {car.name}, but its CAR's root is {root}",
                               hint="a different CID is never accepted; check the node's import settings")
        if not self.has(root):
            raise PublishError(f"kubo imported {car.name} but does not report {root} as pinned")
        return f"imported and pinned {root}"
