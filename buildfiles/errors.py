"""Errors a user can act on. The CLI prints them as one line each, with no traceback."""

from __future__ import annotations


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
