"""Planning: expand a validated manifest into tokens, deterministically.

Pure functions only. A combination is one value per category, encoded as an integer
in mixed radix (first category most significant) so a million of them fit in an
`array('Q')` instead of a million tuples.

Sampling follows the weights without replacement: the chance of drawing a
combination is proportional to the product of its values' weights, among the
combinations not yet drawn and not excluded. Two exact ways to do that:
- rejection: draw each category by weight, redraw on an exclusion or a repeat;
  cheap when the supply is a small part of the allowed combinations;
- a Fenwick tree over every allowed combination's weight, removing each one drawn;
  used when the supply is a large part of them, where rejection would stall.
Both consume one seeded SplitMix64 stream, so a manifest always gives the same plan.
"""

from __future__ import annotations

import itertools
from array import array
from bisect import bisect_right
from dataclasses import dataclass
from typing import Iterator, Sequence

from collection.manifest import PLACEHOLDER, Category, Exclusion, Manifest
from buildfiles.plan import PlannedToken
from collection.prng import SplitMix64, derive_seed, shuffle_in_place, stream

FENWICK_MAX_ALLOWED = 20_000    # below this, the exact tree is cheap enough to always use
REJECTION_SHARE = 0.25          # above this share of the allowed combinations, rejection slows down
MAX_EXCLUSION_ENUMERATION = 20_000_000


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
        sizes = [len(categories[c].values) for c in self.cats]
        sub_total = 1
        for n in sizes:
            sub_total *= n
        if sub_total > MAX_EXCLUSION_ENUMERATION:
            raise ValueError(
                f"exclusions mention categories with {sub_total:,} joint combinations; "
                f"keep exclusions to fewer or smaller categories (limit {MAX_EXCLUSION_ENUMERATION:,})"
            )
        pos = {c: i for i, c in enumerate(self.cats)}
        self.mask = bytearray(sub_total)  # 1 = excluded sub-combination
        self.sub_strides = []
        s = 1
        for n in reversed(sizes):
            self.sub_strides.append(s)
            s *= n
        self.sub_strides.reverse()
        for ex in exclusions:
            ranges = [range(n) for n in sizes]
            for ci, allowed in ex.match:
                ranges[pos[ci]] = sorted(allowed)  # type: ignore[assignment]
            for combo in itertools.product(*ranges):
                self.mask[sum(i * st for i, st in zip(combo, self.sub_strides))] = 1
        self.excluded_sub = sum(self.mask)
        self.sub_total = sub_total

    def allowed(self, radix: Radix) -> int:
        """Allowed combinations: each excluded sub-combination removes every completion of it."""
        return radix.total - self.excluded_sub * (radix.total // self.sub_total)

    def excluded(self, idx: Sequence[int]) -> bool:
        if not self.cats:
            return False
        return bool(self.mask[sum(idx[c] * st for c, st in zip(self.cats, self.sub_strides))])


def count_combinations(categories: Sequence[Category], exclusions: Sequence[Exclusion]) -> tuple[int, int]:
    """(all combinations, allowed combinations), without enumerating the categories exclusions don't name."""
    radix = Radix.of(categories)
    return radix.total, ExclusionIndex(categories, exclusions).allowed(radix)


# ---------------------------------------------------------------- sampling


def _cumulative(cat: Category) -> tuple[list[float], float]:
    cum, s = [], 0.0
    for v in cat.values:
        s += v.weight
        cum.append(s)
    return cum, s


def _combo_weight(categories: Sequence[Category], idx: Sequence[int]) -> float:
    w = 1.0
    for cat, i in zip(categories, idx):
        w *= cat.values[i].weight
    return w


def iter_allowed(radix: Radix, ex: ExclusionIndex) -> Iterator[tuple[int, tuple[int, ...]]]:
    """(combination int, index tuple) of every allowed combination, in radix order.

    `itertools.product` walks the same order as the mixed-radix encoding, so the
    enumeration index is the combination's integer and nothing needs decoding."""
    combos = enumerate(itertools.product(*(range(n) for n in radix.sizes)))
    if not ex.cats:
        yield from combos
        return
    for k, idx in combos:
        if not ex.excluded(idx):
            yield k, idx


def sample_rejection(categories, radix, ex, n, rng: SplitMix64, max_attempts: int) -> list[int] | None:
    cums = [_cumulative(c) for c in categories]
    seen: set[int] = set()
    out: list[int] = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > max_attempts:
            return None
        idx = []
        for cum, total in cums:
            i = bisect_right(cum, rng.random() * total)
            idx.append(min(i, len(cum) - 1))
        if ex.excluded(idx):
            continue
        k = radix.encode(idx)
        if k in seen:
            continue
        seen.add(k)
        out.append(k)
    return out


def sample_fenwick(categories, radix, ex, n, rng: SplitMix64) -> list[int]:
    keys = array("Q")
    weights = array("d")
    for k, idx in iter_allowed(radix, ex):
        keys.append(k)
        weights.append(_combo_weight(categories, idx))
    size = len(keys)
    tree = array("d", bytes(8 * (size + 1)))
    for pos in range(1, size + 1):  # linear-time build: each node passes its sum to its parent
        tree[pos] += weights[pos - 1]
        parent = pos + (pos & -pos)
        if parent <= size:
            tree[parent] += tree[pos]
    top = 1 << (size.bit_length() - 1) if size else 0
    out: list[int] = []
    for _ in range(n):
        total = _prefix(tree, size)
        target = rng.random() * total
        # Descend the tree to the first position whose prefix sum exceeds target.
        pos, step = 0, top
        while step:
            nxt = pos + step
            if nxt <= size and tree[nxt] <= target:
                pos = nxt
                target -= tree[nxt]
            step >>= 1
        pos = min(pos, size - 1)
        while weights[pos] == 0.0:  # float edge: landed on a removed slot; take the next live one
            pos = (pos + 1) % size
        out.append(keys[pos])
        w = weights[pos]
        weights[pos] = 0.0
        i = pos + 1
        while i <= size:
            tree[i] -= w
            i += i & -i
    return out


def _prefix(tree: array, i: int) -> float:
    s = 0.0
    while i > 0:
        s += tree[i]
        i -= i & -i
    return s


def choose_combinations(m: Manifest) -> array:
    """The generated tokens' combinations, in draw order (or enumeration order for `supply: all`)."""
    radix = Radix.of(m.categories)
    ex = ExclusionIndex(m.categories, m.exclusions)
    allowed = ex.allowed(radix)
    rng = stream(m.collection.seed, "sample")
    if m.supply is None:
        return array("Q", (k for k, _ in iter_allowed(radix, ex)))
    n = m.supply - len(m.specials)
    if n <= 0:
        return array("Q")
    if allowed > FENWICK_MAX_ALLOWED and n <= allowed * REJECTION_SHARE:
        got = sample_rejection(m.categories, radix, ex, n, rng, max_attempts=50 * n + 10_000)
        if got is not None:
            return array("Q", got)
        rng = stream(m.collection.seed, "sample-exact")
    return array("Q", sample_fenwick(m.categories, radix, ex, n, rng))


# ---------------------------------------------------------------- tokens


def compile_template(template: str, categories: Sequence[Category]):
    """Turn "{colour} roboz {object}" into a function of the index tuple: str.format is
    far faster than a regex per token when a plan has a million of them."""
    names = [c.name for c in categories]
    pos = {n: i for i, n in enumerate(names)}
    # Escape braces that are not placeholders, then restore the placeholders.
    parts = PLACEHOLDER.split(template)
    out = []
    for i, part in enumerate(parts):
        if i % 2:
            out.append("{" + str(pos[part]) + "}")
        else:
            out.append(part.replace("{", "{{").replace("}", "}}"))
    fmt = "".join(out)
    phrases = [[v.phrase for v in c.values] for c in categories]

    def fill(idx: Sequence[int]) -> str:
        return fmt.format(*(phrases[c][i] for c, i in enumerate(idx)))

    return fill


def combination_key(traits: dict[str, str]) -> str:
    return "|".join(f"{k}={v}" for k, v in traits.items())


def token_seed(collection_seed: int, *identity: str) -> int:
    """A token's render seed hangs on what the token is, not on its position, so
    reshuffling or growing the supply never changes an existing token's picture."""
    return derive_seed(collection_seed, "token", *identity, bits=32)


def plan_tokens(m: Manifest) -> Iterator[PlannedToken]:
    """Every token of the collection, ids assigned in final order. Streams: holds only the combination ints."""
    radix = Radix.of(m.categories)
    combos = choose_combinations(m)
    n_gen = len(combos)
    # Entries < n_gen are generated combinations (by position); the rest are specials.
    order = array("Q", range(n_gen + len(m.specials)))
    if m.collection.shuffle:
        shuffle_in_place(order, stream(m.collection.seed, "order"))
    coll = m.collection
    fill = compile_template(m.template, m.categories)
    name_fmt = coll.token_name.replace("{collection}", coll.name)
    for pos, entry in enumerate(order):
        token_id = coll.start_id + pos
        if entry < n_gen:
            idx = radix.decode(combos[entry])
            traits = {c.name: c.values[i].name for c, i in zip(m.categories, idx)}
            yield PlannedToken(
                id=token_id,
                name=name_fmt.replace("{id}", str(token_id)),
                special=None,
                traits=traits,
                prompt=fill(idx),
                seed=token_seed(coll.seed, combination_key(traits)),
                render={},
            )
        else:
            sp = m.specials[entry - n_gen]
            yield PlannedToken(
                id=token_id,
                name=sp.name,
                special=sp.name,
                traits=dict(sp.traits),
                prompt=sp.prompt,
                seed=token_seed(coll.seed, "special", sp.name),
                render=dict(sp.render),
            )
