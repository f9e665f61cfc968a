"""cids.json: the IPFS CIDs `metadata` computed offline, read by `publish`, `mint` and `preview`.

    {"format": "roboz-cids/1", "profile": "...",
     "images_cid": "bafy…", "animations_cid": "bafy…" | null, "metadata_cid": "bafy…",
     "base_uri": "ipfs://<metadata_cid>/", "contract_uri": "ipfs://<metadata_cid>/collection.json",
     "files": {"images/1.png": "bafk…", "metadata/1.json": "bafk…", ...}}

base_uri and contract_uri are written for a person reading the file; readers derive them from
metadata_cid (buildfiles.ipfs), so the two can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from buildfiles.atomicio import dumps_json
from buildfiles.ipfs import base_uri, contract_uri
from buildfiles.jsonfile import BuildFileError, read_fields

CIDS_FILE = "cids.json"
CIDS_FORMAT = "roboz-cids/1"
PROFILE = "unixfs: cidv1, raw leaves, sha2-256, 1MiB chunks, 1024 links/node, HAMT(256) past 256KiB of links"
RECOVER = "run `roboz-collection metadata {build}` again: it recomputes cids.json from the files (offline)"


@dataclass(frozen=True)
class Cids:
    images_cid: str
    metadata_cid: str
    animations_cid: str | None = None
    files: dict[str, str] = field(default_factory=dict)   # "images/1.png" -> CID of that file
    profile: str = PROFILE

    @property
    def base_uri(self) -> str:
        return base_uri(self.metadata_cid)

    @property
    def contract_uri(self) -> str:
        return contract_uri(self.metadata_cid)

    @property
    def roots(self) -> dict[str, str]:
        """Folder -> root CID, in publish order (media first, metadata last)."""
        out = {"images": self.images_cid}
        if self.animations_cid:
            out["animations"] = self.animations_cid
        out["metadata"] = self.metadata_cid
        return out


def cids_path(build_dir: Path | str) -> Path:
    return Path(build_dir) / CIDS_FILE


def cids_json(c: Cids) -> bytes:
    """The file's exact bytes (the metadata step compares them to skip unchanged writes)."""
    return dumps_json({
        "format": CIDS_FORMAT,
        "profile": c.profile,
        "images_cid": c.images_cid,
        "animations_cid": c.animations_cid,
        "metadata_cid": c.metadata_cid,
        "base_uri": c.base_uri,
        "contract_uri": c.contract_uri,
        "files": c.files,
    }).encode("utf-8")


def load_cids(build_dir: Path | str) -> Cids | None:
    """cids.json, or None when `metadata` has not run; BuildFileError when it is damaged."""
    f = read_fields(cids_path(build_dir), fmt=CIDS_FORMAT, recover=RECOVER.format(build=Path(build_dir)))
    if f is None:
        return None
    return Cids(
        images_cid=f.cid("images_cid"),
        metadata_cid=f.cid("metadata_cid"),
        animations_cid=f.cid("animations_cid", optional=True),
        files=f.str_map("files"),
        profile=f.str("profile", default=PROFILE),
    )


def read_cids(build_dir: Path | str) -> Cids:
    c = load_cids(build_dir)
    if c is None:
        raise BuildFileError(f"{cids_path(build_dir)} not found", hint=f"run `roboz-collection metadata {build_dir}` first")
    return c
