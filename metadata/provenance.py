"""Provenance hash (BAYC practice): sha256 of each image file, in token order, then sha256 of
the concatenated lowercase hex digests. Hashes local files, never gateway downloads."""

from __future__ import annotations

from pathlib import Path
from buildfiles.hashing import sha256_file
from buildfiles.plan import Plan
from buildfiles.provenance import Provenance, ProvenanceEntry
from metadata.unixfs import Tree, raw_leaf_sha256


def provenance_of_hashes(hashes: dict[int, str]) -> Provenance:
    """The same from digests already known (token id -> sha256 hex), in token order."""
    return Provenance.of([ProvenanceEntry(tid, h) for tid, h in hashes.items()])


def image_sha256s(plan: Plan, files: dict[str, str], images: Tree) -> dict[int, str]:
    """sha256 of every token image, given the images folder's per-file CIDs (`files`, "N.png" -> CID):
    a file up to 1 MiB is one raw leaf whose CID *is* its sha256, so only larger files are read again."""
    return {t.id: raw_leaf_sha256(files[f"{t.id}.png"]) or sha256_file(images[f"{t.id}.png"]) for t in plan.tokens}
