"""`roboz-collection models list|fetch|verify`: the VQGAN and CLIP weights on this machine."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "models"
HELP = "list, download or verify VQGAN/CLIP model weights"
EPILOG = """\
examples:
  roboz-collection models list                                     # what is where, and the folder layout
  roboz-collection models fetch                                    # the defaults: vqgan_imagenet_f16_16384 + ViT-B/32
  roboz-collection models fetch vqgan_imagenet_f16_16384+ViT-B/32 --safetensors
  roboz-collection models verify --models-dir /mnt/weights         # exit 1 if anything is missing or altered

The cache is the platform cache folder, or $ROBOZ_HOME/models when ROBOZ_HOME is set.
Your own VQGAN/CLIP files need no fetching: name them in render.models (see README).
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("list", "fetch", "verify"))
    p.add_argument("names", nargs="*", metavar="NAME",
                   help='model names, or "<vqgan>+<clip>" pairs (fetch: default the default pair; '
                        'verify: default the default pair and every model on disk)')
    p.add_argument("--models-dir", type=Path, help="folder with model weights (default: the cache)")
    p.add_argument("--safetensors", action="store_true", help="fetch: also convert the VQGAN checkpoint to .safetensors")


def models_arg(text: str):
    """argparse type of `--models`: a registry spec, or own files (relative to the working directory),
    hashed now so the run records exactly which files it used."""
    from buildfiles.errors import UserError
    from generator.registry import parse_models
    from generator.weights import pin_files

    try:
        choice = parse_models(text, base=Path.cwd())
        return pin_files(choice).to_spec() if choice.files else str(choice)
    except UserError as e:
        raise argparse.ArgumentTypeError(e.message + (f" ({e.hint})" if e.hint else "")) from None


def _names(names: list[str]) -> tuple[list[str], list[str]]:
    from buildfiles.errors import UserError
    from generator.registry import CLIPS, DEFAULT_CLIP, DEFAULT_VQGAN, VQGANS

    vq, cl = [], []
    for n in names or [f"{DEFAULT_VQGAN}+{DEFAULT_CLIP}"]:
        for part in n.split("+"):
            part = part.strip()
            if part in VQGANS:
                vq.append(part)
            elif part in CLIPS:
                cl.append(part)
            elif part == "tiny":
                continue
            else:
                raise UserError(f"unknown model {part!r}", hint=f"known: {', '.join([*VQGANS, *CLIPS])}; your own "
                                "files need no fetching, name them in render.models", exit_code=2)
    return vq, cl


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from generator import weights

    root = weights.models_root(args.models_dir)
    console = Console(highlight=False, soft_wrap=True)  # plain lines in logs and pipes
    if args.action == "list":
        return _list(console, root)
    if args.action == "fetch":
        return _fetch(console, root, args)
    return _verify(console, root, args.names, args.models_dir)


def _list(console, root: Path) -> int:
    from rich.table import Table

    from generator import weights
    from generator.registry import CLIPS, VQGANS

    t = Table(title=f"models in {root}")
    t.add_column("kind", no_wrap=True)
    t.add_column("name", no_wrap=True)
    t.add_column("file", overflow="fold")
    t.add_column("present", no_wrap=True)
    for s in VQGANS.values():
        st = weights.vqgan_status(s, root, check=False)
        t.add_row("vqgan", s.name, s.ckpt_file, "yes" if st.present else "no")
    for s in CLIPS.values():
        st = weights.clip_status(s, root, check=False)
        t.add_row("clip", s.name, s.file, "yes" if st.present else "no")
    t.add_row("test", "tiny", "tiny/", "generated on first use")
    console.print(t)
    for line in weights.layout_lines(root):
        console.print(line, markup=False)
    return 0


def _fetch(console, root: Path, args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    from generator import weights
    from generator.registry import CLIPS, VQGANS

    vq, cl = _names(args.names)
    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  console=console, transient=True) as prog:
        for name in vq + cl:
            task = prog.add_task(name, total=None)
            fn = lambda n, total, task=task: prog.update(task, completed=n, total=total)  # noqa: E731
            if name in VQGANS:
                weights.fetch_vqgan(VQGANS[name], root, fn)
            else:
                weights.fetch_clip(CLIPS[name], root, fn)
    if any("tiny" in n.split("+") for n in args.names):
        from generator.tiny import ensure_tiny

        ensure_tiny(root)
    if args.safetensors:
        from generator.models import convert_to_safetensors

        for name in vq:
            s = VQGANS[name]
            out = convert_to_safetensors(root / s.config_file, root / s.ckpt_file)
            weights.record_hashes(root, s.hash_file, [str(out.relative_to(root))], source="converted from " + s.ckpt_file)
    console.print(f"fetched {', '.join(vq + cl) or 'nothing'} into {root}", markup=False)
    return 0


def _verify(console, root: Path, names: list[str], models_dir: Path | None) -> int:
    """Explicit names, or the default pair plus every model on disk. Missing or altered: exit 1."""
    from generator import weights
    from generator.registry import CLIPS, DEFAULT_CLIP, DEFAULT_VQGAN, VQGANS

    if names:
        vq, cl = _names(names)
    else:
        vq = [n for n in VQGANS if n == DEFAULT_VQGAN or weights.vqgan_status(VQGANS[n], root, False).present]
        cl = [n for n in CLIPS if n == DEFAULT_CLIP or weights.clip_status(CLIPS[n], root, False).present]
    missing, mismatched = [], []
    for name in vq + cl:
        st = weights.vqgan_status(VQGANS[name], root, True) if name in VQGANS else weights.clip_status(CLIPS[name], root, True)
        if not st.present:
            missing.append(name)
            console.print(f"{name}: [red]missing[/red] ({st.path})")
        elif st.verified is False:
            mismatched.append(name)
            console.print(f"{name}: [red]sha256 MISMATCH[/red] ({st.path})")
        else:
            console.print(f"{name}: ok ({st.note or 'sha256 verified'}) {st.path}")
    if missing or mismatched:
        problems = ", ".join(p for p in (f"{len(missing)} missing" if missing else "",
                                         f"{len(mismatched)} altered" if mismatched else "") if p)
        fix = []
        if missing:
            fix.append(f"run `{weights.fetch_command(' '.join(missing), models_dir)}`")
        if mismatched:
            fix.append("delete the altered files and fetch them again")
        console.print(f"error: {problems} of {len(vq + cl)} models in {root}", markup=False)
        console.print(f"hint: {'; '.join(fix)}, or copy them in by hand (`roboz-collection models list` shows the layout)",
                      markup=False)
        return 1
    console.print(f"all {len(vq + cl)} models ok in {root}", markup=False)
    return 0
