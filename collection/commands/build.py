"""`roboz-collection build MANIFEST`: plan, render, metadata and preview in one go (resumable)."""

from __future__ import annotations

import argparse
import contextlib
import time
from pathlib import Path

NAME = "build"
HELP = "plan -> render -> metadata -> preview; re-run to resume after a crash or Ctrl-C"
EPILOG = """\
examples:
  roboz-collection build manifest.yaml                    # real weights (see `models fetch`)
  roboz-collection build manifest.yaml --draft            # without the real weights: the demo pair's draft
  roboz-collection build manifest.yaml --draft --models tiny   # random-weight noise, for plumbing checks
  roboz-collection build manifest.yaml --device cuda --executor ray --ray-address auto

--draft renders into build-draft/. With the real weights in the cache it caps them at 64 px and
30 iterations; without them (or with --models demo) it paints with the demo models, a small
VQGAN+CLIP pair trained on a toy world of drawn robots (128 px, 60 iterations; every picture is
labelled a demo render).
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    from collection.commands.plan import add_plan_options
    from collection.commands.render import add_render_options

    p.add_argument("manifest", type=Path)
    add_plan_options(p)
    from collection.commands.models import models_arg

    p.add_argument("--models", type=models_arg, default=None,
                   help="override render.models, e.g. `tiny`, or \"{vqgan: {config: my.yaml, checkpoint: my.ckpt}}\"")
    p.add_argument("--models-dir", type=Path, default=None, help="folder of weights copied by hand")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 … (default: cuda when present)")
    p.add_argument("--executor", choices=("local", "ray"), default="local")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (auto, ray://HOST:10001)")
    p.add_argument("--no-progress", action="store_true", help="plain log lines instead of the live display")
    p.add_argument("--no-preview", action="store_true", help="skip contact sheets and gallery")
    add_render_options(p)


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from collection.commands.plan import plan_and_report
    from collection.commands.render import render_options

    t0 = time.monotonic()
    demo = _demo_draft(args)
    options = render_options(args)
    if demo:
        options = replace(options, models=None)  # the demo draft's plan names the demo pair itself
    with contextlib.ExitStack() as hold:  # one lock from plan to preview: no other process slips in between
        _m, summary = plan_and_report(args.manifest, args.out, force=args.force, draft=args.draft and not demo, hold=hold,
                                      command="build", demo=demo)
        build_dir = summary.build_dir
        from collection.render.memory import check_build

        check_build(build_dir, device=options.device, models=options.models, force=args.force)  # before any model loads
        run_after_plan(build_dir, options, preview=not args.no_preview)
    print(f"build finished in {time.monotonic() - t0:.0f} s: {build_dir}")
    return 0


def _demo_draft(args: argparse.Namespace) -> bool:
    """`--draft` paints with the demo pair when asked (`--models demo`), and by default when the
    manifest's real weights are not on disk: a draft that paints, not one that stops at a missing file."""
    if not args.draft:
        return False
    if args.models is not None:
        return args.models == "demo"
    from collection.plan.draft import real_weights_present
    from collection.plan.manifest import load_manifest

    wanted = load_manifest(args.manifest).render.models
    ok, _why = real_weights_present(wanted, args.models_dir)
    if not ok:
        print(f"note: the real weights ({wanted if isinstance(wanted, str) else 'own files'}) are not there: drafting with "
              "the demo models, labelled demo renders (`roboz-collection models fetch` for the real ones; "
              "`--models tiny` for random-weight noise)", flush=True)
    return not ok


def run_after_plan(build_dir: Path, options, *, preview: bool = True) -> None:
    """render -> metadata -> preview on a planned build directory, holding its lock; `options` are the
    render's (collection.render.render_step.RenderOptions)."""
    from buildfiles.lock import build_lock
    from collection.commands import metadata as metadata_cmd
    from collection.commands import preview as preview_cmd
    from collection.commands import render as render_cmd
    from buildfiles.errors import UserError
    from collection.render.render_step import render_build

    with build_lock(build_dir, "build"):
        report = render_build(build_dir, options)
        render_cmd.print_report(report)
        if report.failed:
            raise UserError(
                f"{len(report.failed)} token(s) failed to render; metadata and preview need every image",
                hint="fix the cause above and run the same command again: finished tokens are kept",
            )

        from metadata.build import write_metadata

        metadata_cmd.print_report(write_metadata(build_dir))
        if preview:
            from preview import make_preview

            preview_cmd.print_report(make_preview(build_dir), build_dir)
