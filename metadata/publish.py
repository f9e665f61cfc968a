"""`publish`: check the build still matches cids.json, write CARs, upload what the provider lacks,
record publish.json. Folders go media first, metadata last, so a published tokenURI never points
at media that is not there yet."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from buildfiles.atomicio import write_json
from buildfiles.errors import UserError
from buildfiles.plan import Plan, load_plan
from metadata.build import media_trees
from metadata.car import car_root, verify_car, write_tree_car
from metadata.publishers.base import Publisher, PublishError
from metadata.unixfs import Tree, add_tree, cid_str


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
        raise UserError(f"{missing[0]} not found", hint="run `roboz-collection metadata BUILD_DIR` first")
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


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None


def publish(build_dir: Path, publisher: Publisher, *, log: Callable[[str], None] = print) -> PublishReport:
    build_dir = Path(build_dir)
    plan = load_plan(build_dir)
    cids = _read_json(build_dir / "cids.json")
    if cids is None:
        raise UserError("cids.json not found", hint="run `roboz-collection metadata BUILD_DIR` first")

    # 1. Hash everything again: files edited after `metadata` ran would make the metadata lie.
    trees = folder_trees(build_dir, plan)
    roots, files = {}, {}
    for name, tree in trees.items():
        res = add_tree(tree)
        roots[name] = cid_str(res.root.cid)
        files.update({f"{name}/{k}": v for k, v in res.files.items()})
    stale = diff_files(cids.get("files") or {}, files)
    if stale or any(cids.get(f"{n}_cid") != r for n, r in roots.items()):
        shown = "; ".join(stale[:5]) + (f"; and {len(stale) - 5} more" if len(stale) > 5 else "")
        raise UserError(f"the build changed after cids.json was written: {shown or 'folder roots differ'}",
                        hint="run `roboz-collection metadata BUILD_DIR` again so metadata, CIDs and provenance match the files")

    # 2. Compare with the last publish to this provider and explain what changed.
    prev = _read_json(build_dir / "publish.json")
    changed: list[str] = []
    if prev and prev.get("provider") == publisher.name and prev.get("endpoint") == publisher.endpoint:
        changed = diff_files(prev.get("files") or {}, files)
        if changed:
            log(f"changed since the publish of {prev.get('uploaded_at')}: " + "; ".join(changed[:10])
                + (f"; and {len(changed) - 10} more" if len(changed) > 10 else ""))
            if prev.get("metadata_cid") != roots["metadata"]:
                log(f"  the base URI becomes ipfs://{roots['metadata']}/ (was {prev.get('base_uri')}); "
                    "a deployed contract needs its base URI updated")

    # 3. Upload what the provider lacks, media first.
    uploaded = []
    for name, tree in trees.items():
        root = roots[name]
        if publisher.has(root):
            log(f"{name}: {root} already on {publisher.name}: nothing to upload")
            continue
        car = build_dir / "car" / f"{name}.car"
        if car_root(car) == root and verify_car(car).roots == [root]:
            log(f"{name}: reusing {car.relative_to(build_dir)} (root and every block hash checked)")
        else:
            written = write_tree_car(tree, car)
            if cid_str(written.root.cid) != root:  # the files changed while we were reading them
                raise PublishError(f"{name} changed during publish", hint="run `metadata` again, then `publish`")
            log(f"{name}: wrote {car.relative_to(build_dir)} ({car.stat().st_size:,} bytes)")
        log(f"{name}: {publisher.upload(car, root)}")
        if publisher.name != "car":  # the car provider only writes files
            uploaded.append(name)

    record = {
        "provider": publisher.name,
        "endpoint": publisher.endpoint,
        "images_cid": roots["images"],
        "animations_cid": roots.get("animations"),
        "metadata_cid": roots["metadata"],
        "base_uri": f"ipfs://{roots['metadata']}/",
        "contract_uri": f"ipfs://{roots['metadata']}/collection.json",
        "cars": {n: f"car/{n}.car" for n in trees} if publisher.name == "car" else None,
        "files": files,
    }
    same = prev is not None and {k: prev.get(k) for k in record} == record
    if not uploaded and same:
        log(f"nothing uploaded: every root is already on {publisher.name}; publish.json unchanged")
    else:
        record["uploaded_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        record["uploaded"] = uploaded
        write_json(build_dir / "publish.json", record)
    return PublishReport(publisher.name, roots, tuple(uploaded), record["base_uri"], record["contract_uri"], tuple(changed))
