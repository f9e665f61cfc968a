"""`publish`: check the build still matches cids.json, write CARs, upload what the provider lacks,
record publish.json. Folders go media first, metadata last, so a published tokenURI never points
at media that is not there yet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from buildfiles.cids import read_cids
from buildfiles.errors import UserError
from buildfiles.lock import build_lock
from buildfiles.plan import Plan, load_plan
from buildfiles.provenance import provenance_path, read_provenance
from buildfiles.published import PublishRecord, load_publish, write_publish
from buildfiles.urls import redact_url
from metadata.build import hash_tree, media_trees
from metadata.car import CarError, car_root, verify_car, write_tree_car
from metadata.integrity import check_media
from metadata.publishers.base import Publisher, PublishError
from metadata.provenance import image_sha256s, provenance_of_hashes
from metadata.unixfs import Tree, cid_str


@dataclass(frozen=True)
class PublishReport:
    provider: str
    roots: dict[str, str]          # folder -> root CID
    uploaded: tuple[str, ...]      # folders uploaded this run
    base_uri: str
    contract_uri: str
    changed_since_last: tuple[str, ...]


def folder_trees(build_dir: Path, plan: Plan) -> dict[str, Tree]:
    media = media_trees(build_dir, plan)
    meta = {f"{t.id}.json": build_dir / "metadata" / f"{t.id}.json" for t in plan.tokens}
    meta["collection.json"] = build_dir / "metadata" / "collection.json"
    missing = [f"metadata/{n}" for n, p in meta.items() if not p.is_file()]
    if missing:
        raise UserError(f"{missing[0]} not found", hint=f"run `roboz-collection metadata {build_dir}` first")
    trees: dict[str, Tree] = {"images": media.images}
    if media.animations:
        trees["animations"] = media.animations
    trees["metadata"] = meta
    return trees


def diff_files(old: dict[str, str], new: dict[str, str]) -> list[str]:
    out = [f"{p} changed" for p in sorted(new) if p in old and old[p] != new[p]]
    out += [f"{p} added" for p in sorted(new) if p not in old]
    out += [f"{p} removed" for p in sorted(old) if p not in new]
    return out


def _check_provenance(build_dir: Path, hashes: dict[int, str]) -> None:
    # mint puts provenance.json's hash on chain, once and forever: it must describe these images.
    if read_provenance(build_dir) != provenance_of_hashes(hashes):
        raise UserError(f"{provenance_path(build_dir)} does not match the images on disk",
                        hint=f"run `roboz-collection metadata {build_dir}` again so metadata, CIDs and provenance match the files")


def _intact_car(car: Path, root: str) -> bool:
    """A CAR left by an earlier run may be reused only whole: right root, every block's hash, every link."""
    if car_root(car) != root:
        return False
    try:
        s = verify_car(car)
    except (CarError, OSError):
        return False
    return s.roots == [root] and s.complete


def publish(build_dir: Path, publisher: Publisher, *, log: Callable[[str], None] = print) -> PublishReport:
    build_dir = Path(build_dir)
    with build_lock(build_dir, "publish"):
        return _publish(build_dir, publisher, log)


def _publish(build_dir: Path, publisher: Publisher, log: Callable[[str], None]) -> PublishReport:
    plan = load_plan(build_dir)
    cids = read_cids(build_dir)
    prev = load_publish(build_dir)

    # 1. Hash everything again: files edited after `metadata` ran would make the metadata lie.
    trees = folder_trees(build_dir, plan)
    roots, files = {}, {}
    for name, tree in trees.items():
        res = hash_tree(tree)
        roots[name] = cid_str(res.root.cid)
        files.update({f"{name}/{k}": v for k, v in res.files.items()})
        if name == "images":
            hashes = image_sha256s(plan, res.files, tree)
    stale = diff_files(cids.files, files)
    if stale or cids.roots != roots:
        shown = "; ".join(stale[:5]) + (f"; and {len(stale) - 5} more" if len(stale) > 5 else "")
        raise UserError(f"the build changed after cids.json was written: {shown or 'folder roots differ'}",
                        hint=f"run `roboz-collection metadata {build_dir}` again so metadata, CIDs and provenance match the files")

    # ... and what `metadata` hashed must still be what the renderer wrote (an edit accepted there is recorded).
    anims = trees.get("animations") or {}
    check_media(build_dir, plan, hashes, animations={t.id: anims[f"{t.id}.mp4"] for t in plan.tokens if f"{t.id}.mp4" in anims},
                command="publish", decode_unrecorded=False, log=log)
    _check_provenance(build_dir, hashes)

    # 1b. The drop's folders beside the collection (placeholder/, mint/): not in cids.json, hashed here.
    from metadata.placeholder import drop_trees

    extras = drop_trees(build_dir, plan)
    extra_roots = {name: cid_str(hash_tree(tree).root.cid) for name, tree in extras.items()}

    # 2. Compare with the last publish to this provider and explain what changed.
    changed: list[str] = []
    if prev and prev.target.key == (publisher.name, redact_url(publisher.endpoint)):
        changed = diff_files(prev.files, files)
        if changed:
            log(f"changed since the publish of {prev.uploaded_at}: " + "; ".join(changed[:10])
                + (f"; and {len(changed) - 10} more" if len(changed) > 10 else ""))
            if prev.metadata_cid != roots["metadata"]:
                log(f"  the base URI becomes {cids.base_uri} (was {prev.base_uri}); "
                    "a deployed contract needs its base URI updated")

    # 3. Upload what the provider lacks, media first.
    uploaded = []
    for name, tree in {**trees, **extras}.items():
        root = roots[name] if name in roots else extra_roots[name]
        if publisher.has(root, log):
            log(f"{name}: {root} already on {publisher.name}: nothing to upload")
            continue
        car = build_dir / "car" / f"{name}.car"
        if _intact_car(car, root):
            log(f"{name}: reusing {car.relative_to(build_dir)} (root, every block hash and the whole DAG checked)")
        else:
            written = write_tree_car(tree, car)
            if cid_str(written.root.cid) != root:  # the files changed while we were reading them
                raise PublishError(f"{name} changed during publish", hint="run `metadata` again, then `publish`")
            log(f"{name}: wrote {car.relative_to(build_dir)} ({car.stat().st_size:,} bytes)")
        log(f"{name}: {publisher.upload(car, root, log)}")
        if publisher.pins:  # a provider that only writes files uploads nothing
            uploaded.append(name)

    record = PublishRecord.of(
        provider=publisher.name, endpoint=publisher.endpoint, pins=publisher.pins, roots=roots, files=files,
        cars=None if publisher.pins else {n: f"car/{n}.car" for n in {**trees, **extras}}, uploaded=tuple(uploaded),
        previous=prev, extras=extra_roots)
    if not uploaded and record.same_as(prev):
        log(f"nothing uploaded: every root is already on {publisher.name}; publish.json unchanged")
    else:
        record = record.stamped(datetime.now(timezone.utc).isoformat(timespec="seconds"))
        write_publish(build_dir, record)
    return PublishReport(publisher.name, {**roots, **extra_roots}, tuple(uploaded), record.base_uri, record.contract_uri,
                         tuple(changed))
