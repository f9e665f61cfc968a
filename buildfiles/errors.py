"""Errors a user can act on. The CLI prints them as one line each, with no traceback."""

from __future__ import annotations

from typing import Any


class UserError(Exception):
    """A problem the user can fix; `hint` says what to do next.

    exit_code: 2 for bad input (manifest, arguments), 1 for a failed step.
    """

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        if exit_code is not None:
            self.exit_code = exit_code

    def lines(self) -> list[str]:
        out = [self.message]
        if self.hint:
            out.append(f"hint: {self.hint}")
        return out


# Numbers and switches are strict (pydantic Strict): `iterations: true` or `cut_pow: "3"` is a
# mistake to name, not a 1 or a 3.0 to guess.
STRICT_TYPES = {"int_type": "a whole number", "float_type": "a number", "bool_type": "true or false"}


def strict_type_message(kind: str, got: Any) -> str:
    """"must be a whole number, got '5' (quoted, so it is text: …)": what a manifest's strict value refuses, and
    why YAML gave that instead (kind: a key of STRICT_TYPES)."""
    why = ""
    if isinstance(got, bool):
        why = " (YAML reads true/false/yes/no/on/off as a boolean)"
    elif isinstance(got, str) and (_is_number(got.strip()) or got.strip().lower() in ("true", "false")):
        why = " (quoted, so it is text: remove the quotes)"
    shown = "" if isinstance(got, (dict, list)) else f", got {got!r}"
    return f"must be {STRICT_TYPES[kind]}{shown}{why}"


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False
