"""`roboz-collection publish BUILD_DIR --to kubo|pinata|car`: put the CIDs computed offline on IPFS."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "publish"
HELP = "upload images/, animations/ and metadata/ as CAR files (kubo, pinata) or just write the CARs (car)"
EPILOG = """\
examples:
  roboz-collection publish build --to car                                 # CARs in build/car/, CIDs printed
  roboz-collection publish build --to kubo --api http://127.0.0.1:5001    # dag/import + pin into your node
  PINATA_JWT=... roboz-collection publish build --to pinata               # Pinata, public network

Running it again uploads nothing when the provider already holds every root. Files
edited after `metadata` are detected and named: re-run `metadata` first.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("build_dir", type=Path)
    from metadata.publishers import PROVIDERS

    p.add_argument("--to", dest="provider", required=True, choices=PROVIDERS)
    p.add_argument("--api", default=None,
                   help="Kubo RPC address (default http://127.0.0.1:5001) or a Pinata-compatible base URL; "
                        "credentials in it (user:pass@, ?token=...) go with every request and are never shown")
    from metadata.publishers.base import DEFAULT_REQUEST_TIMEOUT, MIN_UPLOAD_RATE

    p.add_argument("--timeout", type=_seconds, default=DEFAULT_REQUEST_TIMEOUT, metavar="SECONDS",
                   help=f"the most one HTTP request may take, connect to the last byte of the answer "
                        f"(default {DEFAULT_REQUEST_TIMEOUT:g} s, plus 1 s per {MIN_UPLOAD_RATE // 1024} KiB uploaded); "
                        "a node that runs out of it twice is given up on")


def _seconds(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not v > 0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return v


def edited_images(build_dir: Path) -> list[int]:
    """Token ids whose image is no longer the one its render record describes (an edit after render)."""
    from buildfiles.errors import UserError
    from buildfiles.hashing import sha256_file
    from buildfiles.plan import load_plan
    from buildfiles.records import read_record

    out = []
    try:
        for t in load_plan(build_dir).tokens:
            want = read_record(build_dir, t.id).image_sha256
            if want is not None and sha256_file(build_dir / "images" / f"{t.id}.png") != want:
                out.append(t.id)
    except (OSError, ValueError, UserError):
        return out
    return out


def run(args: argparse.Namespace) -> int:
    from metadata.publish import publish
    from collection.commands.leftovers import clean_leftovers

    clean_leftovers(args.build_dir, (".", "car"), NAME)   # what a killed run left (.NAME.*.tmp)
    from metadata.publishers import RetryPolicy, make_publisher

    from buildfiles.errors import UserError

    publisher = make_publisher(args.provider, args.build_dir, api=args.api,
                               policy=RetryPolicy(request_timeout=args.timeout))
    try:
        r = publish(args.build_dir, publisher)
    except UserError as e:
        edited = edited_images(args.build_dir) if "changed after cids.json" in e.message else []
        if edited:
            # "run metadata again" alone would be refused there: an edited image needs --accept-edited.
            from metadata.integrity import fix_hint

            e.hint = fix_hint(edited, args.build_dir) + "; then publish again"
        raise
    for folder, cid in r.roots.items():
        print(f"{folder:<11} {cid}")
    print(f"base URI    {r.base_uri}")
    print(f"contractURI {r.contract_uri}")
    if "mint" in r.roots:  # the drop's page: what the artist shares with collectors
        print(f"mint page   ipfs://{r.roots['mint']}/  (share this)")
    from preview import refresh_gallery

    refresh_gallery(args.build_dir)  # the page's status panel follows the publish
    return 0
