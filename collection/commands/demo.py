"""`roboz-collection demo MANIFEST`: the whole pipeline, offline, in one command.

build (plan, render, metadata, preview) -> publish --to car -> mint --network local,
then a summary of where everything is. Without the real weights in the cache it says
so loudly and renders a draft with the demo models instead: a small VQGAN and CLIP
trained on a toy world of Jax-like robots (generator/demo), shipped with the package,
at 128 px so the Jax sketch stays visible. Every such render is labelled a demo render.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

# `make demo` is a new user's first look, so its draft is sized to finish the whole pipeline in about
# two minutes on a quiet 2-core CPU, three on a busy one (README "Measured"): the demo pair at 128 px, where Jax stays
# recognisable, but 20 iterations and 8 cutouts instead of `build --draft`'s 60 and 16
# (collection/plan/draft.py). The VQGAN's decode at 128 px is most of an iteration, so the
# iterations are the lever; the colours have turned by then (the README's picture is this draft).
DEMO_SIZE = 128
DEMO_ITERATIONS = 20
DEMO_CUTN = 8

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
    p.add_argument("--models", default=None,
                   help="override the manifest's models (e.g. `demo`, or `tiny` for a plumbing check with random weights)")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.panel import Panel

    from collection.commands.build import run_after_plan
    from collection.plan.draft import real_weights_present
    from collection.render.render_step import RenderOptions
    from collection.plan.manifest import load_manifest

    con = Console()
    t0 = time.monotonic()
    m = load_manifest(args.manifest)
    ok, why = real_weights_present(args.models or m.render.models, args.models_dir)
    models = args.models or (None if ok else "demo")
    draft = models in ("demo", "tiny")  # test pairs render a draft into build-draft/
    if models == "demo":
        reason = (f"[bold]The real weights for {m.render.models} are not in the cache.[/]\n{why}\n\n" if not ok
                  else "[bold]--models demo[/]\n\n")
        con.print(
            Panel.fit(
                reason +
                f"Rendering a DRAFT ({DEMO_SIZE} px, {DEMO_ITERATIONS} iterations, {DEMO_CUTN} cutouts) with the "
                "DEMO MODELS instead: a small VQGAN and CLIP trained here on a toy world of drawn robots. They know "
                "colours, a few objects and settings, and paint Jax accordingly, but they are not the real models: "
                "every picture is labelled a demo render in its PNG text, metadata and the gallery. "
                "The rest of the pipeline (metadata, CIDs, CARs, contract, mint) is the real thing.\n\n"
                f"For real images: roboz-collection models fetch {m.render.models}",
                title="DEMO MODELS, NOT THE REAL WEIGHTS",
                border_style="bold red",
            )
        )
    build_dir = plan_demo(args.manifest, args.out, models).build_dir
    run_after_plan(build_dir, RenderOptions(models=models if models != "demo" else None, device=args.device,
                                            models_dir=args.models_dir, progress=not args.no_progress))

    from metadata.publish import publish
    from metadata.publishers import make_publisher

    pub = publish(build_dir, make_publisher("car", build_dir))

    from contracts.mint import mint_build

    minted = mint_build(build_dir, network="local", log=print)
    from preview import refresh_gallery

    refresh_gallery(build_dir)  # the page shows the CIDs and the contract
    print_summary(con, build_dir, pub, minted, time.monotonic() - t0, models if draft else None)
    return 0 if minted.verified else 1


def plan_demo(manifest: Path, out: Path | None, models: str | None, *, quiet: bool = False):
    """plan.json for `demo`: the demo pair's draft (DEMO_* above), `tiny`'s 64 px draft, or the manifest
    as written when its real weights are there (models None). Returns the plan's summary."""
    from buildfiles.lock import build_lock
    from collection.commands.plan import plan_and_report, print_summary
    from collection.plan.draft import DEMO_BATCH_SIZE, DEMO_MODELS, draft_manifest
    from collection.plan.manifest import load_manifest
    from collection.plan.plan_step import default_build_dir, make_plan

    if models != "demo":
        return plan_and_report(manifest, out, draft=models == "tiny", quiet=quiet, command=NAME)[1]
    m = draft_manifest(load_manifest(manifest), max_size=DEMO_SIZE, max_iterations=DEMO_ITERATIONS, max_cutn=DEMO_CUTN,
                       models=DEMO_MODELS, batch_size=DEMO_BATCH_SIZE)
    build_dir = out or default_build_dir(manifest, draft=True)
    with build_lock(build_dir, NAME, create=True):
        summary = make_plan(m, build_dir)
    if not quiet:
        print_summary(m, summary)
    return summary


def print_summary(con, build_dir: Path, pub, minted, seconds: float, test_models: str | None) -> None:
    """Plain `label  value` lines: CIDs and paths must never be cut to fit a table."""

    def rel(p: Path) -> str:
        p = Path(p).resolve()
        return str(p.relative_to(Path.cwd())) if p.is_relative_to(Path.cwd()) else str(p)

    sheets = sorted((build_dir / "contact-sheets").glob("*.png"))
    rows = [
        ("images", rel(build_dir / "images")),
        ("contact sheet", rel(sheets[0]) if sheets else "-"),
        ("gallery", f"file://{(build_dir / 'gallery.html').resolve()}"),
        *((f"{folder} CID", cid) for folder, cid in pub.roots.items()),
        ("CAR files", rel(build_dir / "car")),
        ("base URI", pub.base_uri),
        ("chain", f"anvil, chain id {minted.chain_id}, state in {rel(build_dir / 'chain')}"),
        ("contract", minted.contract_address),
        ("minted", f"{len(minted.minted_ids)} tokens, ids {minted.minted_ids.start}-{minted.minted_ids.stop - 1}"),
        ("tokenURI (chain)", minted.sample_token_uri or "-"),
        ("verified on chain", "yes" if minted.verified else "NO: " + "; ".join(minted.problems)),
    ]
    title = f"done in {seconds:.0f} s" + (f" (draft with the {test_models} models, not the real weights)" if test_models else "")
    con.rule(f"[bold]{title}")
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        con.print(f"[bold]{k.ljust(width)}[/]  {v}", soft_wrap=True, highlight=False)
