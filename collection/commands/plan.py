"""`roboz-collection plan MANIFEST`: expand the manifest into build/plan.json and summarise it."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

NAME = "plan"
HELP = "expand the manifest into plan.json: tokens, traits, prompts, seeds (deterministic)"
EPILOG = """\
examples:
  roboz-collection plan manifest.yaml                # writes build/plan.json beside the manifest
  roboz-collection plan manifest.yaml --out /tmp/b   # elsewhere
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifest", type=Path)
    add_plan_options(p)


def add_plan_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=None, help="build directory (default: build/ beside the manifest)")
    p.add_argument("--force", action="store_true", help="replace a plan.json even if tokens rendered from it must change or go"
                   " (for `build`: also try a configuration the memory estimate says will not fit)")
    p.add_argument(
        "--draft",
        action="store_true",
        help="a quick low-resolution pass (at most 64 px, 30 iterations) into build-draft/, for checking the pipeline",
    )


def run(args: argparse.Namespace) -> int:
    plan_and_report(args.manifest, args.out, force=args.force, draft=args.draft)
    return 0


def plan_and_report(manifest: Path, out: Path | None, *, force: bool = False, draft: bool = False, quiet: bool = False,
                    hold: contextlib.ExitStack | None = None, command: str = "plan", demo: bool = False):
    """Validate the manifest, then write plan.json under the build directory's lock.
    With `hold`, the lock stays held until that stack closes (build: plan -> render -> ...)."""
    from buildfiles.lock import build_lock
    from collection.plan.manifest import load_manifest
    from collection.plan.plan_step import default_build_dir, make_plan

    m = load_manifest(manifest)
    if demo:  # `demo` without the real weights: the demo models' draft (collection/plan/draft.py)
        from collection.plan.draft import demo_manifest

        m = demo_manifest(m)
    elif draft:
        from collection.plan.draft import draft_manifest

        m = draft_manifest(m)
    build_dir = out or default_build_dir(manifest, draft=draft or demo)
    with contextlib.ExitStack() as own:
        (hold if hold is not None else own).enter_context(build_lock(build_dir, command, create=True))
        summary = make_plan(m, build_dir, force=force)
    if not quiet:
        print_summary(m, summary)
    return m, summary


def print_summary(m, summary) -> None:
    from rich.console import Console
    from rich.table import Table

    con = Console()
    state = "written" if summary.changed else "unchanged"
    con.print(
        f"[bold]{m.collection.name}[/]: {summary.tokens:,} tokens "
        f"({summary.tokens - summary.specials:,} from traits, {summary.specials} specials) "
        f"out of {summary.allowed:,} allowed combinations; plan.json {state} in {summary.build_dir}"
    )
    if summary.state_note:
        con.print(f"[yellow]note[/]: {summary.state_note}")
    if summary.replanned and summary.changed:
        con.print(replan_line(summary), soft_wrap=True)
    generated = summary.tokens - summary.specials
    if not generated:
        return
    table = Table(title="trait values: planned vs expected share", show_lines=False)
    for col in ("category", "value", "tokens", "share", "expected"):
        table.add_column(col, justify="right" if col in ("tokens", "share", "expected") else "left")
    for cat in m.categories:
        expected = dict(summary.expected.get(cat.name, ()))  # what plan.json keeps (collection.plan.plantypes.Expectation)
        for v in cat.values:
            n = summary.counts[cat.name][v.name]
            table.add_row(cat.name, v.name + (" (count)" if v.count is not None else ""), f"{n:,}", f"{n / generated:.1%}",
                          f"{expected[v.name]:.1%}" if v.name in expected else "")
        table.add_section()
    if sum(len(c.values) for c in m.categories) <= 200:
        con.print(table)
    else:
        con.print(f"({sum(len(c.values) for c in m.categories)} trait values: table omitted)")


def replan_line(summary) -> str:
    """What a re-plan did to the tokens already planned (issue 12: never orphan a render silently)."""

    def ids(xs: list[int]) -> str:
        return "" if not xs else " (ids " + ", ".join(map(str, xs[:10])) + (" …" if len(xs) > 10 else "") + ")"

    line = (f"re-plan: kept {summary.kept:,} ({summary.rendered_kept:,} rendered), replaced {len(summary.replaced):,}"
            f"{ids(summary.replaced)}, added {len(summary.added):,}{ids(summary.added)}, removed {len(summary.removed):,}"
            f"{ids(summary.removed)}")
    if summary.rendered_lost:
        line += f"; {len(summary.rendered_lost):,} rendered token(s) will be re-rendered{ids(summary.rendered_lost)}"
    return line
