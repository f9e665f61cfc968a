"""`roboz-collection variations "BASE {colour}"`: a prompt's variations painted side by side on one contact sheet."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "variations"
HELP = "paint a base prompt x its variations (values, a trait, styles, seeds, iterations) as one contact sheet"
EPILOG = """\
examples:
  roboz-collection variations "a {colour} robot in a volcano" --values red,blue,green
  roboz-collection variations "a {colour} robot" --trait manifest.yaml:colour --seeds 1,2
  roboz-collection variations "a rusty robot" --styles "trending on artstation" "rendered by Unreal Engine"
  roboz-collection variations "a rusty robot" --iterations 60,200 --seeds 1,2,3
  roboz-collection variations "a {colour} robot" --values red,blue,green --pick 3 --into manifest.yaml --trait colour

Every combination of the axes is a cell: DIR/variations.png (each tile captioned with its prompt) and
DIR/variations.json (DIR: --out, default ./variations-<prompt words>/). Cells share one seed unless
--seeds varies it, so what differs is the phrasing. A style fills {style} if the base has it, else it
is appended after a comma. --pick CELL writes the cell's text (the value it put in the trait's
placeholder) into the manifest as a new value of weight --weight; nothing is painted then.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    from collection.commands.argtypes import positive_int
    from collection.commands.models import models_arg

    p.add_argument("base", nargs="?", default="", metavar="BASE", help='the prompt, with one {placeholder} for --values/--trait')
    g = p.add_argument_group("axes (every combination is a cell)")
    g.add_argument("--values", default=None, metavar="A,B,C", help="texts for the base prompt's {placeholder}")
    g.add_argument("--trait", default=None, metavar="MANIFEST:NAME",
                   help="a manifest trait's values for the placeholder (with --pick: the trait to add the value to)")
    g.add_argument("--styles", nargs="+", default=(), metavar="STYLE", help="style phrases, for {style} or appended")
    g.add_argument("--seeds", default=None, metavar="1,2,3", help="seeds (default: one seed made from the base prompt)")
    g.add_argument("--iterations", default=None, metavar="60,200", help="iteration counts (one number: every cell's)")
    s = p.add_argument_group("shared settings (as paint)")
    s.add_argument("--init", default=None, metavar="PICTURE", help="start every cell from this picture (`jax`: the bundled sketch)")
    s.add_argument("--init-weight", type=float, default=None)
    s.add_argument("--size", type=positive_int, nargs=2, default=None, metavar=("W", "H"))
    s.add_argument("--models", type=models_arg, default=None, help="default: the real pair when cached, else demo")
    s.add_argument("--cutn", type=positive_int, default=None)
    s.add_argument("--step-size", type=float, default=None)
    s.add_argument("--batch-size", type=positive_int, default=4, help="cells painted together (default 4)")
    s.add_argument("--out", type=Path, default=None, metavar="DIR", help="folder (default ./variations-<prompt words>/)")
    k = p.add_argument_group("choosing")
    k.add_argument("--pick", type=positive_int, default=None, metavar="CELL", help="write this cell's text into a manifest")
    k.add_argument("--into", type=Path, default=None, metavar="MANIFEST", help="the manifest --pick edits")
    k.add_argument("--weight", type=float, default=1.0, help="weight of the picked value (default 1)")
    p.add_argument("--device", default=None)
    p.add_argument("--models-dir", type=Path, default=None)
    p.add_argument("--threads", type=positive_int, default=None, metavar="N")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--force", action="store_true", help="paint again over cells painted with other settings")


def run(args: argparse.Namespace) -> int:
    from buildfiles.errors import UserError

    if args.pick is not None:
        return _pick(args)
    if args.into is not None:
        raise UserError("--into goes with --pick CELL", exit_code=2)
    if not args.base:
        raise UserError("give the BASE prompt", hint='roboz-collection variations "a {colour} robot" --values red,blue', exit_code=2)
    return _paint(args)


def _iterations(text: str | None) -> tuple[int | None, str | None]:
    """--iterations: one number is every cell's; several are an axis."""
    import argparse as ap

    from buildfiles.errors import UserError
    from collection.commands.paint import iterations_arg

    if not text:
        return None, None
    items = [t.strip() for t in text.split(",")]
    try:
        numbers = [iterations_arg(t) for t in items]
    except ap.ArgumentTypeError as e:
        raise UserError(f"--iterations: {e}", exit_code=2) from None
    return (numbers[0], None) if len(numbers) == 1 else (None, text)


def _paint(args: argparse.Namespace) -> int:
    from collection.commands import render as render_cmd
    from collection.studio.paint import PaintRequest
    from collection.studio.variations import make_axes, paint_variations

    its, its_axis = _iterations(args.iterations)
    axes = make_axes(args.base, values=args.values, trait=args.trait, styles=args.styles, seeds=args.seeds, iterations=its_axis)
    req = PaintRequest(prompt=args.base, init=args.init, init_weight=args.init_weight, iterations=its,
                       size=tuple(args.size) if args.size else None, models=args.models, cutn=args.cutn, step_size=args.step_size)
    res = paint_variations(args.base, axes, req, out=args.out, batch_size=args.batch_size, device=args.device,
                           models_dir=args.models_dir, threads=args.threads, progress=not args.no_progress, force=args.force,
                           on_plan=_print_plan)
    render_cmd.print_report(res.report)
    print(f"contact sheet: {res.sheet}")
    print(f"cells:         {res.facts}")
    for c in res.cells:
        print(f"  #{c.cell}  {c.prompt}" + (f"  (seed {c.seed}, {c.iterations} it)" if its_axis or args.seeds else ""))
    return 1 if res.report.failed else 0


def _print_plan(folder, settings, profile, cells) -> None:
    from rich.console import Console
    from rich.panel import Panel

    con = Console()
    if profile.demo_because:
        con.print(Panel.fit(f"[bold]The real weights are not in the cache.[/]\n{profile.demo_because}\n\n"
                            "Painting with the DEMO MODELS instead: small models trained here on a toy world of drawn "
                            "robots, not the real ones; every cell is labelled a demo render.\n\n"
                            "For real pictures: roboz-collection models fetch",
                            title="DEMO MODELS, NOT THE REAL WEIGHTS", border_style="bold red"))
    con.print(f"variations: {len(cells)} cells, {settings.size[0]}x{settings.size[1]} px -> {folder}", highlight=False)


def _pick(args: argparse.Namespace) -> int:
    from buildfiles.errors import UserError
    from collection.studio.pick import cell_text, pick_into
    from collection.studio.variations import default_folder, read_facts

    if args.into is None or not args.trait:
        raise UserError("--pick CELL needs --into MANIFEST and --trait NAME",
                        hint="roboz-collection variations --out DIR --pick 3 --into manifest.yaml --trait colour", exit_code=2)
    if ":" in args.trait:
        raise UserError(f"--trait {args.trait}: with --pick, name the trait alone (the manifest is --into)", exit_code=2)
    if args.out is None and not args.base:
        raise UserError("--pick: which variations? give --out DIR (or the same BASE prompt)", exit_code=2)
    folder = args.out or default_folder(args.base)
    value = cell_text(read_facts(folder), args.pick, args.trait)
    picked = pick_into(args.into, args.trait, value, args.weight)
    print(f"{picked.manifest}:{picked.line}: traits.{picked.trait} gets {picked.value!r} (weight {args.weight:g})")
    return 0
