"""Provenance hash (BAYC practice): sha256 of each image file, in token order, then sha256 of
the concatenated lowercase hex digests. Hashes local files, never gateway downloads."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from buildfiles.hashing import sha256_file
from buildfiles.provenance import Provenance, ProvenanceEntry


def provenance_of(images: Iterable[tuple[int, Path]]) -> Provenance:
    return Provenance.of([ProvenanceEntry(tid, sha256_file(path)) for tid, path in images])


def provenance_of_hashes(hashes: dict[int, str]) -> Provenance:
    """The same from digests already known (token id -> sha256 hex), in token order."""
    return Provenance.of([ProvenanceEntry(tid, h) for tid, h in hashes.items()])
