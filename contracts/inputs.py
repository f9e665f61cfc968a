"""What `mint` puts on chain, read from the build directory and checked against the files.

plan.json + publish.json (or cids.json) + provenance.json -> MintInputs. Before any of it
reaches a chain, the files are checked against what `metadata` recorded: every image must
still hash to its provenance.json entry, every metadata JSON must parse and still have the
CID cids.json gave it. The provenance hash can be set on chain once only, so a stale one
must never get there; the fix (re-running `metadata`) is offline and quick, so there is no
flag to mint stale files.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from buildfiles.cids import CIDS_FILE, Cids, load_cids
from buildfiles.errors import UserError
from buildfiles.hashing import sha256_file
from buildfiles.plan import Plan, load_plan
from buildfiles.provenance import Provenance, load_provenance, provenance_path
from buildfiles.published import PUBLISH_FILE, PublishRecord, load_publish

_RERUN_METADATA = "run `roboz-collection metadata BUILD_DIR` again (then `publish`) so CIDs and provenance match the files"


@dataclass(frozen=True)
class MintInputs:
    name: str
    symbol: str
    start_id: int
    supply: int
    base_uri: str
    contract_uri: str
    uri_source: str                  # "publish.json" or "cids.json"
    provenance_hash: str             # 64 hex chars, no 0x
    royalty_receiver: str | None
    royalty_bps: int


@dataclass(frozen=True)
class UriFiles:
    """publish.json and cids.json (None where absent), read by the typed readers of buildfiles/."""

    publish: PublishRecord | None
    cids: Cids | None

    @property
    def current_roots(self) -> tuple[str, ...]:
        """The root CIDs of the files as they are now: cids.json's (the newer), else the last publish's."""
        if self.cids is not None:
            return tuple(self.cids.roots.values())
        if self.publish is not None:
            return self.publish.target.roots
        return ()

    def unpinned(self) -> tuple[str, ...]:
        """Current roots no provider confirmed it pins (a provider that only wrote CAR files never counts)."""
        if self.publish is None:
            return self.current_roots
        return tuple(c for c in self.current_roots if not self.publish.pinned_by(c))

    @property
    def files(self) -> dict[str, str]:
        """build-relative path -> CID, as `metadata` hashed them (cids.json first: it is the newer)."""
        for doc in (self.cids, self.publish):
            if doc is not None and doc.files:
                return doc.files
        return {}


def read_uri_files(build_dir: Path) -> UriFiles:
    return UriFiles(load_publish(build_dir), load_cids(build_dir))


def read_inputs(build_dir: Path, plan: Plan | None = None, uris: UriFiles | None = None) -> MintInputs:
    """plan.json + publish.json (or cids.json) + provenance.json -> what goes on chain."""
    build_dir = Path(build_dir)
    plan = plan or load_plan(build_dir)
    c = plan.collection
    uris = uris or read_uri_files(build_dir)
    doc = uris.publish if uris.publish is not None else uris.cids
    if doc is None:
        raise UserError(f"{build_dir} has neither publish.json nor cids.json",
                        hint="run `roboz-collection metadata` (and `publish`) first", exit_code=2)
    source = PUBLISH_FILE if uris.publish is not None else CIDS_FILE
    base_uri, contract_uri = doc.base_uri, doc.contract_uri
    if not base_uri.endswith("/"):
        base_uri += "/"  # tokenURI is base + id + ".json"
    prov = read_provenance(build_dir)
    roy = c.royalties
    return MintInputs(
        name=c.name, symbol=c.symbol, start_id=c.start_id, supply=len(plan.tokens) or c.supply,
        base_uri=base_uri, contract_uri=contract_uri, uri_source=source, provenance_hash=prov.provenance_hash,
        royalty_receiver=roy.receiver if roy and roy.bps else None, royalty_bps=roy.bps if roy else 0,
    )


# ---------------------------------------------------------------- provenance and file integrity

def read_provenance(build_dir: Path) -> Provenance:
    prov = load_provenance(build_dir)
    if prov is None:
        raise UserError(f"{provenance_path(build_dir)} not found", hint="run `roboz-collection metadata` first",
                        exit_code=2)
    # The hash is over the entries in token order; a hand-edited file whose entries and hash
    # disagree would put an unverifiable hash on chain.
    if Provenance.of(sorted(prov.images, key=lambda e: e.id)).provenance_hash != prov.provenance_hash:
        raise UserError(f"{provenance_path(build_dir)}: provenance_hash does not match its image list",
                        hint=_RERUN_METADATA, exit_code=2)
    return prov


def raw_leaf_cid(data: bytes) -> str:
    """CIDv1 (raw codec, sha2-256, base32) of a file that fits one 1 MiB leaf: the CID `metadata`
    gives every metadata JSON (tests compare with metadata/unixfs.py, an independent path)."""
    digest = hashlib.sha256(data).digest()
    return "b" + base64.b32encode(bytes([0x01, 0x55, 0x12, 0x20]) + digest).decode("ascii").lower().rstrip("=")


ONE_LEAF = 1 << 20


def _named(paths: list[str], n: int = 5) -> str:
    shown = ", ".join(paths[:n])
    return shown + (f" and {len(paths) - n} more" if len(paths) > n else "")


def check_build_files(build_dir: Path, plan: Plan, uris: UriFiles, problems: list[tuple[str, str]] | None = None) -> int:
    """Every image and metadata file still what `metadata` recorded; returns the number checked.

    Every file is looked at; what is wrong is grouped by kind (missing, changed, unreadable, not
    JSON), each with the files it names and its fix. Appended to `problems` (message, hint) when
    given, else raised: one UserError for one kind, or all kinds together.
    """
    build_dir = Path(build_dir)
    prov = read_provenance(build_dir)
    ids = [t.id for t in plan.tokens]
    hashed = {e.id: e.sha256 for e in prov.images}
    if sorted(hashed) != sorted(ids):
        raise UserError(f"{provenance_path(build_dir)} lists other tokens than plan.json", hint=_RERUN_METADATA,
                        exit_code=2)
    missing_img, changed_img, unreadable, missing_md, not_json, changed_md = [], [], [], [], [], []
    json_why = ""
    checked = 0
    for tid in ids:
        rel = f"images/{tid}.png"
        try:
            digest = sha256_file(build_dir / rel)
        except FileNotFoundError:
            missing_img.append(rel)
            continue
        except OSError as e:
            unreadable.append(f"{rel} ({e.strerror})")
            continue
        if digest != hashed[tid]:
            changed_img.append((tid, rel))
            continue
        checked += 1
    files = uris.files
    for name in [f"{tid}.json" for tid in ids] + ["collection.json"]:
        rel = f"metadata/{name}"
        try:
            data = (build_dir / rel).read_bytes()
        except FileNotFoundError:
            missing_md.append(rel)
            continue
        except OSError as e:
            unreadable.append(f"{rel} ({e.strerror})")
            continue
        try:
            json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            not_json.append(rel)
            json_why = json_why or str(e)
            continue
        want = files.get(rel)
        if want is not None and len(data) <= ONE_LEAF and raw_leaf_cid(data) != want:
            changed_md.append(rel)
            continue
        checked += 1

    found: list[tuple[str, str]] = []
    one = lambda items, single, several: single if len(items) == 1 else several  # noqa: E731
    if missing_img:
        found.append((f"{_named(missing_img)} {one(missing_img, 'is', 'are')} missing, though provenance.json hashed "
                      f"{one(missing_img, 'it', 'them')}",
                      "restore it, or re-render that token and run `roboz-collection metadata BUILD_DIR` again"
                      .replace("BUILD_DIR", str(build_dir))))
    if changed_img:
        ids_changed = ",".join(str(t) for t, _ in changed_img[:10])
        names = [r for _, r in changed_img]
        # `metadata` alone refuses an image that differs from its render record: name the flag it needs.
        found.append((f"{_named(names)} changed since `metadata` ran ({one(names, 'its', 'their')} sha256 "
                      f"{one(names, 'is', 'are')} not the one in provenance.json)",
                      f"restore the file; or keep your edit: `roboz-collection metadata {build_dir} "
                      f"--accept-edited {ids_changed}`, then `publish` again"))
    if unreadable:
        found.append((f"{_named(unreadable)} cannot be read", "check the files' permissions and the disk"))
    if missing_md:
        found.append((f"{_named(missing_md)} {one(missing_md, 'is', 'are')} missing", _RERUN_METADATA))
    if not_json:
        found.append((f"{_named(not_json)} {one(not_json, 'is', 'are')} not valid JSON ({json_why})", _RERUN_METADATA))
    if changed_md:
        found.append((f"{_named(changed_md)} changed since `metadata` ran ({one(changed_md, 'its', 'their')} CID "
                      f"{one(changed_md, 'is', 'are')} not the one in cids.json)", _RERUN_METADATA))
    if problems is not None:
        problems.extend(found)
    elif found:
        from contracts.refusals import Refusals

        r = Refusals()
        for msg, hint in found:
            r.add(msg, hint)
        r.raise_if_any()
    return checked
