"""Prompt strings: `text:weight:stop` items separated by `|`.

Weights may be negative (push away from a text); `stop` is the loss floor below which a
prompt stops pulling. A text may itself contain ':' (e.g. a URL or "photo: jax") - only
trailing numeric fields are read as weight and stop.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PromptSpec:
    text: str
    weight: float = 1.0
    stop: float = float("-inf")


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def parse_prompt(item: str) -> PromptSpec:
    """One `text[:weight[:stop]]` item. Trailing fields are numbers; anything else stays text."""
    parts = item.strip().split(":")
    nums: list[float] = []
    # Read at most two trailing numbers, right to left, but never eat the whole string.
    while len(parts) > 1 and len(nums) < 2 and _is_number(parts[-1].strip()):
        nums.insert(0, float(parts.pop().strip()))
    text = ":".join(parts).strip()
    weight = nums[0] if nums else 1.0
    stop = nums[1] if len(nums) > 1 else float("-inf")
    return PromptSpec(text, weight, stop)


def split_prompts(prompt: str) -> list[PromptSpec]:
    """`"a:1 | b:-0.5:0.2"` -> [PromptSpec("a", 1.0), PromptSpec("b", -0.5, 0.2)]; empty items dropped."""
    return [parse_prompt(p) for p in prompt.split("|") if p.strip()]


def parse_noise_prompt(item: str) -> tuple[int, float]:
    """`"seed:weight"` -> (seed, weight)."""
    spec = parse_prompt(item)
    return int(spec.text), spec.weight
