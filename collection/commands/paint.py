"""`roboz-collection paint "PROMPT"`: one picture from one prompt, with the same loop and settings as a build."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "paint"
HELP = "paint one picture from one prompt (the build's loop and settings); re-run to resume"
EPILOG = """\
examples:
  roboz-collection paint "a red robot in a volcano"
  roboz-collection paint "a red robot" --init jax.png --init-weight 0.5 --iterations 300 --size 256 256
  roboz-collection paint "a red robot^a robot in a volcano^a robot on the moon" --change-every 100
  roboz-collection paint "a robot city" --iterations 400 --zoom-frames 30 --zoom-scale 1.02 --zoom-iterations 10

The picture is DIR/images/1.png (DIR: --out, default ./paint-<prompt words>/). While it paints,
DIR/progress.png shows it every --show-every iterations (inline instead, in a notebook).
Ctrl-C checkpoints; the same command again continues from there. Without the real weights in
the cache, the demo models paint a 128 px draft (and say so); `--models` chooses.
"""


def iterations_arg(text: str) -> int | str:
    from collection.commands.argtypes import positive_int
    from collection.studio.paint import AUTO

    if text.strip().lower() == AUTO:
        return AUTO  # stop when the judge's score stops improving (generator/autostop.py)
    return positive_int(text)


def add_arguments(p: argparse.ArgumentParser) -> None:
    from collection.commands.argtypes import positive_int
    from collection.commands.models import models_arg

    p.add_argument("prompt", nargs="?", default="", metavar="PROMPT",
                   help='"text:weight:stop | …" as in a manifest; "a^b^c" with --change-every is a story')
    p.add_argument("--init", default=None, metavar="PICTURE", help="start from this picture (`jax`: the bundled sketch)")
    p.add_argument("--init-weight", type=float, default=None, help="how strongly the picture holds to --init (default 0)")
    p.add_argument("--iterations", type=iterations_arg, default=None, metavar="N",
                   help="optimiser steps (default 500; 60 with the demo models), or `auto`: stop when the picture "
                        "stops improving (a judge CLIP scores it every 10 iterations)")
    p.add_argument("--max-iterations", type=positive_int, default=None, metavar="N",
                   help="with --iterations auto: the most it may run (default twice the fixed default)")
    p.add_argument("--size", type=positive_int, nargs=2, default=None, metavar=("W", "H"),
                   help="pixels (default 384 384; 128 128 with the demo models)")
    p.add_argument("--seed", type=int, default=None, help="default: one made from the prompt (the same command paints the same picture)")
    p.add_argument("--snapshots", type=positive_int, nargs="+", default=(), metavar="ITER", help="keep the picture at these iterations")
    p.add_argument("--video", type=positive_int, nargs="?", const=10, default=None, metavar="EVERY",
                   help="a progress video, a frame every EVERY iterations (default 10): DIR/animations/1.mp4")
    p.add_argument("--models", type=models_arg, default=None,
                   help="`demo`, `tiny`, \"<vqgan>+<clip>\" or own files (default: the real pair when cached, else demo)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR", help="folder (default ./paint-<prompt words>/)")
    p.add_argument("--show-every", type=int, default=10, metavar="N", help="show the picture every N iterations (0: never)")
    p.add_argument("--cutn", type=positive_int, default=None, help="cutouts per iteration (default 32; 16 with the demo models)")
    p.add_argument("--step-size", type=float, default=None, help="the optimiser's learning rate (default 0.1)")
    g = p.add_argument_group("story and zoom")
    g.add_argument("--story", default="", metavar='"B^C"', help="prompts that follow PROMPT, one every --change-every iterations")
    g.add_argument("--change-every", type=positive_int, default=None, metavar="N", help="iterations each prompt of a story lasts")
    g.add_argument("--zoom-frames", type=positive_int, default=None, metavar="F",
                   help="a zoom video of F frames (the last F x K iterations): DIR/animations/1.mp4")
    g.add_argument("--zoom-scale", type=float, default=1.02, metavar="S", help="zoom per frame (default 1.02)")
    g.add_argument("--zoom-iterations", type=positive_int, default=10, metavar="K", help="iterations per zoom frame (default 10)")
    g.add_argument("--zoom-fps", type=positive_int, default=12, help="frames per second of the zoom video (default 12)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 … (default: cuda when present)")
    p.add_argument("--models-dir", type=Path, default=None, help="folder of weights copied by hand")
    p.add_argument("--threads", type=positive_int, default=None, metavar="N", help="CPU threads for torch")
    p.add_argument("--no-progress", action="store_true", help="plain log lines instead of the live display")
    p.add_argument("--force", action="store_true", help="paint again over a finished picture painted with other settings")


def request_from_args(args: argparse.Namespace):
    from collection.studio.paint import PaintRequest

    if args.show_every < 0:
        from buildfiles.errors import UserError

        raise UserError(f"--show-every must be 0 (never) or more, got {args.show_every}", exit_code=2)
    zoom = None
    if args.zoom_frames:
        zoom = {"frames": args.zoom_frames, "scale": args.zoom_scale, "iterations": args.zoom_iterations, "fps": args.zoom_fps}
    return PaintRequest(prompt=args.prompt, out=args.out, init=args.init, init_weight=args.init_weight,
                        iterations=args.iterations, max_iterations=args.max_iterations, size=tuple(args.size) if args.size else None, seed=args.seed,
                        snapshots=tuple(args.snapshots), video=args.video, models=args.models, show_every=args.show_every,
                        story=args.story, change_every=args.change_every, zoom=zoom, cutn=args.cutn, step_size=args.step_size)


def run(args: argparse.Namespace) -> int:
    from collection.commands import render as render_cmd
    from collection.studio.paint import paint

    req = request_from_args(args)
    p, report = paint(req, device=args.device, models_dir=args.models_dir, threads=args.threads,
                      progress=not args.no_progress, force=args.force, on_plan=print_plan)
    render_cmd.print_report(report)
    if report.failed:
        return 1
    print(f"picture: {p.folder / 'images' / '1.png'}")
    if (p.folder / "animations" / "1.mp4").is_file():
        print(f"video:   {p.folder / 'animations' / '1.mp4'}")
    return 0


def its(s) -> str:
    return f"auto (at most {s.iterations})" if s.auto_stop else str(s.iterations)


def print_plan(p) -> None:
    """What is about to be painted; the demo pair's stand-in said loudly, as `demo` says it."""
    from rich.console import Console
    from rich.panel import Panel

    con = Console()
    s = p.settings
    if p.profile.demo_because:
        con.print(Panel.fit(
            f"[bold]The real weights are not in the cache.[/]\n{p.profile.demo_because}\n\n"
            f"Painting with the DEMO MODELS instead ({s.size[0]}x{s.size[1]} px, {its(s)} iterations): a small VQGAN "
            "and CLIP trained here on a toy world of drawn robots. They know colours, a few objects and settings; they are "
            "not the real models, and the picture is labelled a demo render.\n\n"
            "For real pictures: roboz-collection models fetch",
            title="DEMO MODELS, NOT THE REAL WEIGHTS", border_style="bold red"))
    con.print(f"paint: {p.prompt!r}, seed {p.seed}, {s.size[0]}x{s.size[1]} px, {its(s)} iterations, "
              f"models {s.models if isinstance(s.models, str) else 'own files'} -> {p.folder}", highlight=False, soft_wrap=True)
