"""`roboz-collection reroll BUILD_DIR 7 12 [--seed N]`: new seeds for some tokens, re-rendered."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "reroll"
HELP = "give tokens their next seed and re-render only them; metadata, rarity, provenance, CIDs and CARs go stale"
EPILOG = """\
examples:
  roboz-collection reroll my-roboz/build 7 12           # next seeds (a function of token and re-roll count)
  roboz-collection reroll my-roboz/build 7 --seed 4242  # exactly this seed (no best-of-K for it)
  roboz-collection reroll my-roboz/build 7 --no-render  # record and mark stale; `build`/`render` paints later
  roboz-collection reroll my-roboz/build --from-review  # what the review page's "re-roll rejected" runs

Re-rolls are recorded in BUILD_DIR/rerolls.json (every seed a token had, so an old picture can
come back with --seed). Then run `roboz-collection metadata BUILD_DIR` (or `build`) and `publish`.
After `mint` on a non-local chain, minted tokens cannot be re-rolled.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("build_dir", type=Path, metavar="BUILD_DIR")
    p.add_argument("ids", type=int, nargs="*", metavar="ID", help="token ids to re-roll")
    p.add_argument("--from-review", action="store_true",
                   help="apply the decisions of `roboz-collection review` (review.json): re-roll the rejected, render picked candidates")
    p.add_argument("--seed", type=int, default=None, help="render exactly this seed (0 to 2**32-1) instead of the next one")
    p.add_argument("--no-render", action="store_true", help="only record the new seeds and mark stale")
    p.add_argument("--models", help='override the plan\'s models: "<vqgan>+<clip>" or "tiny"')
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when present)")
    p.add_argument("--models-dir", type=Path, help="folder with model weights")
    p.add_argument("--no-progress", action="store_true", help="no live progress display")


def run(args: argparse.Namespace) -> int:
    from buildfiles.errors import UserError
    from collection.render.reroll import apply_reroll

    if args.seed is not None and not 0 <= args.seed < 2**32:
        raise UserError(f"--seed {args.seed} is out of range", hint="use 0 to 4294967295", exit_code=2)
    options = dict(render=not args.no_render, models=args.models, device=args.device, models_dir=args.models_dir,
                   progress=not args.no_progress)
    if args.from_review:
        from collection.review.decisions import apply_decisions

        if args.ids or args.seed is not None:
            raise UserError("--from-review takes no ids and no --seed", hint="the decisions in review.json say which", exit_code=2)
        changes, report = apply_decisions(args.build_dir, **options)
        if not changes:
            print("review.json holds no rejected or picked tokens: nothing to re-roll")
            return 0
    else:
        seeds = {i: args.seed for i in args.ids} if args.seed is not None else None
        changes, report = apply_reroll(args.build_dir, args.ids, seeds, **options)
    for c in changes:
        how = "pinned" if c.pinned else f"re-roll #{c.count}"
        won = (f"; best-of-K picked candidate seed {c.picture_seed} (`--seed {c.picture_seed}` paints this picture again)"
               if c.picture_seed is not None and c.picture_seed != c.new_seed else "")
        print(f"token {c.id}: seed {c.old_seed} -> {c.new_seed} ({how}{won})")
    if report is not None:
        from collection.commands.render import print_report

        print_report(report)
        if report.failed:
            return 1
    print("stale: metadata, rarity, provenance, CIDs and CARs; run `roboz-collection metadata "
          f"{args.build_dir}` (or `build`), then `publish`")
    return 0
