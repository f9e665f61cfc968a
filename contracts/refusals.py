"""Every refusal of one `mint` run, collected and reported together before the first transaction."""

from __future__ import annotations

from typing import Callable, TypeVar

from buildfiles.errors import UserError

T = TypeVar("T")


class MintRefused(UserError):
    """Several refusals found before anything was sent: one line each, with its fix."""

    def __init__(self, problems: list[tuple[str, str | None]]):
        super().__init__(f"{len(problems)} problems; nothing was sent", exit_code=2)
        self.problems = problems
        self.args = ("\n".join(self.lines()),)   # str(e) and logs carry every problem, not the headline only

    def lines(self) -> list[str]:
        out = [self.message]
        for i, (msg, hint) in enumerate(self.problems, 1):
            out.append(f"  {i}. {msg}")
            if hint:
                out.append(f"     fix: {hint}")
        return out


class Refusals:
    """Collects what `mint` refuses, so one run reports every problem before the first transaction."""

    def __init__(self) -> None:
        self.problems: list[tuple[str, str | None]] = []

    def __bool__(self) -> bool:
        return bool(self.problems)

    def add(self, message: str, hint: str | None = None) -> None:
        if (message, hint) not in self.problems:
            self.problems.append((message, hint))

    def attempt(self, check: Callable[[], T]) -> T | None:
        """check()'s value, or None with its UserError recorded."""
        try:
            return check()
        except UserError as e:
            self.add(e.message, e.hint)
            return None

    def raise_if_any(self) -> None:
        if len(self.problems) == 1:
            msg, hint = self.problems[0]
            raise UserError(msg, hint=hint, exit_code=2)
        if self.problems:
            raise MintRefused(self.problems)
