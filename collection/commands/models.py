"""`roboz-collection models list|fetch|verify`: the VQGAN and CLIP weights on this machine."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "models"
HELP = "list, download or verify VQGAN/CLIP model weights"
EPILOG = """\
examples:
  roboz-collection models list
  roboz-collection models fetch                                    # the defaults: vqgan_imagenet_f16_16384 + ViT-B/32
  roboz-collection models fetch vqgan_imagenet_f16_16384+ViT-B/32 --safetensors
  roboz-collection models verify --models-dir /mnt/weights

The cache is the platform cache folder, or $ROBOZ_HOME/models when ROBOZ_HOME is set.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("list", "fetch", "verify"))
    p.add_argument("names", nargs="*", metavar="NAME", help='model names, or "<vqgan>+<clip>" pairs (default: the default pair)')
    p.add_argument("--models-dir", type=Path, help="folder with model weights (default: the cache)")
    p.add_argument("--safetensors", action="store_true", help="fetch: also convert the VQGAN checkpoint to .safetensors")


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
                raise UserError(f"unknown model {part!r}", hint=f"known: {', '.join([*VQGANS, *CLIPS])}", exit_code=2)
    return vq, cl


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from generator import weights
    from generator.registry import CLIPS, VQGANS

    root = weights.models_root(args.models_dir)
    console = Console()
    if args.action == "list":
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
        return 0
    vq, cl = _names(args.names if args.action == "fetch" else (args.names or [*VQGANS, *CLIPS]))
    if args.action == "fetch":
        from rich.progress import DownloadColumn, Progress, TransferSpeedColumn, BarColumn, TextColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), console=console) as prog:
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
        console.print(f"fetched {', '.join(vq + cl)} into {root}")
        return 0
    bad = 0
    for name in vq + cl:
        st = weights.vqgan_status(VQGANS[name], root, True) if name in VQGANS else weights.clip_status(CLIPS[name], root, True)
        if not st.present:
            if args.names:
                bad += 1
            console.print(f"{name}: missing ({st.path})")
        elif st.verified is False:
            bad += 1
            console.print(f"{name}: [red]sha256 MISMATCH[/red] ({st.path})")
        else:
            console.print(f"{name}: ok ({st.note or 'sha256 verified'}) {st.path}")
    return 1 if bad else 0
