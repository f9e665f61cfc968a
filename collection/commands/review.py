"""`roboz-collection review BUILD_DIR`: a local page to keep, reject or pick candidates, then re-roll."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

NAME = "review"
HELP = "review the renders in a local page: keep / reject / pick another candidate, then re-roll the rejected"
EPILOG = """\
examples:
  roboz-collection review my-roboz/build
  roboz-collection review my-roboz/build --models tiny --device cpu    # options the re-roll renders with
  roboz-collection review my-roboz/build --port 8765 --public-origin https://8765-abc.example.net
                                          # behind a proxy that serves the page from another origin

The page is served on 127.0.0.1 at a random port, under a secret printed once (keep the URL to
yourself). Decisions are written to BUILD_DIR/review.json as you click; "Re-roll rejected" runs
`roboz-collection reroll BUILD_DIR --from-review`. Ctrl-C stops the server. Requests must name
this server's host (or a --public-origin's) and posts must come from its page's origin; a proxy
such as Colab's (examples/colab.ipynb) is trusted only when named with --public-origin.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("build_dir", type=Path, metavar="BUILD_DIR")
    p.add_argument("--port", type=int, default=0, help="port to listen on (default: a free one)")
    p.add_argument("--bind", default="127.0.0.1", metavar="ADDR",
                   help="address to listen on (default 127.0.0.1; another one exposes the page to that network)")
    p.add_argument("--public-origin", action="append", default=[], metavar="URL",
                   help="an origin the page is also served from through a proxy (e.g. Colab's port proxy), "
                        "trusted in Host and Origin checks; repeatable")
    p.add_argument("--models", help='models the re-roll renders with: "<vqgan>+<clip>" or "tiny"')
    p.add_argument("--device", help="cpu, cuda or cuda:N")
    p.add_argument("--models-dir", type=Path, help="folder with model weights")


def run(args: argparse.Namespace) -> int:
    import time

    from buildfiles.errors import UserError
    from buildfiles.plan import load_plan
    from collection.review.server import ReviewServer

    load_plan(args.build_dir)  # one clear line when this is not a build directory
    extra = []
    for flag, value in (("--models", args.models), ("--device", args.device), ("--models-dir", args.models_dir)):
        if value is not None:
            extra += [flag, str(value)]
    try:
        server = ReviewServer(args.build_dir, reroll_args=extra, host=args.bind, port=args.port,
                              public_origins=args.public_origin)
    except ValueError as e:
        raise UserError(f"--public-origin: {e}", hint="give the proxy's origin, e.g. https://host.example or http://host:8765",
                        exit_code=2) from None
    except OSError as e:
        raise UserError(f"cannot listen on {args.bind}:{args.port} ({e.strerror or e})",
                        hint="choose another --port (0: a free one) or --bind address", exit_code=2) from None
    with server:
        print(f"review page: {server.url}", flush=True)
        for origin in server.public_origins:
            print(f"also through {origin}/{server.secret}/", flush=True)
        print("Ctrl-C to stop", flush=True)
        # A process started with SIGINT ignored (by nohup, a shell's `&`, or a parent that ignores
        # it) inherits that, and Python then leaves Ctrl-C ignored: the server could not be stopped.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopped")
    return 0
