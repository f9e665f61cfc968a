"""Planning: expand a validated manifest into tokens, deterministically and stably.

Pure functions only. A combination is one value per category, encoded as an integer in
mixed radix (see `collection.plan.plantypes`).

Sampling is Efraimidis–Spirakis weighted sampling without replacement, keyed per
combination: each combination c gets the key E(c)/w(c), where w(c) is the product of its
values' weights and E(c) = -ln u(c), u(c) uniform from a hash of the collection seed and
the names of c's values. The n smallest keys among the allowed combinations are the sample;
that is exactly "draw by weight from what is left, remove, repeat" (the smallest of
independent exponential clocks E/w is c with probability w(c)/Σw). Because a key depends
on nothing but its own combination, editing the manifest moves only what must move:

- an exclusion removes the forbidden combinations from the ranking; every other key stays,
  so the others stay selected and the next keys fill the gaps;
- a larger supply takes more of the same ranking: the first n stay;
- a weight changes the keys of the combinations holding that value only.

Exact counts (`count: N` on a value) cap each counted value, and let the values without a
count share what is left; the sample is then the greedy walk down the same ranking that
takes a combination unless it would exceed a cap. With counts in one category the caps
split the ranking into independent groups, so the walk meets every count exactly whenever
the exclusions allow it; with counts in several categories the walk can miss a feasible
answer, and says so (`CountsError`).

Re-planning an existing build (`Previous`): rendered tokens whose combination is still
allowed are pinned first, so a weight change never drops a picture; the rest comes from the
ranking. Tokens keep their ids when their identity (combination, or special name) survives;
new tokens take the free ids. Seeds hang on identity only, so a kept token keeps its seed.

Above `ENUMERATE_MAX` combinations the ranking is not enumerated: it is the order of a seeded
stream of weighted draws (distinct, allowed), which keeps the exclusion and supply properties.
"""

from __future__ import annotations

import hashlib
import itertools
from array import array
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Sequence

import numpy as np

from buildfiles.errors import UserError
from buildfiles.plan import PlannedToken
from collection.plan.manifest import PLACEHOLDER, Manifest
from collection.plan.plantypes import Category, ExclusionIndex, Radix, count_combinations, count_targets
from collection.plan.prng import derive_seed, shuffle_in_place, stream

__all__ = ["plan_tokens", "count_combinations", "Previous", "CountsError", "token_identity"]

ENUMERATE_MAX = 1 << 24   # combinations keyed exactly (16.7 M: about a second of numpy)
CHUNK = 1 << 20
LN2 = 0.6931471805599453


class CountsError(UserError):
    """The exact counts could not be met together with the exclusions."""

    exit_code = 2


# ---------------------------------------------------------------- keys


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on uint64 arrays (wrapping arithmetic)."""
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _neg_log(u: np.ndarray) -> np.ndarray:
    """-ln(u) for u in (0, 1], from + - * / and frexp only: libm's and numpy's SIMD `log`
    may differ in the last bit between machines, and plan.json must not."""
    m, e = np.frexp(u)                      # u = m * 2**e, m in [0.5, 1): exact
    low = m < 0.7071067811865476
    m = np.where(low, m * 2.0, m)           # m in [0.707, 1.414): exact
    e = np.where(low, e - 1, e).astype(np.float64)
    s = (m - 1.0) / (m + 1.0)               # |s| <= 0.1716
    s2 = s * s
    poly = np.full_like(s, 1.0 / 25.0)
    for k in range(11, -1, -1):             # ln m = 2 (s + s^3/3 + ... + s^25/25): error < 1e-19
        poly = poly * s2 + 1.0 / (2 * k + 1)
    return -(e * LN2 + 2.0 * s * poly)


@dataclass
class Keyer:
    """E/w for any combination, and which combinations are allowed."""

    categories: Sequence[Category]
    radix: Radix
    ex: ExclusionIndex
    seed: int

    def __post_init__(self) -> None:
        self.hashes = [
            np.array([_value_hash(self.seed, c.name, v.name) for v in c.values], dtype=np.uint64) for c in self.categories
        ]
        self.weights = [np.array([v.weight for v in c.values], dtype=np.float64) for c in self.categories]
        self.mask = np.frombuffer(self.ex.mask, dtype=np.uint8) if self.ex.cats else None

    def keys(self, ks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(key, allowed) for combination ints `ks` (uint64)."""
        cols = [((ks // np.uint64(st)) % np.uint64(n)).astype(np.int64) for st, n in zip(self.radix.strides, self.radix.sizes)]
        return self.keys_of(cols)

    def keys_of(self, cols: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """(key, allowed) for combinations given as one value-index column per category (any total)."""
        size = len(cols[0]) if cols else 0
        x = np.zeros(size, dtype=np.uint64)
        w = np.ones(size, dtype=np.float64)
        sub = np.zeros(size, dtype=np.int64)
        for c, idx in enumerate(cols):
            x = _mix(x + self.hashes[c][idx])
            w = w * self.weights[c][idx]
            if c in self.ex.cats:
                sub += idx * self.ex.sub_strides[self.ex.cats.index(c)]
        allowed = self.mask[sub] == 0 if self.mask is not None else np.ones(size, dtype=bool)
        u = ((x >> np.uint64(11)) + np.uint64(1)).astype(np.float64) * (1.0 / (1 << 53))  # (0, 1], exact
        return _neg_log(u) / w, allowed

    def top(self, m: int) -> np.ndarray:
        """The m allowed combinations with the smallest keys, in key order (ties by integer)."""
        best_k = np.zeros(0, dtype=np.uint64)
        best_key = np.zeros(0, dtype=np.float64)
        for lo in range(0, self.radix.total, CHUNK):
            ks = np.arange(lo, min(lo + CHUNK, self.radix.total), dtype=np.uint64)
            key, ok = self.keys(ks)
            best_k = np.concatenate([best_k, ks[ok]])
            best_key = np.concatenate([best_key, key[ok]])
            if len(best_k) > m:
                keep = np.argpartition(best_key, m - 1)[:m] if m else np.zeros(0, dtype=np.int64)
                best_k, best_key = best_k[keep], best_key[keep]
        order = np.lexsort((best_k, best_key))
        return best_k[order]


def _value_hash(seed: int, category: str, value: str) -> int:
    text = "\x1f".join(("roboz-key", str(seed), category, value)).encode("utf-8")
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big")


def _stream_ranking(m: Manifest, radix: Radix, ex: ExclusionIndex, limit: int) -> Iterator[int]:
    """For spaces too big to key: distinct allowed combinations in the order a seeded stream of
    weighted draws meets them (the same distribution as the keys: successive sampling)."""
    rng = stream(m.collection.seed, "sample")
    cums = []
    for c in m.categories:
        acc, s = [], 0.0
        for v in c.values:
            s += v.weight
            acc.append(s)
        cums.append((acc, s))
    from bisect import bisect_right

    seen: set[int] = set()
    for _ in range(limit):
        idx = []
        for acc, total in cums:
            i = bisect_right(acc, rng.random() * total)
            idx.append(min(i, len(acc) - 1))
        if ex.excluded(idx):
            continue
        k = radix.encode(idx)
        if k not in seen:
            seen.add(k)
            yield k


# ---------------------------------------------------------------- selection


@dataclass
class Caps:
    """Per counted category: value index -> remaining tokens; the uncounted values share `rest`."""

    cats: list[int]
    left: dict[int, dict[int, int]]
    rest: dict[int, int]

    @classmethod
    def of(cls, m: Manifest, n: int) -> "Caps":
        cats, left, rest = [], {}, {}
        for ci, cat in enumerate(m.categories):
            targets = count_targets(cat, m.specials)
            if targets:
                cats.append(ci)
                left[ci] = dict(targets)
                rest[ci] = n - sum(targets.values())
        return cls(cats, left, rest)

    def take(self, idx: Sequence[int]) -> bool:
        """Count `idx` against the caps if it fits them all."""
        for ci in self.cats:
            v = idx[ci]
            if (self.left[ci][v] if v in self.left[ci] else self.rest[ci]) <= 0:
                return False
        for ci in self.cats:
            v = idx[ci]
            if v in self.left[ci]:
                self.left[ci][v] -= 1
            else:
                self.rest[ci] -= 1
        return True

    def give(self, idx: Sequence[int]) -> None:
        """Undo a `take`."""
        for ci in self.cats:
            v = idx[ci]
            if v in self.left[ci]:
                self.left[ci][v] += 1
            else:
                self.rest[ci] += 1


def select(m: Manifest, pins: Sequence[int] = (), ex: ExclusionIndex | None = None) -> tuple[Sequence[int], list[int]]:
    """(selected combinations in priority order, pins that could not stay).

    Pins (rendered combinations, still allowed) come first in their own key order; then
    the ranking fills the rest. Without counts or pins this is the plain top-n."""
    radix = Radix.of(m.categories)
    ex = ex or ExclusionIndex(m.categories, m.exclusions)
    n = m.generated
    if n is None:  # supply: all
        return array("Q", (k for k, _ in iter_allowed(radix, ex))), []
    keyer = Keyer(m.categories, radix, ex, m.collection.seed)
    caps = Caps.of(m, n)
    chosen: list[int] = []
    dropped: list[int] = []
    if pins:
        ordered = sorted(pins)  # Python ints: a combination may not fit 64 bits (2**1000 spaces exist)
        cols = [np.array(col, dtype=np.int64) for col in zip(*(radix.decode(k) for k in ordered))]
        pkey, _ = keyer.keys_of(cols)
        for k in [ordered[i] for i in np.lexsort((np.arange(len(ordered)), pkey)).tolist()]:
            if len(chosen) < n and caps.take(radix.decode(k)):
                chosen.append(k)
            else:
                dropped.append(k)
    taken = set(chosen)
    need = n - len(chosen)
    if need <= 0:
        return chosen, dropped
    allowed = ex.allowed(radix)
    if radix.total <= ENUMERATE_MAX:
        want = min(allowed, need + len(taken) + (need if caps.cats else 0))
        while True:
            ranking = keyer.top(want).tolist()
            got = _walk(ranking, taken, need, caps if caps.cats else None, radix)
            if len(got) == need or want >= allowed:
                break
            want = min(allowed, want * 4)
            caps = Caps.of(m, n)
            for k in chosen:
                caps.take(radix.decode(k))
    else:
        got = _walk(_stream_ranking(m, radix, ex, limit=50 * n + 100_000), taken, need, caps if caps.cats else None, radix)
        if len(got) < need and not caps.cats:
            raise UserError(
                f"could not draw {n:,} distinct allowed combinations from {radix.total:,} by weight "
                f"({len(chosen) + len(got):,} found): the weights or exclusions leave too few likely ones",
                hint="lower supply, even out the weights, or remove exclusions", exit_code=2)
    if len(got) < need and caps.cats and allowed <= SEARCH_MAX and radix.total <= ENUMERATE_MAX:
        # The greedy walk can paint itself into a corner when counts in several categories
        # interact; a bounded depth-first search down the same ranking finds a way if one exists.
        fresh = Caps.of(m, n)
        for k in chosen:
            fresh.take(radix.decode(k))
        found, exhausted = _search([k for k in keyer.top(allowed).tolist() if k not in taken], need, fresh, radix)
        if found is not None:
            got = found
        elif not exhausted:
            raise CountsError(_counts_message(m, caps, "the planner found no way to meet them within its search budget "
                                                      f"({SEARCH_STEPS:,} steps)"),
                              hint="loosen the counts or exclusions a little, or give counts in one category only")
    if len(got) < need:
        raise CountsError(_counts_message(m, caps), hint="lower the counts, remove exclusions, or leave more values without a count")
    return chosen + got, dropped


SEARCH_MAX = 20_000        # allowed combinations the exact count search may walk
SEARCH_STEPS = 200_000    # ~0.3 s: validate runs it too


def _search(cand: list[int], need: int, caps: Caps, radix: Radix) -> tuple[list[int] | None, bool]:
    """Take-first depth-first search over `cand` (in key order) for `need` combinations within
    the caps; the first answer is the one closest to the greedy walk. (answer or None, whether
    the search was exhaustive: None and True means there is no answer)."""
    idx = [radix.decode(k) for k in cand]
    stack: list[int] = []
    i, steps = 0, 0
    while len(stack) < need:
        steps += 1
        if steps > SEARCH_STEPS:
            return None, False
        if i < len(cand) and len(cand) - i >= need - len(stack):
            if caps.take(idx[i]):
                stack.append(i)
            i += 1
            continue
        if not stack:
            return None, True
        j = stack.pop()
        caps.give(idx[j])
        i = j + 1
    return [cand[j] for j in stack], True


def _walk(ranking: Iterable[int], taken: set[int], need: int, caps: Caps | None, radix: Radix) -> list[int]:
    out: list[int] = []
    for k in ranking:
        if k in taken:
            continue
        if caps is not None and not caps.take(radix.decode(k)):
            continue
        out.append(k)
        if len(out) == need:
            break
    return out


def _counts_message(m: Manifest, caps: Caps, why: str | None = None) -> str:
    short = []
    for ci in caps.cats:
        cat = m.categories[ci]
        short += [f"traits.{cat.name}.{cat.values[v].name}.count ({left} short; {m.where('traits', cat.name, cat.values[v].name, 'count')})"
                  for v, left in caps.left[ci].items() if left > 0]
        if caps.rest[ci] > 0:
            short.append(f"traits.{cat.name}: the values without a count ({caps.rest[ci]} short; {m.where('traits', cat.name)})")
    if why:
        return f"the exact counts could not all be met together with the exclusions: {why}; by weight alone: " + ", ".join(short)
    return "the exact counts cannot all be met together with the exclusions: " + ", ".join(short)


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


def token_identity(t: PlannedToken) -> str:
    """What a token is, independent of its id: its special's name or its combination."""
    return f"special\x1f{t.special}" if t.special else combination_key(t.traits)


def token_seed(collection_seed: int, *identity: str) -> int:
    """A token's render seed hangs on what the token is, not on its position, so
    reshuffling or growing the supply never changes an existing token's picture."""
    return derive_seed(collection_seed, "token", *identity, bits=32)


@dataclass(frozen=True)
class Previous:
    """The plan being replaced: its tokens by identity, and which ids were rendered."""

    tokens: dict[str, PlannedToken] = field(default_factory=dict)
    rendered: frozenset[int] = frozenset()


def _pins(m: Manifest, radix: Radix, ex: ExclusionIndex, prev: Previous) -> list[int]:
    """Rendered generated tokens that can stay: same categories, known values, allowed, id in range."""
    if m.generated is None:
        return []
    first, last = m.collection.start_id, m.collection.start_id + (m.supply or 0) - 1
    names = [c.name for c in m.categories]
    out = []
    for t in prev.tokens.values():
        if t.special or t.id not in prev.rendered or not first <= t.id <= last or list(t.traits) != names:
            continue
        try:
            idx = [cat.index(t.traits[cat.name]) for cat in m.categories]
        except KeyError:
            continue
        if not ex.excluded(idx):
            out.append(radix.encode(idx))
    return out


def plan_tokens(m: Manifest, previous: Previous | None = None) -> Iterator[PlannedToken]:
    """Every token of the collection, in id order. With `previous`, identities that survive keep
    their ids and rendered ones stay (see the module docstring)."""
    prev = previous or Previous()
    radix = Radix.of(m.categories)
    ex = ExclusionIndex(m.categories, m.exclusions)
    combos, _dropped = select(m, _pins(m, radix, ex, prev), ex)
    coll = m.collection
    fill = compile_template(m.template, m.categories)
    name_fmt = coll.token_name.replace("{collection}", coll.name)
    n_gen = len(combos)
    supply = n_gen + len(m.specials)

    def make(entry: int, token_id: int) -> PlannedToken:
        if entry < n_gen:
            idx = radix.decode(combos[entry])
            traits = {c.name: c.values[i].name for c, i in zip(m.categories, idx)}
            return PlannedToken(
                id=token_id,
                name=name_fmt.replace("{id}", str(token_id)),
                special=None,
                traits=traits,
                prompt=fill(idx),
                seed=token_seed(coll.seed, combination_key(traits)),
                render={},
            )
        sp = m.specials[entry - n_gen]
        return PlannedToken(
            id=token_id,
            name=sp.name,
            special=sp.name,
            traits=dict(sp.traits),
            prompt=sp.prompt,
            seed=token_seed(coll.seed, "special", sp.name),
            render=dict(sp.render),
        )

    # Entries < n_gen are generated combinations (by position); the rest are specials.
    first = coll.start_id
    if not prev.tokens:
        order = array("Q", range(supply))
        if coll.shuffle:
            shuffle_in_place(order, stream(coll.seed, "order"))
        for pos, entry in enumerate(order):
            yield make(int(entry), first + pos)
        return
    by_id: dict[int, int] = {}
    fresh: list[int] = []
    for entry in range(supply):
        if entry < n_gen:
            idx = radix.decode(combos[entry])
            ident = combination_key({c.name: c.values[i].name for c, i in zip(m.categories, idx)})
        else:
            ident = f"special\x1f{m.specials[entry - n_gen].name}"
        old = prev.tokens.get(ident)
        if old is not None and first <= old.id < first + supply and old.id not in by_id:
            by_id[old.id] = entry
        else:
            fresh.append(entry)
    if coll.shuffle:
        shuffle_in_place(fresh, stream(coll.seed, "order", "refill"))
    free = (i for i in range(first, first + supply) if i not in by_id)
    for token_id, entry in zip(free, fresh):
        by_id[token_id] = entry
    for token_id in range(first, first + supply):
        yield make(by_id[token_id], token_id)
