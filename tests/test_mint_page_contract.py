"""preview/mint_page/contract.json is the contract's own ABI (the entries the page uses) and
contracts/artifacts/errors.json's sentences, copied: the preview room never imports contracts.
Regenerate after the contract changes: `.venv/bin/python -m tests.test_mint_page_contract`."""

from __future__ import annotations

import json
from pathlib import Path

from buildfiles.atomicio import write_json

ROOT = Path(__file__).resolve().parents[1]
ARTIFACT = ROOT / "contracts" / "artifacts" / "RobozCollection.json"
ERRORS = ROOT / "contracts" / "artifacts" / "errors.json"
PAGE_CONTRACT = ROOT / "preview" / "mint_page" / "contract.json"

# What mint.js calls and decodes; every custom error comes along so any revert reads as a sentence.
PAGE_FUNCTIONS = ("mint", "phaseCount", "phaseAt", "currentPhase", "mintedInPhase", "totalMinted", "maxSupply", "paused")
PAGE_EVENTS = ("Transfer",)


def expected() -> dict:
    abi = json.loads(ARTIFACT.read_text("utf-8"))["abi"]
    keep = [e for e in abi if (e["type"] == "function" and e["name"] in PAGE_FUNCTIONS)
            or (e["type"] == "event" and e["name"] in PAGE_EVENTS) or e["type"] == "error"]
    return {"abi": keep, "errors": json.loads(ERRORS.read_text("utf-8"))}


def test_page_contract_is_the_artifacts():
    assert json.loads(PAGE_CONTRACT.read_text("utf-8")) == expected(), \
        "preview/mint_page/contract.json is stale: run `.venv/bin/python -m tests.test_mint_page_contract`"


def test_page_has_every_function_and_a_sentence_for_every_error():
    data = expected()
    names = {e["name"] for e in data["abi"] if e["type"] == "function"}
    assert names == set(PAGE_FUNCTIONS)
    errors = {e["name"] for e in data["abi"] if e["type"] == "error"}
    assert {"SaleNotOpen", "NotOnAllowlist", "WalletLimitExceeded", "PhaseSoldOut", "ExceedsMaxSupply",
            "WrongPayment", "EnforcedPause"} <= errors
    missing = sorted(errors - set(data["errors"]))
    assert not missing, f"errors.json has no sentence for {missing}"


if __name__ == "__main__":
    write_json(PAGE_CONTRACT, expected())
    print(f"wrote {PAGE_CONTRACT.relative_to(ROOT)}")
