"""`roboz-collection review BUILD_DIR`: a local page to keep, reject or pick candidates, then re-roll."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "review"
HELP = "review the renders in a local page: keep / reject / pick another candidate, then re-roll the rejected"
EPILOG = """\
examples:
  roboz-collection review my-roboz/build
  roboz-collection review my-roboz/build --models tiny --device cpu    # options the re-roll renders with

The page is served on 127.0.0.1 at a random port, under a secret printed once (keep the URL to
yourself). Decisions are written to BUILD_DIR/review.json as you click; "Re-roll rejected" runs
`roboz-collection reroll BUILD_DIR --from-review`. Ctrl-C stops the server.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("build_dir", type=Path, metavar="BUILD_DIR")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--models", help='models the re-roll renders with: "<vqgan>+<clip>" or "tiny"')
    p.add_argument("--device", help="cpu, cuda or cuda:N")
    p.add_argument("--models-dir", type=Path, help="folder with model weights")


def run(args: argparse.Namespace) -> int:
    import time

    from buildfiles.plan import load_plan
    from collection.review.server import ReviewServer

    load_plan(args.build_dir)  # one clear line when this is not a build directory
    extra = []
    for flag, value in (("--models", args.models), ("--device", args.device), ("--models-dir", args.models_dir)):
        if value is not None:
            extra += [flag, str(value)]
    with ReviewServer(args.build_dir, reroll_args=extra, port=args.port) as server:
        print(f"review page: {server.url}", flush=True)
        print("Ctrl-C to stop", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopped")
    return 0
