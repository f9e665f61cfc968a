"""Pinata: upload each CAR to the public network (`POST /v3/files` with car=true), check the CID.

The JWT comes from PINATA_JWT and is only ever put in the Authorization header.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from buildfiles.urls import endpoint_url, redact_url
from metadata.publishers.base import (MultipartFile, Publisher, PublishError, RetryPolicy, env_secret, json_answer,
                                      malformed, request, snippet)

UPLOADS = "https://uploads.pinata.cloud"
API = "https://api.pinata.cloud"


class PinataPublisher(Publisher):
    name = "pinata"

    def __init__(self, jwt: str, policy: RetryPolicy, uploads: str = UPLOADS, api: str = API):
        self._auth = {"Authorization": f"Bearer {jwt}"}
        self.policy = policy
        self.uploads, self.api = uploads, api
        self.endpoint = self.uploads
        self.unreachable = f"check your network and the address ({redact_url(self.uploads)}); --api overrides it"

    def __repr__(self) -> str:  # never show the token
        return f"PinataPublisher({redact_url(self.uploads)})"

    @classmethod
    def from_env(cls, base: str | None, policy: RetryPolicy) -> "PinataPublisher":
        jwt = env_secret("PINATA_JWT")
        if not jwt:
            raise PublishError("PINATA_JWT is not set", hint="export PINATA_JWT=<your Pinata API JWT> (it is never printed or saved)",
                               exit_code=2)
        # --api points both hosts at one place (a test server or a proxy)
        return cls(jwt, policy, base or UPLOADS, base or API)

    def _check_auth(self, resp, what: str) -> None:
        if resp.status_code in (401, 403):
            raise PublishError(f"Pinata refused the PINATA_JWT for {what} (HTTP {resp.status_code})",
                               hint="create a key with files:write and files:read scopes")

    def has(self, root: str, log: Callable[[str], None] = print) -> bool:
        what = "pinata file lookup"
        resp = request("GET", endpoint_url(self.api, "v3/files/public"), self.policy, what=what, log=log, unreachable_hint=self.unreachable,
                       headers=self._auth, params={"cid": root})
        self._check_auth(resp, "lookup")
        if resp.status_code != 200:
            raise PublishError(f"Pinata file lookup answered HTTP {resp.status_code}: {snippet(resp.text)}")
        body = json_answer(resp, what)
        data = body.get("data") if isinstance(body, dict) else None
        files = (data.get("files") if isinstance(data, dict) else None) or []
        if not isinstance(data, dict) or not isinstance(files, list):
            raise malformed(resp, what, '"data": {"files": [...]}')
        return any(isinstance(f, dict) and f.get("cid") == root for f in files)

    def upload(self, car: Path, root: str, log: Callable[[str], None] = print) -> str:
        fields = {"network": "public", "car": "true", "name": car.name}
        what = f"pinata upload {car.name}"
        resp = request("POST", endpoint_url(self.uploads, "v3/files"), self.policy, what=what, log=log, unreachable_hint=self.unreachable,
                       headers=self._auth, body=lambda: MultipartFile(fields, "file", car))
        self._check_auth(resp, "upload")
        if resp.status_code != 200:
            raise PublishError(f"Pinata upload of {car.name} answered HTTP {resp.status_code}: {snippet(resp.text)}")
        body = json_answer(resp, what)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise malformed(resp, what, '"data": {"cid": ...}')
        cid = data.get("cid")
        if cid != root:
            raise PublishError(f"Pinata reported CID {cid} for {car.name}, but its CAR's root is {root}",
                               hint="a different CID is never accepted; was the file sent as a CAR (car=true)?")
        return f"uploaded, Pinata reports {cid}"
