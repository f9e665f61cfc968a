"""Planned vs expected share of each trait value: the cover's trait chart.

Planned shares come from plan.json. Expected shares come from the manifest's weights,
which plan.json does not keep: the manifest is looked for beside the build directory
(where `plan` puts `build/` by default) and used only if its sha256 is the one the plan
was made from, so an edited manifest never passes for the plan's.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from buildfiles.plan import Plan


@dataclass(frozen=True)
class ValueShare:
    value: str
    count: int
    planned: float                   # count / tokens of the base (generated tokens, or all)
    expected: float | None           # from the manifest's weights (or exact counts); None if unknown


@dataclass(frozen=True)
class CategoryShares:
    category: str
    base: int                        # tokens the shares are fractions of
    values: tuple[ValueShare, ...]   # manifest order when known, else most common first


@dataclass(frozen=True)
class TraitShares:
    categories: tuple[CategoryShares, ...]
    manifest: str | None             # file name of the manifest the expectation came from


def find_manifest(build_dir: Path, sha256: str) -> Path | None:
    folder = Path(build_dir).resolve().parent
    for p in sorted(folder.glob("*.y*ml")):
        try:
            if p.is_file() and p.stat().st_size < 10_000_000 and hashlib.sha256(p.read_bytes()).hexdigest() == sha256:
                return p
        except OSError:
            continue
    return None


def _manifest_weights(build_dir: Path, plan: Plan):
    path = find_manifest(build_dir, plan.manifest_sha256)
    if path is None:
        return None, None
    try:
        from collection.plan.manifest import load_manifest

        return load_manifest(path).categories, path.name
    except Exception:  # noqa: BLE001 - a chart without expectations beats no preview at all
        return None, None


def trait_shares(build_dir: Path, plan: Plan) -> TraitShares:
    categories, manifest = _manifest_weights(build_dir, plan)
    generated = [t for t in plan.tokens if not t.special]
    out = []
    known = set()
    for cat in categories or ():
        known.add(cat.name)
        counts = Counter(t.traits.get(cat.name) for t in generated)
        n = len(generated)
        exact = {v.name: getattr(v, "count", None) for v in cat.values}
        fixed = sum(c for c in exact.values() if c)
        weighted = [v for v in cat.values if not exact[v.name]]
        total_w = sum(v.weight for v in weighted) or 1.0
        vals = []
        for v in cat.values:
            if not n:
                expected = None
            elif exact[v.name]:
                expected = exact[v.name] / n
            else:
                expected = v.weight / total_w * max(0, n - fixed) / n
            vals.append(ValueShare(v.name, counts[v.name], counts[v.name] / n if n else 0.0, expected))
        out.append(CategoryShares(cat.name, n, tuple(vals)))
    # Categories the manifest does not weigh (those only specials use, or no manifest at all).
    n = len(plan.tokens)
    for cat in plan.categories:
        if cat in known:
            continue
        counts = Counter(t.traits[cat] for t in plan.tokens if cat in t.traits)
        vals = tuple(ValueShare(v, c, c / n if n else 0.0, None) for v, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
        out.append(CategoryShares(cat, n, vals))
    return TraitShares(tuple(out), manifest)
