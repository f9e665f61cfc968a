"""Time to a finished collection, phase by phase: plan -> render -> metadata -> preview ->
publish (--to car) -> mint (a local anvil), the way `roboz-collection demo` runs them.

Two cases (each in a fresh temporary build directory):

* `example`: the bundled example (examples/rusty-roboz) as `make demo` paints it without the
  real weights: the demo pair's draft (collection/commands/demo.py plan_demo), 24 tokens.
* `tiny1000`: 1,000 tokens from a generated manifest, the tiny random pair at 16 px,
  1 iteration, cutn 1: everything around the render at collection scale.

`imports` is the import of the modules the phases use (torch the largest part), which a
fresh `roboz-collection` process pays once. Prints seconds and % of the total per phase,
wall and CPU (CPU / cores is the wall time with the cores to itself on a shared machine).

    python benchmarks/time_to_collection.py [--case example|tiny1000|both] [--tokens 1000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "rusty-roboz" / "manifest.yaml"


def tiny_manifest(folder: Path, tokens: int) -> Path:
    """A generated collection of `tokens` tokens: 4 categories of 8 values (4,096 combinations)."""
    cats = {"colour": "Red Blue Rusty Golden Green Pink Black White",
            "object": "Sword Board Hat Cape Shield Lamp Drum Kite",
            "setting": "Volcano Sea Hill Moon Forest Desert City Cave",
            "mood": "Brave Calm Sleepy Angry Happy Shy Proud Wise"}
    lines = ["collection:", "  name: Tiny Thousand", "  symbol: TINY", "  description: A thousand tiny test tokens.",
             "  seed: 7", f"  supply: {tokens}", "  start_id: 1",
             "render:", "  models: tiny", "  init_image: jax", "  size: [16, 16]", "  iterations: 1", "  cutn: 1",
             "  batch_size: 8",
             "prompt:", '  template: "{mood} {colour} roboz {object} {setting}"', "traits:"]
    lines += [f"  {c}: {{{', '.join(f'{v}: {i % 3 + 1}' for i, v in enumerate(vs.split()))}}}" for c, vs in cats.items()]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "manifest.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Phases:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float]] = []

    @contextlib.contextmanager
    def time(self, name: str):
        w, c = time.perf_counter(), time.process_time() + _children_cpu()
        yield
        self.rows.append((name, time.perf_counter() - w, time.process_time() + _children_cpu() - c))


def _children_cpu() -> float:
    # anvil and any other child process the phase starts and waits for
    r = os.times()
    return r.children_user + r.children_system


def run_case(name: str, manifest: Path, build_dir: Path, *, demo: bool, quiet: bool) -> Phases:
    ph = Phases()
    sink = io.StringIO()
    out = contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext()
    with ph.time("imports"):
        import torch  # noqa: F401

        from collection.commands.demo import plan_demo
        from collection.render.render_step import RenderOptions, render_build
        from contracts.mint import mint_build
        from metadata.build import write_metadata
        from metadata.publish import publish
        from metadata.publishers import make_publisher
        from preview import make_preview, refresh_gallery
    with out:
        with ph.time("plan"):
            plan_demo(manifest, build_dir, "demo" if demo else None, quiet=True)
        with ph.time("render"):
            report = render_build(build_dir, RenderOptions(progress=False))
        if report.failed:
            raise SystemExit(f"{name}: {len(report.failed)} token(s) failed: {report.errors}")
        with ph.time("metadata"):
            write_metadata(build_dir)
        with ph.time("preview"):
            make_preview(build_dir)
        with ph.time("publish (car)"):
            publish(build_dir, make_publisher("car", build_dir), log=lambda s: None)
        with ph.time("mint (anvil)"):
            minted = mint_build(build_dir, network="local", log=lambda s: None)
        with ph.time("gallery refresh"):
            refresh_gallery(build_dir)
    if not minted.verified:
        raise SystemExit(f"{name}: mint not verified: {minted.problems}")
    return ph


def print_table(title: str, ph: Phases) -> None:
    from rich.console import Console
    from rich.table import Table

    total_w = sum(w for _, w, _ in ph.rows)
    total_c = sum(c for _, _, c in ph.rows)
    t = Table(title=title)
    for col in ("phase", "wall s", "% of total", "CPU s"):
        t.add_column(col, justify="left" if col == "phase" else "right")
    for n, w, c in ph.rows:
        t.add_row(n, f"{w:.2f}", f"{100 * w / total_w:.1f} %", f"{c:.2f}")
    t.add_section()
    t.add_row("total", f"{total_w:.2f}", "100 %", f"{total_c:.2f}")
    Console().print(t)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", choices=("example", "tiny1000", "both"), default="both")
    ap.add_argument("--tokens", type=int, default=1000, help="tokens of the generated case")
    ap.add_argument("--keep", type=Path, default=None, help="keep the build directories here")
    ap.add_argument("--verbose", action="store_true", help="show the steps' own output")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="roboz-collection-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    print(f"cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.1f}")
    try:
        if args.case in ("example", "both"):
            ph = run_case("example", EXAMPLE, root / "example", demo=True, quiet=not args.verbose)
            from collection.commands.demo import DEMO_CUTN, DEMO_ITERATIONS, DEMO_SIZE

            print_table(f"examples/rusty-roboz, the demo draft (24 tokens, demo pair, {DEMO_SIZE} px, "
                        f"{DEMO_ITERATIONS} iterations, cutn {DEMO_CUTN})", ph)
        if args.case in ("tiny1000", "both"):
            m = tiny_manifest(root / "tiny", args.tokens)
            ph = run_case("tiny", m, root / "tiny" / "build", demo=False, quiet=not args.verbose)
            print_table(f"{args.tokens:,} tiny tokens (tiny pair, 16 px, 1 iteration, cutn 1)", ph)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print(f"torch threads: {__import__('torch').get_num_threads()}, load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
