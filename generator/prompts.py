"""Prompt strings: `text:weight:stop` items separated by `|`.

Weights may be negative (push away from a text); `stop` is the loss floor below which a
prompt stops pulling. A text may itself contain ':' (e.g. a URL or "photo: jax") - only
trailing numeric fields are read as weight and stop.

A trailing field written the way a weight is written - right after the ':', one run of
letters, digits, signs, dots or commas - must be a number: "artstation:abc" or a European
"robot:0,5" is a typo of a weight, never text with weight 1 (PromptError says so). Text
that ends in such a word keeps a space after its ':' ("photo: jax").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WEIGHT_LIKE = re.compile(r"[A-Za-z0-9_.,+\-]+")


class PromptError(ValueError):
    """A prompt item whose weight or stop field is not a number (the message names the item and the fix)."""


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


def weight_typo(item: str, field: str) -> str:
    """The one line for a weight-like field that is not a number."""
    comma = field.replace(",", ".")
    if "," in field and _is_number(comma):
        fix = f"write :{comma} (a decimal point, not a comma)"
    else:
        fix = f"write a number (e.g. :0.5), or put a space after the ':' if it is text (': {field}')"
    return f"prompt '{item.strip()[:80]}': ':{field}' is not a number, so it is neither a weight nor a stop; {fix}"


def prompt_problem(item: str) -> str | None:
    """Why `parse_prompt(item)` refuses the item, or None."""
    try:
        parse_prompt(item)
    except PromptError as e:
        return str(e)
    return None


def parse_prompt(item: str) -> PromptSpec:
    """One `text[:weight[:stop]]` item. Trailing fields are numbers; a weight-like field that is not
    one is a PromptError (see the module docstring); anything else stays text."""
    parts = item.strip().split(":")
    nums: list[float] = []
    # Read at most two trailing numbers, right to left, but never eat the whole string.
    while len(parts) > 1 and len(nums) < 2:
        if _is_number(parts[-1].strip()):
            nums.insert(0, float(parts.pop().strip()))
        elif _WEIGHT_LIKE.fullmatch(parts[-1]):
            raise PromptError(weight_typo(item, parts[-1]))
        else:
            break
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
