"""Rarity report: the rarest and the most common tokens, and how often each trait value occurs.

`summarize` is the data; the terminal tables here and the gallery's rarity panel
both draw from it, so the two can never disagree. Ranks come from rarity.json,
written by the metadata step; without it there are trait counts but no ranks.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from preview.sources import BuildView, TokenView


@dataclass(frozen=True)
class RaritySummary:
    available: bool                        # False: no rarity.json yet
    method: str | None
    rarest: tuple[TokenView, ...]          # rank 1 first
    commonest: tuple[TokenView, ...]       # highest rank (most common) first
    trait_counts: dict[str, list[tuple[str, int]]]  # per category, rarest value first
    total: int


def summarize(view: BuildView, n: int = 10) -> RaritySummary:
    ranked = sorted((t for t in view.tokens if t.rank is not None), key=lambda t: (t.rank, t.id))
    counts = {
        cat: sorted(vals.items(), key=lambda kv: (kv[1], kv[0]))
        for cat, vals in view.trait_counts.items()
    }
    return RaritySummary(
        available=view.rarity is not None,
        method=view.rarity.method if view.rarity else None,
        rarest=tuple(ranked[:n]),
        commonest=tuple(reversed(ranked[-n:])) if ranked else (),
        trait_counts=counts,
        total=len(view.tokens),
    )


def missing_hint(view: BuildView) -> str:
    return f"no rarity.json yet: run `roboz-collection metadata {view.build_dir}` to rank tokens"


def report(view: BuildView, n: int = 10) -> Group:
    s = summarize(view, n)
    parts: list = []
    if s.available:
        parts.append(_token_table(f"Rarest {len(s.rarest)} ({s.method})", s.rarest))
        parts.append(_token_table(f"Most common {len(s.commonest)}", s.commonest))
    else:
        parts.append(Text(missing_hint(view), style="yellow"))
    parts.append(_counts_table(s))
    return Group(*parts)


def print_report(view: BuildView, console: Console | None = None, n: int = 10) -> None:
    (console or Console()).print(report(view, n))


def _token_table(title: str, tokens) -> Table:
    t = Table(title=title, title_justify="left")
    t.add_column("rank", justify="right")
    t.add_column("id", justify="right")
    t.add_column("name")
    t.add_column("score", justify="right")
    t.add_column("traits")
    for tok in tokens:
        # Text(...) rather than str: a manifest value like "[red]" is data, not rich markup.
        t.add_row(
            str(tok.rank),
            str(tok.id),
            Text(tok.name),
            f"{tok.score:.4g}" if tok.score is not None else "",
            Text(", ".join(tok.traits.values())),
        )
    return t


def _counts_table(s: RaritySummary) -> Table:
    t = Table(title=f"Trait values ({s.total} tokens)", title_justify="left")
    t.add_column("category")
    t.add_column("value")
    t.add_column("count", justify="right")
    t.add_column("%", justify="right")
    for cat, vals in s.trait_counts.items():
        for k, (value, n) in enumerate(vals):
            t.add_row(
                Text(cat) if k == 0 else "",
                Text(value),
                str(n),
                f"{100 * n / s.total:.1f}" if s.total else "",
                end_section=k == len(vals) - 1,
            )
    return t
