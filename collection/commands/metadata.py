"""`roboz-collection metadata BUILD_DIR`: token + contract metadata, rarity, provenance, CIDs (offline)."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "metadata"
HELP = "write metadata/*.json, collection.json, rarity.json, provenance.json and cids.json (offline)"
EPILOG = """\
examples:
  roboz-collection metadata build          # after render; computes every IPFS CID locally
  roboz-collection publish build --to car  # then write CARs (or --to kubo / --to pinata)
  roboz-collection metadata build --accept-edited 3,7   # keep images you edited after rendering

Every image must still be the one the renderer wrote (sha256 in renders/<id>.json); an edited,
truncated or swapped image stops the step, naming it. Re-render it, or keep your edit with
--accept-edited: the acceptance is recorded in that token's render record.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("build_dir", type=Path, help="build directory with plan.json, images/ and renders/")
    p.add_argument("--accept-edited", type=_ids, default=(), metavar="IDS",
                   help="token ids (1,2,5) or `all` whose images may differ from what the renderer wrote; recorded")


def _ids(text: str):
    if text.strip() == "all":
        return "all"
    try:
        ids = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected token ids like 3,7 or `all`, got {text!r}") from None
    if not ids:
        raise argparse.ArgumentTypeError("expected at least one token id, or `all`")
    return ids


def run(args: argparse.Namespace) -> int:
    from metadata.build import write_metadata
    from collection.commands.leftovers import clean_leftovers

    clean_leftovers(args.build_dir, (".", "metadata"), NAME)   # what a killed run left (.NAME.*.tmp)

    print_report(write_metadata(args.build_dir, accept_edited=args.accept_edited))
    return 0


def print_report(r) -> None:
    from buildfiles.ipfs import ipfs_uri

    changed = f"{len(r.written)} file(s) written, {r.unchanged} unchanged" if r.written else f"all {r.unchanged} files unchanged"
    print(f"metadata for {r.tokens} tokens: {changed}")
    print(f"  images     {ipfs_uri(r.images_cid)}")
    if r.animations_cid:
        print(f"  animations {ipfs_uri(r.animations_cid)}")
    print(f"  base URI   {r.base_uri}")
    print(f"  contract   {r.contract_uri}")
    print(f"  provenance {r.provenance_hash}")
