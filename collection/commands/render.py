"""`roboz-collection render BUILD_DIR`: paint every token of a plan that is not done yet."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "render"
HELP = "render the images of a planned build (VQGAN+CLIP); resumes unfinished tokens"
EPILOG = """\
examples:
  roboz-collection render my-roboz/build
  roboz-collection render my-roboz/build --models tiny --device cpu     # pipeline check, no weights
  roboz-collection render my-roboz/build --models-dir /mnt/weights      # weights copied by hand
  roboz-collection render my-roboz/build --executor ray --ray-address auto   # on a Ray cluster

Ctrl-C (or SIGTERM) checkpoints every running token; run the same command again to resume.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("build_dir", type=Path, metavar="BUILD_DIR")
    from collection.commands.models import models_arg

    p.add_argument("--models", type=models_arg, help='override the plan\'s models: "<vqgan>+<clip>", "tiny", or your own '
                   'files: "{vqgan: {config: my.yaml, checkpoint: my.ckpt}, clip: ViT-B/16}"')
    p.add_argument("--device", help="cpu, cuda or cuda:N (default: cuda when present)")
    p.add_argument("--models-dir", type=Path, help="folder with model weights (default: the cache, or $ROBOZ_HOME/models)")
    p.add_argument("--no-progress", action="store_true", help="plain log lines instead of the live display")
    p.add_argument("--executor", choices=("local", "ray"), default="local", help="ray: spread tokens over a Ray cluster (docs/ray.md)")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (auto, ray://HOST:10001); default: a local Ray")
    add_render_options(p)


def add_render_options(p: argparse.ArgumentParser) -> None:
    """Options `render` and `build` share beyond the executor choice."""
    from collection.commands.argtypes import positive_int

    p.add_argument("--threads", type=positive_int, default=None, metavar="N",
                   help="CPU threads for torch (default: the CPUs this process may use: affinity, cgroup quota)")
    p.add_argument("--log-json", type=Path, default=None, metavar="FILE",
                   help="append progress events (token started/finished/failed, progress) as JSON lines to FILE")
    p.add_argument("--levers", choices=("auto", "always", "none"), default="auto",
                   help="speed levers (layout, compile, native half precision): auto times them once per build on its "
                        "first run when the build is long enough to pay for it, always times them even for a short one, "
                        "none paints plain fp32; the choice is kept in BUILD_DIR/levers.json and reused on every resume")


def render_options(args: argparse.Namespace):
    """The render options of `render`, `build` (and anything with add_arguments' flags), read once."""
    from collection.render.render_step import RenderOptions

    return RenderOptions(models=args.models, device=args.device, models_dir=args.models_dir, executor=args.executor,
                         ray_address=args.ray_address, threads=args.threads, progress=not args.no_progress,
                         log_json=args.log_json, levers=getattr(args, "levers", "auto"))


def check_build_folder(path: Path) -> None:
    """`render manifest.yaml` is a common slip: say what render takes instead of "plan.json not found"."""
    from buildfiles.errors import UserError

    if path.is_dir():
        return
    if path.is_file() or path.suffix.lower() in (".yaml", ".yml"):
        what = "a manifest" if path.suffix.lower() in (".yaml", ".yml") else "a file"
        raise UserError(f"render takes a build folder (the folder plan wrote), not {what}: {path}",
                        hint=f"run `roboz-collection plan {path}` (then render its build folder) "
                             f"or `roboz-collection build {path}` (plan, render, metadata, preview in one go)",
                        exit_code=2)


def run(args: argparse.Namespace) -> int:
    check_build_folder(args.build_dir)
    from collection.commands.leftovers import clean_leftovers

    # what a killed run left (.NAME.*.tmp)
    clean_leftovers(args.build_dir, (".", "images", "renders", "animations", "snapshots/*", "frames/*"), NAME)
    from collection.render.render_step import render_build

    report = render_build(args.build_dir, render_options(args))
    print_report(report)
    return 1 if report.failed else 0


def print_report(report) -> None:
    c = report.counts
    print(f"rendered {c['rendered']}, skipped {c['skipped']} (already done), failed {c['failed']} in {report.seconds:.1f} s")
    for tid, err in sorted(report.errors.items()):
        print(f"  token {tid}: {err}")
