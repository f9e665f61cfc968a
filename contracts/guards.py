"""Guards before a public chain: what `mint` refuses to put on any chain but a local one.

A contract on Sepolia or mainnet is public and, for the provenance hash, permanent. Two
things are refused there unless the user says otherwise with a flag:
  - test or demo renders (random-weight or demo models: never real art),
  - CIDs nobody has pinned (only CAR files written, or never published): the tokenURIs
    would point at nothing the moment the build directory is gone.
Files changed since `metadata` are refused on every chain (contracts/inputs.py).
On a terminal the user then sees a summary and confirms (`--yes` skips the question).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildfiles.chains import is_local_chain
from buildfiles.errors import UserError
from buildfiles.plan import Plan
from contracts.inputs import UriFiles

# Labels render records and metadata carry for pictures that are not real renders: the tiny
# random-weight test models ("Test render") and the small demo models ("Demo render").
_LABEL = re.compile(r"\b(test|demo)\s+render", re.IGNORECASE)
_MODEL_NAMES = ("tiny", "demo")


@dataclass(frozen=True)
class Overrides:
    test_renders: bool = False      # --allow-test-renders
    unpinned: bool = False          # --allow-unpinned


def _json_object(path: Path) -> dict[str, Any] | None:
    # Render records and metadata are checked for integrity elsewhere; here an unreadable one
    # simply says nothing (the metadata file is the second witness).
    try:
        raw = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return raw if isinstance(raw, dict) else None


def _models_text(models: Any) -> str:
    if isinstance(models, dict):
        return " ".join(map(str, models.values()))
    if isinstance(models, (list, tuple)):
        return " ".join(map(str, models))
    return str(models or "")


def not_real_render(build_dir: Path, token_id: int) -> str | None:
    """Why token `token_id` is a test or demo render (the file and label that say so), or None."""
    rec = _json_object(build_dir / "renders" / f"{token_id}.json")
    if rec is not None:
        for key in ("tiny", "demo", "test"):
            if rec.get(key) is True:
                return f"renders/{token_id}.json says {key}: true"
        for key in ("label", "kind"):
            v = rec.get(key)
            if isinstance(v, str) and (v.strip().lower() in ("test", "demo") or _LABEL.search(v)):
                return f"renders/{token_id}.json: {key} {v}"
        text = _models_text(rec.get("models")).lower()
        names = [n for n in re.split(r"[\s+]+", text) if n]         # "vqgan+clip": the registry's names
        if any(n in _MODEL_NAMES or n.startswith("demo") for n in names):
            return f"renders/{token_id}.json: models {_models_text(rec.get('models'))}"
    md = _json_object(build_dir / "metadata" / f"{token_id}.json")
    for a in (md or {}).get("attributes") or []:
        if isinstance(a, dict) and _LABEL.search(f"{a.get('trait_type', '')} {a.get('value', '')}"):
            return f"metadata/{token_id}.json: {a.get('trait_type')}: {a.get('value')}"
    return None


def check_public_chain(build_dir: Path, plan: Plan, uris: UriFiles, chain_id: int, network: str,
                       overrides: Overrides) -> list[str]:
    """Refuse (one UserError) what must not reach a public chain; returns notes on what was overridden."""
    if is_local_chain(chain_id):
        return []
    where = f"chain {chain_id}" + (f" ({network})" if network != "rpc" else "")
    notes: list[str] = []

    flagged = [(t.id, why) for t in plan.tokens if (why := not_real_render(build_dir, t.id))]
    if flagged:
        tid, why = flagged[0]
        msg = (f"{len(flagged)} of {len(plan.tokens)} tokens are test or demo renders (token {tid}: {why}); "
               f"refusing to mint them on {where}")
        if not overrides.test_renders:
            raise UserError(msg, hint="render with real models (`roboz-collection build` without --models tiny/demo), "
                                      "or pass --allow-test-renders to mint them anyway", exit_code=2)
        notes.append(msg.replace("refusing to mint", "minting") + " (--allow-test-renders)")

    problem = None
    unpinned = uris.unpinned()
    if uris.publish is None:
        problem = "the CIDs were never published (no publish.json, only cids.json)"
    elif unpinned and not any(t.pins for t in uris.publish.targets):
        providers = ", ".join(sorted({t.provider for t in uris.publish.targets}))
        problem = (f"publish.json shows only {providers}: CAR files were written but no IPFS provider "
                   "confirmed it pins them")
    elif unpinned:
        problem = (f"root {unpinned[0]} is not pinned by any provider in publish.json "
                   "(`metadata` ran again after the last publish?)")
    if problem:
        if not overrides.unpinned:
            raise UserError(f"{problem}; refusing to mint on {where}",
                            hint="run `roboz-collection publish BUILD_DIR --to kubo|pinata|...` first, "
                                 "or pass --allow-unpinned to mint anyway", exit_code=2)
        notes.append(f"{problem} (--allow-unpinned)")
    return notes


@dataclass(frozen=True)
class MintSummary:
    """What a person confirms before `mint` spends money on a public chain."""

    network: str
    chain_id: int
    rpc: str                 # redacted
    sender: str
    contract: str            # an address, or "new RobozCollection"
    tokens_to_mint: int
    tokens_total: int
    recipient: str
    estimated_gas: int
    gas_price_wei: int       # expected price (base fee + tip)
    balance_wei: int

    @property
    def estimated_cost_wei(self) -> int:
        return self.estimated_gas * self.gas_price_wei

    def lines(self) -> list[str]:
        eth = lambda wei: f"{wei / 10**18:.6f} ETH"  # noqa: E731
        return [
            f"network    {self.network}, chain id {self.chain_id} ({self.rpc})",
            f"contract   {self.contract}",
            f"tokens     {self.tokens_to_mint} to mint now of {self.tokens_total}, to {self.recipient}",
            f"cost       about {eth(self.estimated_cost_wei)} ({self.estimated_gas:,} gas at "
            f"{self.gas_price_wei / 10**9:.3f} gwei)",
            f"sender     {self.sender}, balance {eth(self.balance_wei)}",
        ]
