"""argparse types shared by the commands: numbers are checked, never silently replaced by a default."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """A count: a whole number >= 1 (`--batch-size 0` is refused, not read as "the default")."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {n}")
    return n
