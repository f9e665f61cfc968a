"""Provenance hash (BAYC practice): sha256 of each image file, in token order, then sha256 of
the concatenated lowercase hex digests. Hashes local files, never gateway downloads."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterable

from buildfiles.hashing import sha256_file


def provenance_document(images: Iterable[tuple[int, Path]]) -> dict[str, Any]:
    entries = [{"id": tid, "sha256": sha256_file(path)} for tid, path in images]
    joined = "".join(e["sha256"] for e in entries)
    return {
        "algorithm": "sha256",
        "concatenation": "lowercase hex sha256 of each image file, in token id order, no separator",
        "images": entries,
        "provenance_hash": hashlib.sha256(joined.encode("ascii")).hexdigest(),
    }
