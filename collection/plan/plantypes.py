"""The planner's vocabulary: trait values, categories, exclusions, specials, and counting.

Both the manifest (which builds these from YAML and checks them) and the planner (which
samples from them) import this module; it imports neither, so the two never form a circle.
A combination is one value per category, encoded as an integer in mixed radix (first
category most significant).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

MAX_EXCLUSION_ENUMERATION = 20_000_000


@dataclass(frozen=True)
class TraitValue:
    name: str             # shown in metadata
    weight: float
    phrase: str           # put into the prompt
    count: int | None = None   # exact number of tokens (specials carrying it included), or None: by weight


@dataclass(frozen=True)
class Category:
    name: str
    values: tuple[TraitValue, ...]

    def index(self, value: str) -> int:
        for i, v in enumerate(self.values):
            if v.name == value:
                return i
        raise KeyError(value)


@dataclass(frozen=True)
class Exclusion:
    # category -> allowed value indexes; a combination matching every entry is excluded
    match: tuple[tuple[int, frozenset[int]], ...]


@dataclass(frozen=True)
class Special:
    name: str
    prompt: str
    traits: dict[str, str]
    render: dict[str, Any]


@dataclass(frozen=True)
class Radix:
    sizes: tuple[int, ...]
    strides: tuple[int, ...]
    total: int

    @classmethod
    def of(cls, categories: Sequence[Category]) -> "Radix":
        sizes = tuple(len(c.values) for c in categories)
        strides = []
        s = 1
        for n in reversed(sizes):
            strides.append(s)
            s *= n
        return cls(sizes, tuple(reversed(strides)), s)

    def decode(self, k: int) -> tuple[int, ...]:
        return tuple((k // st) % n for st, n in zip(self.strides, self.sizes))

    def encode(self, idx: Sequence[int]) -> int:
        return sum(i * st for i, st in zip(idx, self.strides))


class ExclusionIndex:
    """Answers "is this combination excluded?" by looking only at the categories exclusions name."""

    def __init__(self, categories: Sequence[Category], exclusions: Sequence[Exclusion]):
        self.cats = sorted({ci for ex in exclusions for ci, _ in ex.match})
        self.sizes = [len(categories[c].values) for c in self.cats]
        sub_total = 1
        for n in self.sizes:
            sub_total *= n
        if sub_total > MAX_EXCLUSION_ENUMERATION:
            raise ValueError(
                f"exclusions mention categories with {sub_total:,} joint combinations; "
                f"keep exclusions to fewer or smaller categories (limit {MAX_EXCLUSION_ENUMERATION:,})"
            )
        import numpy as np

        pos = {c: i for i, c in enumerate(self.cats)}
        self.sub_strides = []
        s = 1
        for n in reversed(self.sizes):
            self.sub_strides.append(s)
            s *= n
        self.sub_strides.reverse()
        # 1 = excluded sub-combination. Marked with numpy's fancy indexing: a rule naming several
        # large categories covers millions of cells, too many for a Python loop at validate time.
        mask = np.zeros(self.sizes or [1], dtype=np.uint8)
        for ex in exclusions:
            axes: list = [np.arange(n) for n in self.sizes]
            for ci, allowed in ex.match:
                axes[pos[ci]] = np.array(sorted(allowed), dtype=np.int64)
            if all(len(a) for a in axes):
                mask[np.ix_(*axes)] = 1
        self.excluded_sub = int(mask.sum()) if self.cats else 0
        self.mask = bytearray(mask.tobytes()) if self.cats else bytearray(1)
        self.sub_total = sub_total

    def allowed(self, radix: Radix) -> int:
        """Allowed combinations: each excluded sub-combination removes every completion of it."""
        return radix.total - self.excluded_sub * (radix.total // self.sub_total)

    def excluded(self, idx: Sequence[int]) -> bool:
        if not self.cats:
            return False
        return bool(self.mask[sum(idx[c] * st for c, st in zip(self.cats, self.sub_strides))])

    def allowed_with(self, radix: Radix, category: int) -> list[int]:
        """Allowed combinations holding each value of `category` (one count per value)."""
        n = radix.sizes[category]
        if category not in self.cats:
            return [self.allowed(radix) // n] * n
        import numpy as np

        completions = radix.total // self.sub_total  # combinations per sub-combination
        ok = np.frombuffer(self.mask, dtype=np.uint8).reshape(self.sizes) == 0
        p = self.cats.index(category)
        per_value = np.count_nonzero(ok, axis=tuple(i for i in range(len(self.sizes)) if i != p)) if len(self.sizes) > 1 else ok
        return [int(x) * completions for x in per_value]

def count_targets(cat: Category, specials: Sequence[Special]) -> dict[int, int]:
    """Counted value index -> tokens to draw from traits (its count minus the specials carrying it)."""
    out = {}
    for vi, v in enumerate(cat.values):
        if v.count is not None:
            out[vi] = v.count - sum(1 for sp in specials if sp.traits.get(cat.name) == v.name)
    return out


@dataclass(frozen=True)
class Expectation:
    """How many of the tokens drawn from traits (specials apart) one category's values should get:
    a counted value exactly its count less the specials carrying it, the others the rest by weight.
    Exclusions are ignored, so a weighted figure is "about". The one place this is worked out: the
    manifest's warnings, plan.json's `expected` and from it the plan table and the gallery."""

    category: Category
    generated: int                # tokens drawn from traits
    counted: dict[int, int]       # value index -> exact tokens (count_targets)

    @property
    def rest(self) -> int:
        """Tokens left to the values drawn by weight."""
        return self.generated - sum(self.counted.values())

    @property
    def free_weight(self) -> float:
        return sum(v.weight for i, v in enumerate(self.category.values) if i not in self.counted)

    def tokens(self, i: int) -> float:
        if i in self.counted:
            return float(self.counted[i])
        w = self.free_weight
        return max(self.rest, 0) * self.category.values[i].weight / w if w else 0.0

    def shares(self) -> list[tuple[str, float]]:
        """(value, expected share of the generated tokens) in manifest order: plan.json's `expected` entry."""
        n = self.generated
        return [(v.name, self.tokens(i) / n if n else 0.0) for i, v in enumerate(self.category.values)]


def expectations(categories: Sequence[Category], specials: Sequence[Special], generated: int) -> tuple[Expectation, ...]:
    return tuple(Expectation(cat, generated, count_targets(cat, specials)) for cat in categories)


def count_combinations(categories: Sequence[Category], exclusions: Sequence[Exclusion]) -> tuple[int, int]:
    """(all combinations, allowed combinations), without enumerating the categories exclusions don't name."""
    radix = Radix.of(categories)
    return radix.total, ExclusionIndex(categories, exclusions).allowed(radix)
