"""`roboz-collection demo MANIFEST`: the whole pipeline, offline, in one command.

build (plan, render, metadata, preview) -> publish --to car -> mint --network local,
then a summary of where everything is. Without the real weights in the cache it says
so loudly and renders a draft with the random-weight tiny models instead.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

NAME = "demo"
HELP = "run everything offline on a manifest: build, preview, publish --to car, mint on a local anvil"
EPILOG = """\
examples:
  roboz-collection demo examples/rusty-roboz/manifest.yaml
  roboz-collection demo my-roboz/manifest.yaml --models-dir /data/weights
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("manifest", type=Path)
    p.add_argument("--out", type=Path, default=None, help="build directory (default: build/ or build-draft/ beside the manifest)")
    p.add_argument("--models-dir", type=Path, default=None, help="folder of weights copied by hand")
    p.add_argument("--device", default=None, help="cpu, cuda … (default: cuda when present)")
    p.add_argument("--no-progress", action="store_true")


def real_weights_present(models: str, models_dir: Path | None) -> tuple[bool, str]:
    from collection.errors import UserError
    from generator.registry import parse_models
    from generator.weights import require_files

    choice = parse_models(models)
    if choice.tiny:
        return True, ""
    try:
        require_files(choice, models_dir)
        return True, ""
    except UserError as e:
        return False, e.message


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.panel import Panel

    from collection.commands.build import run_after_plan
    from collection.commands.plan import plan_and_report
    from collection.manifest import load_manifest

    con = Console()
    t0 = time.monotonic()
    m = load_manifest(args.manifest)
    ok, why = real_weights_present(m.render.models, args.models_dir)
    draft = not ok
    if draft:
        con.print(
            Panel.fit(
                f"[bold]The real weights for {m.render.models} are not in the cache.[/]\n{why}\n\n"
                "Rendering a DRAFT with random-weight TINY test models instead: the pictures are\n"
                "noise-like textures, labelled as test renders in their PNG text and metadata.\n"
                "The rest of the pipeline (metadata, CIDs, CARs, contract, mint) is the real thing.\n"
                f"For real images: roboz-collection models fetch {m.render.models}",
                title="TEST MODELS",
                border_style="bold red",
            )
        )
    _, summary = plan_and_report(args.manifest, args.out, draft=draft)
    build_dir = summary.build_dir
    build_args = argparse.Namespace(
        models="tiny" if draft else None,
        device=args.device,
        models_dir=args.models_dir,
        no_progress=args.no_progress,
        executor="local",
        ray_address=None,
        no_preview=False,
    )
    run_after_plan(build_dir, build_args)

    from metadata.publish import publish
    from metadata.publishers import make_publisher

    pub = publish(build_dir, make_publisher("car", build_dir))

    from contracts.mint import mint_build

    minted = mint_build(build_dir, network="local")
    print_summary(con, build_dir, pub, minted, time.monotonic() - t0, draft)
    return 0 if minted.verified else 1


def print_summary(con, build_dir: Path, pub, minted, seconds: float, draft: bool) -> None:
    from rich.table import Table

    rel = lambda p: str(Path(p).relative_to(Path.cwd())) if Path(p).is_relative_to(Path.cwd()) else str(p)  # noqa: E731
    t = Table(title=f"done in {seconds:.0f} s" + (" (draft, tiny test models)" if draft else ""), show_header=False)
    t.add_column(style="bold")
    t.add_column()
    sheets = sorted((build_dir / "contact-sheets").glob("*.png"))
    t.add_row("images", rel(build_dir / "images"))
    t.add_row("contact sheet", rel(sheets[0]) if sheets else "-")
    t.add_row("gallery", f"file://{(build_dir / 'gallery.html').resolve()}")
    for folder, cid in pub.roots.items():
        t.add_row(f"{folder} CID", cid)
    t.add_row("CAR files", rel(build_dir / "car"))
    t.add_row("base URI", pub.base_uri)
    t.add_row("chain", f"anvil, chain id {minted.chain_id} (state in {rel(build_dir / 'chain')})")
    t.add_row("contract", minted.contract_address)
    t.add_row("minted", f"{len(minted.minted_ids)} tokens, ids {minted.minted_ids.start}–{minted.minted_ids.stop - 1}")
    t.add_row("tokenURI (on chain)", minted.sample_token_uri or "-")
    t.add_row("verified on chain", "yes" if minted.verified else "NO: " + "; ".join(minted.problems))
    con.print(t)
