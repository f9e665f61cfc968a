"""`roboz-collection preview BUILD_DIR`: contact sheets, gallery.html and a rarity report."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "preview"
HELP = "make contact sheets, a static gallery.html and a rarity report from a build"
EPILOG = """\
examples:
  roboz-collection preview my-roboz/build
  roboz-collection preview my-roboz/build --columns 8 --thumb-size 192
  roboz-collection preview my-roboz/build --by-trait colour       # one sheet per colour
  roboz-collection preview my-roboz/build --snapshots 7           # token 7 at each snapshot
  roboz-collection preview my-roboz/build --gateway https://ipfs.io   # CIDs link to your gateway

Writes BUILD_DIR/contact-sheets/*.png, BUILD_DIR/images/banner.png (a strip of tokens) and
BUILD_DIR/gallery.html (open it in a browser; it works offline from disk, and `publish`
and `mint` rewrite it so it shows where the collection stands). Thumbnails are cached
in BUILD_DIR/.thumbs/. The page links CIDs to an IPFS gateway only if you name one
(--gateway, or the ROBOZ_IPFS_GATEWAY environment variable, which publish/mint also read).
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    from collection.commands.argtypes import positive_int

    p.add_argument("build_dir", type=Path, metavar="BUILD_DIR")
    p.add_argument("--columns", type=positive_int, default=6, metavar="N", help="thumbnails per row (default 6)")
    p.add_argument("--thumb-size", type=positive_int, default=256, metavar="PX", help="thumbnail edge in pixels (default 256)")
    p.add_argument("--by-trait", metavar="CATEGORY", help="also one sheet per value of this trait category")
    p.add_argument("--snapshots", type=int, metavar="TOKEN_ID", help="also a sheet of this token at its snapshot iterations")
    p.add_argument("--no-report", action="store_true", help="do not print the rarity report")
    p.add_argument("--gateway", metavar="URL", default=None,
                   help="IPFS gateway for the page's CID links, e.g. https://ipfs.io (default: $ROBOZ_IPFS_GATEWAY, else no links)")


def run(args: argparse.Namespace) -> int:
    from buildfiles.lock import build_lock
    from preview import PreviewOptions, make_preview

    options = PreviewOptions(columns=args.columns, thumb_size=args.thumb_size, by_trait=args.by_trait,
                             snapshot_token=args.snapshots, gateway=args.gateway)
    with build_lock(args.build_dir, NAME):  # one process per build directory
        r = make_preview(args.build_dir, options, report=not args.no_report)
    print_report(r, args.build_dir, args.by_trait)
    return 0


def print_report(r, build_dir: Path, by_trait: str | None = None) -> None:
    print(f"{r.tokens} tokens ({r.rendered} rendered): {len(r.sheets)} contact sheet(s) in "
          f"{build_dir / 'contact-sheets'}; thumbnails {r.thumbs_made} made, {r.thumbs_cached} cached")
    pages = sum(len(p) for p in r.trait_sheets.values())
    if r.trait_sheets:
        print(f"by {by_trait}: {len(r.trait_sheets)} value(s), {pages} sheet(s)")
    if r.snapshot_sheet:
        print(f"snapshots: {r.snapshot_sheet}")
    print(f"gallery: {r.gallery}  ({r.seconds:.1f} s)")
