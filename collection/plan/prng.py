"""A small deterministic PRNG for planning.

plan.json must be byte-identical on any machine and Python version, so planning
never touches `random` (whose algorithms for choices/shuffle/randrange have changed
between releases). SplitMix64 is tiny, well studied, and its streams are seeded by
hashing a purpose string, so adding one random draw somewhere never shifts another.
"""

from __future__ import annotations

import hashlib

MASK64 = (1 << 64) - 1


def derive_seed(*parts: object, bits: int = 64) -> int:
    """Hash any parts into an integer seed; used for token seeds and PRNG streams."""
    text = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.sha256(text).digest()[: bits // 8], "big")


class SplitMix64:
    __slots__ = ("state",)

    def __init__(self, seed: int):
        self.state = seed & MASK64

    def next_u64(self) -> int:
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def random(self) -> float:
        """Uniform float in [0, 1) with 53 bits, exactly reproducible (IEEE doubles)."""
        return (self.next_u64() >> 11) * (1.0 / (1 << 53))

    def below(self, n: int) -> int:
        """Uniform integer in [0, n) by Lemire's multiply-shift; bias < n / 2**64."""
        return (self.next_u64() * n) >> 64


def stream(*parts: object) -> SplitMix64:
    return SplitMix64(derive_seed("roboz-prng", *parts))


def shuffle_in_place(seq, rng: SplitMix64) -> None:
    """Fisher–Yates, with our PRNG, so order is the same everywhere."""
    for i in range(len(seq) - 1, 0, -1):
        j = rng.below(i + 1)
        seq[i], seq[j] = seq[j], seq[i]
