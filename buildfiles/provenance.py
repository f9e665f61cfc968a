"""provenance.json: sha256 of every image in token order and the provenance hash over them.

    {"format": "roboz-provenance/1", "algorithm": "sha256", "concatenation": "...",
     "images": [{"id": 1, "sha256": "…"}, ...], "provenance_hash": "…"}

`metadata` writes it; `mint` puts provenance_hash on chain (once, forever), so a reader accepts
only well-formed digests.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from buildfiles.atomicio import dumps_json
from buildfiles.jsonfile import BuildFileError, Fields, read_fields

PROVENANCE_FILE = "provenance.json"
PROVENANCE_FORMAT = "roboz-provenance/1"
CONCATENATION = "lowercase hex sha256 of each image file, in token id order, no separator"
RECOVER = "run `roboz-collection metadata {build}` again: it re-hashes the images (offline)"


@dataclass(frozen=True)
class ProvenanceEntry:
    id: int
    sha256: str


@dataclass(frozen=True)
class Provenance:
    images: tuple[ProvenanceEntry, ...]
    provenance_hash: str

    @classmethod
    def of(cls, images: list[ProvenanceEntry]) -> "Provenance":
        joined = "".join(e.sha256 for e in images)
        return cls(tuple(images), hashlib.sha256(joined.encode("ascii")).hexdigest())

    def sha256_of(self, token_id: int) -> str | None:
        return next((e.sha256 for e in self.images if e.id == token_id), None)


def provenance_path(build_dir: Path | str) -> Path:
    return Path(build_dir) / PROVENANCE_FILE


def provenance_json(p: Provenance) -> bytes:
    return dumps_json({
        "format": PROVENANCE_FORMAT,
        "algorithm": "sha256",
        "concatenation": CONCATENATION,
        "images": [{"id": e.id, "sha256": e.sha256} for e in p.images],
        "provenance_hash": p.provenance_hash,
    }).encode("utf-8")


def load_provenance(build_dir: Path | str) -> Provenance | None:
    f = read_fields(provenance_path(build_dir), fmt=PROVENANCE_FORMAT, recover=RECOVER.format(build=Path(build_dir)))
    if f is None:
        return None
    if f.raw.get("algorithm", "sha256") != "sha256":
        raise f.fail("algorithm", '"sha256"')
    entries = []
    for i, e in enumerate(f.list("images")):
        if not isinstance(e, dict) or not isinstance(e.get("id"), int) or isinstance(e.get("id"), bool):
            raise f.fail("images", f"a list of {{id, sha256}} (entry {i} is not)")
        entries.append(ProvenanceEntry(e["id"], Fields(e, f.path, f.recover).sha256("sha256")))
    return Provenance(tuple(entries), f.sha256("provenance_hash"))


def read_provenance(build_dir: Path | str) -> Provenance:
    p = load_provenance(build_dir)
    if p is None:
        raise BuildFileError(f"{provenance_path(build_dir)} not found", hint=f"run `roboz-collection metadata {build_dir}` first")
    return p
