"""What the preview shows, gathered from a build directory into typed, read-only data.

Everything later (contact sheets, gallery, rarity report) is a pure function of a
`BuildView`, so this is the only module that touches plan.json, images/, snapshots/,
animations/, metadata/ and rarity.json. Paths in a view are build-relative strings
(forward slashes), the form the gallery needs for `file://` links.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildfiles.errors import UserError
from buildfiles.plan import load_plan

RARITY_FILE = "rarity.json"
_SNAPSHOT_NAME = re.compile(r"^(\d+)\.png$")


@dataclass(frozen=True)
class Snapshot:
    iteration: int
    path: str  # build-relative, e.g. "snapshots/1/0500.png"


@dataclass(frozen=True)
class TokenView:
    id: int
    name: str
    special: str | None
    traits: dict[str, str]
    prompt: str
    seed: int
    image: str | None                  # None: not rendered yet (the preview shows a placeholder)
    snapshots: tuple[Snapshot, ...]     # sorted by iteration
    animation: str | None
    attributes: tuple[dict[str, Any], ...]  # metadata/{id}.json "attributes", else built from traits
    rank: int | None                   # from rarity.json; 1 = rarest
    score: float | None


@dataclass(frozen=True)
class Rarity:
    method: str
    trait_counts: dict[str, dict[str, int]]


@dataclass(frozen=True)
class BuildView:
    build_dir: Path
    collection_name: str
    description: str
    categories: tuple[str, ...]
    tokens: tuple[TokenView, ...]
    rarity: Rarity | None              # None: rarity.json absent (metadata step not run)
    trait_counts: dict[str, dict[str, int]]  # rarity.json's when present, else counted from the plan

    def token(self, token_id: int) -> TokenView:
        for t in self.tokens:
            if t.id == token_id:
                return t
        raise KeyError(token_id)


def load_build_view(build_dir: Path | str) -> BuildView:
    build_dir = Path(build_dir)
    plan = load_plan(build_dir)

    images = _names(build_dir / "images")
    animations = _names(build_dir / "animations")
    snapshots = _snapshots(build_dir / "snapshots")
    rarity, ranks = _load_rarity(build_dir / RARITY_FILE)

    tokens = []
    for t in plan.tokens:
        rank, score = ranks.get(t.id, (None, None))
        tokens.append(
            TokenView(
                id=t.id,
                name=t.name,
                special=t.special,
                traits=dict(t.traits),
                prompt=t.prompt,
                seed=t.seed,
                image=f"images/{t.id}.png" if f"{t.id}.png" in images else None,
                snapshots=snapshots.get(t.id, ()),
                animation=f"animations/{t.id}.mp4" if f"{t.id}.mp4" in animations else None,
                attributes=_attributes(build_dir / "metadata" / f"{t.id}.json", t.traits),
                rank=rank,
                score=score,
            )
        )
    categories = tuple(plan.categories)
    return BuildView(
        build_dir=build_dir,
        collection_name=plan.collection.name,
        description=plan.collection.description,
        categories=categories,
        tokens=tuple(tokens),
        rarity=rarity,
        trait_counts=rarity.trait_counts if rarity else count_traits(tokens, categories),
    )


def count_traits(tokens, categories) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter] = {c: Counter() for c in categories}
    for t in tokens:
        for c, v in t.traits.items():
            counts.setdefault(c, Counter())[v] += 1
    return {c: dict(n) for c, n in counts.items()}


def _names(folder: Path) -> set[str]:
    # One directory scan instead of 10,000 stat() calls.
    try:
        with os.scandir(folder) as it:
            return {e.name for e in it if e.is_file()}
    except FileNotFoundError:
        return set()


def _snapshots(folder: Path) -> dict[int, tuple[Snapshot, ...]]:
    out: dict[int, tuple[Snapshot, ...]] = {}
    try:
        dirs = [e for e in os.scandir(folder) if e.is_dir() and e.name.isdigit()]
    except FileNotFoundError:
        return out
    for d in dirs:
        snaps = []
        for name in _names(Path(d.path)):
            m = _SNAPSHOT_NAME.match(name)
            if m:
                snaps.append(Snapshot(int(m[1]), f"snapshots/{d.name}/{name}"))
        if snaps:
            out[int(d.name)] = tuple(sorted(snaps, key=lambda s: s.iteration))
    return out


def _attributes(path: Path, traits: dict[str, str]) -> tuple[dict[str, Any], ...]:
    # metadata/{id}.json is the truth once the metadata step ran (it may add
    # numeric attributes); before that the plan's traits are all there is.
    try:
        attrs = json.loads(path.read_text("utf-8")).get("attributes")
        if isinstance(attrs, list) and all(isinstance(a, dict) for a in attrs):
            return tuple(attrs)
    except (FileNotFoundError, json.JSONDecodeError, AttributeError, UnicodeDecodeError):
        pass
    return tuple({"trait_type": c, "value": v} for c, v in traits.items())


def _load_rarity(path: Path) -> tuple[Rarity | None, dict[int, tuple[int, float]]]:
    if not path.exists():
        return None, {}
    hint = "re-run `roboz-collection metadata BUILD_DIR` to rewrite it"
    try:
        raw = json.loads(path.read_text("utf-8"))
        counts = {str(c): {str(v): int(n) for v, n in vals.items()} for c, vals in raw["trait_counts"].items()}
        ranks = {int(t["id"]): (int(t["rank"]), float(t["score"])) for t in raw["tokens"]}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise UserError(f"{path} is malformed ({type(e).__name__}: {e})", hint=hint) from None
    return Rarity(method=str(raw.get("method", "unknown")), trait_counts=counts), ranks
