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
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("build_dir", type=Path, help="build directory with plan.json, images/ and renders/")


def run(args: argparse.Namespace) -> int:
    from metadata.build import write_metadata

    print_report(write_metadata(args.build_dir))
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
