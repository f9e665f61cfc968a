"""Etherscan's contract verification API (v2, one endpoint for every chain): submit the standard-JSON
input, then poll the request until it passes or fails.

    POST {api}?chainid=N   module=contract action=verifysourcecode codeformat=solidity-standard-json-input
                           sourceCode contractaddress contractname compilerversion constructorArguements apikey
         -> {"status": "1", "message": "OK", "result": "<guid>"}
    GET  {api}?chainid=N&module=contract&action=checkverifystatus&guid=...&apikey=...
         -> result "Pending in queue" | "Pass - Verified" | "Fail - Unable to verify ..." | "Already Verified"
    GET  {api}?chainid=N&module=contract&action=getsourcecode&address=...&apikey=...
         -> result [{"SourceCode": "" when not verified, ...}]

The key comes from ETHERSCAN_API_KEY and is never printed: it is sent in the form body or the
query, and every message taken from a response is scrubbed of it before it is shown.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any, Callable

from buildfiles.errors import UserError

DEFAULT_API = "https://api.etherscan.io/v2/api"
KEY_ENV = "ETHERSCAN_API_KEY"
POLL_S = 5.0
TIMEOUT_S = 600.0
RATE_LIMIT_RETRIES = 5


class EtherscanError(UserError):
    """The explorer refused or failed the verification; the message is its own, scrubbed of the key."""


@dataclass(frozen=True)
class Submission:
    chain_id: int
    address: str
    standard_json: str          # the compiler's standard-JSON input, as text
    contract_name: str          # "RobozCollection.sol:RobozCollection"
    compiler_version: str       # "v0.8.30+commit.73712a01"
    constructor_args: str       # ABI-encoded, hex without 0x


@dataclass(frozen=True)
class Outcome:
    state: str                  # "verified" (this run), "already" (verified before), "failed"
    guid: str | None
    message: str
    polls: int


def api_key_from_env() -> str:
    key = os.environ.get(KEY_ENV, "").strip()
    if not key:
        raise UserError(f"Etherscan verification needs an API key in {KEY_ENV}",
                        hint=f"create one at https://etherscan.io/myapikey and export {KEY_ENV}=...; "
                             "it works for every chain Etherscan serves (Sepolia included)", exit_code=2)
    return key


class Etherscan:
    """One explorer API endpoint and key. `sleep` and the poll interval are injectable so a test
    against a local imitation need not wait Etherscan's seconds."""

    def __init__(self, api_url: str, api_key: str, *, poll_s: float = POLL_S, timeout_s: float = TIMEOUT_S,
                 sleep: Callable[[float], None] = time.sleep, http_timeout: float = 60.0):
        import requests

        self.api_url, self._key = api_url, api_key
        self.poll_s, self.timeout_s, self.sleep, self.http_timeout = poll_s, timeout_s, sleep, http_timeout
        self._http = requests.Session()

    def _scrub(self, text: Any) -> str:
        s = " ".join(str(text).split())[:300]
        return s.replace(self._key, "***") if self._key else s

    def _request(self, chain_id: int, params: dict[str, str], form: dict[str, str] | None = None) -> dict[str, Any]:
        """One API call: the decoded JSON object. Network errors and rate limits are retried a few times."""
        import requests

        query = {"chainid": str(chain_id), **params}
        for attempt in range(RATE_LIMIT_RETRIES):
            try:
                if form is None:
                    r = self._http.get(self.api_url, params={**query, "apikey": self._key}, timeout=self.http_timeout)
                else:
                    r = self._http.post(self.api_url, params=query, data={**form, "apikey": self._key},
                                        timeout=self.http_timeout)
            except requests.RequestException as e:
                if attempt + 1 == RATE_LIMIT_RETRIES:
                    raise EtherscanError(f"the Etherscan API at {self._where()} did not answer ({type(e).__name__})",
                                         hint="check your network and --api-url, then run `verify` again") from None
                self.sleep(min(2 ** attempt, 30))
                continue
            if r.status_code == 429 or r.status_code >= 500:
                if attempt + 1 == RATE_LIMIT_RETRIES:
                    raise EtherscanError(f"the Etherscan API answered HTTP {r.status_code}", hint="run `verify` again later")
                self.sleep(min(2 ** attempt, 30))
                continue
            try:
                body = r.json()
            except ValueError:
                raise EtherscanError(f"the Etherscan API answered HTTP {r.status_code} with something that is not JSON",
                                     hint="check --api-url: it must be an Etherscan-compatible API") from None
            if not isinstance(body, dict):
                raise EtherscanError("the Etherscan API answered an unexpected JSON value")
            if "rate limit" in str(body.get("result", "")).lower() and attempt + 1 < RATE_LIMIT_RETRIES:
                self.sleep(min(2 ** attempt, 30))
                continue
            return body
        raise AssertionError("unreachable")

    def _where(self) -> str:
        from buildfiles.urls import redact_url

        return redact_url(self.api_url)

    def _refused(self, body: dict[str, Any], what: str) -> EtherscanError:
        result = self._scrub(body.get("result") or body.get("message") or "no reason given")
        hint = None
        if "api key" in result.lower() or "apikey" in result.lower():
            hint = f"check {KEY_ENV} (an Etherscan API key; the same key serves every chain)"
        return EtherscanError(f"Etherscan refused {what}: {result}", hint=hint)

    # ---------------------------------------------------------------- the three calls

    def is_verified(self, chain_id: int, address: str) -> bool:
        body = self._request(chain_id, {"module": "contract", "action": "getsourcecode", "address": address})
        if str(body.get("status")) != "1":
            raise self._refused(body, "the source code lookup")
        result = body.get("result")
        return isinstance(result, list) and bool(result) and isinstance(result[0], dict) and bool(result[0].get("SourceCode"))

    def submit(self, sub: Submission) -> str | None:
        """The request's guid, or None when Etherscan says the source is already verified."""
        form = {
            "module": "contract", "action": "verifysourcecode", "codeformat": "solidity-standard-json-input",
            "sourceCode": sub.standard_json, "contractaddress": sub.address, "contractname": sub.contract_name,
            "compilerversion": sub.compiler_version,
            # The API's historical spelling, which every client sends; the docs now also name the corrected one.
            "constructorArguements": sub.constructor_args, "constructorArguments": sub.constructor_args,
        }
        body = self._request(sub.chain_id, {"module": "contract", "action": "verifysourcecode"}, form)
        result = str(body.get("result") or "")
        if str(body.get("status")) == "1" and result:
            return result
        if "already verified" in result.lower():
            return None
        raise self._refused(body, "the verification request")

    def check(self, chain_id: int, guid: str) -> tuple[str, str]:
        """("pending" | "pass" | "already" | "fail", Etherscan's words)."""
        body = self._request(chain_id, {"module": "contract", "action": "checkverifystatus", "guid": guid})
        result = self._scrub(body.get("result") or "")
        low = result.lower()
        if "pending" in low or "in queue" in low:
            return "pending", result
        if "already verified" in low:
            return "already", result
        if str(body.get("status")) == "1" and low.startswith("pass"):
            return "pass", result
        if low.startswith("fail") or "unable to" in low:
            return "fail", result
        raise self._refused(body, "the status request")

    def verify(self, sub: Submission, log: Callable[[str], None] = lambda _m: None) -> Outcome:
        """Submit unless already verified, then poll until Etherscan decides (or the timeout)."""
        if self.is_verified(sub.chain_id, sub.address):
            return Outcome("already", None, "the explorer already shows this contract's source", 0)
        guid = self.submit(sub)
        if guid is None:
            return Outcome("already", None, "Etherscan: already verified", 0)
        log(f"submitted to Etherscan (request {guid}); waiting for its compiler")
        deadline, polls = time.monotonic() + self.timeout_s, 0
        while True:
            self.sleep(self.poll_s)
            polls += 1
            state, words = self.check(sub.chain_id, guid)
            if state == "pass":
                return Outcome("verified", guid, words, polls)
            if state == "already":
                return Outcome("already", guid, words, polls)
            if state == "fail":
                return Outcome("failed", guid, words, polls)
            if time.monotonic() > deadline:
                raise EtherscanError(f"Etherscan has not decided request {guid} after {self.timeout_s:.0f} s ({words})",
                                     hint="run `verify` again later: a contract verified meanwhile is recognised")


def standard_json_text(data: dict[str, Any]) -> str:
    """The standard-JSON input as sent: compact, keys in the compiler's order (not re-sorted)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
