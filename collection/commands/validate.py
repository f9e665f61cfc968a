"""`roboz-collection validate MANIFEST`: check a manifest and report every problem at once."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

NAME = "validate"
HELP = "check a manifest: every problem with its field and line, exit code 2 if any; warnings exit 0"
EPILOG = """\
examples:
  roboz-collection validate manifest.yaml
  roboz-collection validate manifest.yaml --device cuda --memory 24   # check against a 24 GiB card
"""


JOINT_CHECK_MAX = 1_000_000  # combinations; above, `plan` finds out (validate stays well under 2 s)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifest", type=Path)
    p.add_argument("--device", default="cpu", help="device the build will use, for the memory estimate (default: cpu)")
    p.add_argument("--memory", type=float, default=None, metavar="GIB",
                   help="memory the build will have, in GiB (default: this machine's RAM; needed for --device cuda)")


def run(args: argparse.Namespace) -> int:
    from collection.plan.manifest import ManifestError, format_problem, load_manifest, precision_problems
    from collection.render.memory import check as check_memory
    from collection.render.memory import distinct_configs
    from collection.plan.planner import count_combinations, select

    m = load_manifest(args.manifest)
    refused = precision_problems(m, args.device)
    if refused:  # a precision this machine would emulate (bf16 here runs ~30x slower than fp32): refused, not warned
        raise ManifestError(m.path, refused)
    total, allowed = count_combinations(m.categories, m.exclusions)
    if sum(1 for c in m.categories if any(v.count is not None for v in c.values)) > 1 and total <= JOINT_CHECK_MAX:
        select(m)  # counts in several categories interact: only a real draw tells (CountsError, exit 2)
    warnings = [format_problem(m.path, w) for w in m.warnings]
    configs = distinct_configs([("render", m.render), *((f"specials[{i}].render", m.render.with_overrides(sp.render))
                                                        for i, sp in enumerate(m.specials) if sp.render)])
    warnings += check_memory(configs, args.device, limit_gib=args.memory)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    supply = m.supply if m.supply is not None else allowed + len(m.specials)
    print(
        f"ok: {args.manifest} plans {supply:,} tokens ({len(m.specials)} specials) "
        f"from {allowed:,} allowed of {total:,} trait combinations"
        + (f" ({len(warnings)} warning{'s' * (len(warnings) > 1)})" if warnings else "")
    )
    return 0
