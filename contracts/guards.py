"""Guards before a public chain: what `mint` refuses to put on any chain but a local one.

A contract on Sepolia or mainnet is public and, for the provenance hash, permanent. Two
things are refused there unless the user says otherwise with a flag:
  - test or demo renders (random-weight or demo models: never real art),
  - CIDs nobody has pinned (only CAR files written, or never published): the tokenURIs
    would point at nothing the moment the build directory is gone.
Files changed since `metadata` are refused on every chain (contracts/inputs.py).
On a terminal the user then sees a summary and confirms (`--yes` skips the question);
off a terminal nothing is sent to a public chain without `--yes`.

Every refusal of a run is collected (Refusals) and reported together, before the first
transaction: a user learns of test renders, unpinned CIDs and too little ETH in one run.
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
from contracts.refusals import MintRefused, Refusals  # noqa: F401 - MintRefused: importable beside the guards

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
                       overrides: Overrides, refusals: Refusals | None = None) -> list[str]:
    """What must not reach a public chain, added to `refusals` (or raised at once without one);
    returns notes on what was overridden."""
    own = refusals if refusals is not None else Refusals()
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
            own.add(msg, "render with real models (`roboz-collection build` without --models tiny/demo), "
                         "or pass --allow-test-renders to mint them anyway")
        else:
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
            own.add(f"{problem}; refusing to mint on {where}",
                    "run `roboz-collection publish BUILD_DIR --to kubo|pinata|...` first, "
                    "or pass --allow-unpinned to mint anyway")
        else:
            notes.append(f"{problem} (--allow-unpinned)")
    if refusals is None:
        own.raise_if_any()
    return notes


# ---------------------------------------------------------------- the contract's own size

CODE_SIZE_LIMIT = 24_576        # EIP-170: the most runtime code one contract may have
INITCODE_SIZE_LIMIT = 49_152    # EIP-3860: the most creation code one deploy may carry


def check_code_size(name: str, runtime_hex: str, initcode_hex: str, refusals: Refusals) -> None:
    """A contract over EIP-170's limit fails at deploy, after its gas is spent: refuse it before."""
    runtime = len(runtime_hex.removeprefix("0x")) // 2
    initcode = len(initcode_hex.removeprefix("0x")) // 2
    if runtime > CODE_SIZE_LIMIT:
        refusals.add(f"{name}'s runtime code is {runtime:,} bytes, above the {CODE_SIZE_LIMIT:,}-byte limit of "
                     "EIP-170: every chain would reject the deploy (after charging its gas)",
                     "shrink the contract (optimizer runs, fewer features) and recompile: python -m contracts.compile")
    if initcode > INITCODE_SIZE_LIMIT:
        refusals.add(f"{name}'s creation code is {initcode:,} bytes, above the {INITCODE_SIZE_LIMIT:,}-byte limit "
                     "of EIP-3860", "shrink the contract and recompile: python -m contracts.compile")


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
    max_fee_wei: int = 0     # the most one unit of gas may cost (2 base fees + tip): what the balance must cover
    settings_to_send: tuple[str, ...] = ()   # setters the chain lacks (baseURI, provenance, ...)

    @property
    def worst_cost_wei(self) -> int:
        return self.estimated_gas * max(self.max_fee_wei, self.gas_price_wei)

    @property
    def estimated_cost_wei(self) -> int:
        return self.estimated_gas * self.gas_price_wei

    def lines(self) -> list[str]:
        eth = lambda wei: f"{wei / 10**18:.6f} ETH"  # noqa: E731
        return [
            f"network    {self.network}, chain id {self.chain_id} ({self.rpc})",
            f"contract   {self.contract}",
            f"tokens     {self.tokens_to_mint} to mint now of {self.tokens_total}, to {self.recipient}",
            *([f"settings   {', '.join(self.settings_to_send)}"] if self.settings_to_send else []),
            f"cost       about {eth(self.estimated_cost_wei)} ({self.estimated_gas:,} gas at "
            f"{self.gas_price_wei / 10**9:.3f} gwei)",
            f"sender     {self.sender}, balance {eth(self.balance_wei)}",
        ]
