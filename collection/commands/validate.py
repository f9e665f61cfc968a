"""`roboz-collection validate MANIFEST`: check a manifest and report every problem at once."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "validate"
HELP = "check a manifest: every problem with its field and line, exit code 2 if any"
EPILOG = """\
examples:
  roboz-collection validate manifest.yaml
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifest", type=Path)


def run(args: argparse.Namespace) -> int:
    from collection.manifest import load_manifest
    from collection.planner import count_combinations

    m = load_manifest(args.manifest)
    total, allowed = count_combinations(m.categories, m.exclusions)
    supply = m.supply if m.supply is not None else allowed + len(m.specials)
    print(
        f"ok: {args.manifest} plans {supply:,} tokens ({len(m.specials)} specials) "
        f"from {allowed:,} allowed of {total:,} trait combinations"
    )
    return 0
