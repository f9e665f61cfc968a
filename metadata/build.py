"""The metadata step: read plan.json, images/, renders/; write metadata/, rarity.json,
provenance.json and cids.json. Everything here is offline and deterministic: running it
twice on the same build directory rewrites nothing."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from buildfiles.atomicio import dumps_json, write_bytes
from buildfiles.cids import CIDS_FILE, Cids, cids_json
from buildfiles.errors import UserError
from buildfiles.hashing import sha256_file
from buildfiles.ipfs import ipfs_uri
from buildfiles.lock import build_lock
from buildfiles.plan import Plan, load_plan
from buildfiles.records import rerender_hint
from buildfiles.provenance import PROVENANCE_FILE, provenance_json
from metadata.banner import BANNER_NAME, UnreadablePicture, banner_ids, compose_banner
from metadata.integrity import check_media
from metadata.provenance import image_sha256s, provenance_of_hashes
from metadata.rarity import rarity_document, string_traits
from metadata.token_json import RenderFacts, collection_metadata, token_attributes, token_metadata
from metadata.unixfs import DirResult, Tree, add_entries, add_tree, cid_str, raw_leaf_sha256


@dataclass(frozen=True)
class MetadataReport:
    tokens: int
    images_cid: str
    animations_cid: str | None
    metadata_cid: str
    base_uri: str
    contract_uri: str
    provenance_hash: str
    written: tuple[str, ...]     # build-relative files whose content changed this run
    unchanged: int               # files already up to date


@dataclass(frozen=True)
class MediaTrees:
    """The folders that get their own CID, as explicit name -> file maps (stray files never count)."""

    images: dict[str, Path]
    animations: dict[str, Path]


def media_trees(build_dir: Path, plan: Plan, *, banner: bool = True) -> MediaTrees:
    """`banner`: include images/banner.png when it exists (publish hashes what metadata published;
    the metadata step itself draws the banner anew, so it asks without)."""
    images: dict[str, Path] = {}
    missing = []
    for t in plan.tokens:
        p = build_dir / "images" / f"{t.id}.png"
        if not p.is_file():
            missing.append(f"images/{t.id}.png")
        images[f"{t.id}.png"] = p
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise UserError(
            f"{', '.join(missing[:3])}{more} not found in {build_dir}",
            hint=f"render first: `roboz-collection render {build_dir}` (or `build`)",
        )
    if plan.collection.image:
        src = build_dir / plan.collection.image
        if not src.is_file():
            raise UserError(f"collection image {plan.collection.image} not found in {build_dir}")
        images[f"collection{src.suffix.lower()}"] = src
    if banner and (build_dir / "images" / BANNER_NAME).is_file():
        images[BANNER_NAME] = build_dir / "images" / BANNER_NAME
    animations = {
        f"{t.id}.mp4": build_dir / "animations" / f"{t.id}.mp4"
        for t in plan.tokens
        if (build_dir / "animations" / f"{t.id}.mp4").is_file()
    }
    return MediaTrees(images, animations)


def hash_tree(tree: Tree, emit=None) -> DirResult:
    """add_tree, with an unreadable file reported as one line naming it."""
    try:
        return add_tree(tree, emit)
    except OSError as e:
        raise UserError(f"{e.filename or 'a file'} cannot be read ({e.strerror or e})",
                        hint="check the file's permissions, or re-render that token") from None


def check_collection_image(build_dir: Path, plan: Plan, images: DirResult, tree: dict[str, Path]) -> None:
    """The collection image was copied into inputs/ at plan time with its sha256 in plan.json."""
    rel = plan.collection.image
    name = next((n for n in tree if n.startswith("collection.")), None)
    want = plan.inputs.get(rel) if rel else None
    if name is None or want is None:
        return
    got = raw_leaf_sha256(images.files[name]) or sha256_file(tree[name])
    if got != want:
        raise UserError(f"{rel} differs from the file planned (plan.json inputs: sha256 {want[:12]}…)",
                        hint="run `roboz-collection plan MANIFEST` again to take the new collection image")


class _Writer:
    """Writes a file only when its bytes differ, so re-runs keep mtimes and say what changed."""

    def __init__(self, root: Path):
        self.root, self.written, self.unchanged = root, [], 0

    def json(self, rel: str, obj: Any) -> bytes:
        return self.bytes(rel, dumps_json(obj).encode("utf-8"))

    def bytes(self, rel: str, data: bytes) -> bytes:
        path = self.root / rel
        try:
            same = path.read_bytes() == data
        except FileNotFoundError:
            same = False
        if same:
            self.unchanged += 1
        else:
            write_bytes(path, data)
            self.written.append(rel)
        return data


def write_metadata(build_dir: Path, *, accept_edited: Iterable[int] | str = (),
                   log: Callable[[str], None] = print) -> "MetadataReport":
    """`accept_edited`: token ids (or "all") whose image may differ from its render record; see metadata.integrity."""
    build_dir = Path(build_dir)
    with build_lock(build_dir, "metadata"):
        return _write_metadata(build_dir, accept_edited, log)


def _write_metadata(build_dir: Path, accept_edited, log) -> "MetadataReport":
    plan = load_plan(build_dir)
    media = media_trees(build_dir, plan, banner=False)
    images = hash_tree(media.images)
    animations = hash_tree(media.animations) if media.animations else None
    # Before anything is written: every image must be the one its render record describes.
    hashes = image_sha256s(plan, images.files, media.images)
    anim_paths = {t.id: media.animations[f"{t.id}.mp4"] for t in plan.tokens if f"{t.id}.mp4" in media.animations}
    checked = check_media(build_dir, plan, hashes, animations=anim_paths, accept=accept_edited, log=log)
    check_collection_image(build_dir, plan, images, media.images)

    out = _Writer(build_dir)
    # Attributes and rarity do not depend on any CID; the banner depends on rarity and is part of
    # the images folder, whose CID every token's metadata names. So: rarity, banner, then CIDs.
    facts = {t.id: RenderFacts.from_record(checked.records[t.id]) for t in plan.tokens}
    traits = {t.id: string_traits(token_attributes(t, facts[t.id])) for t in plan.tokens}
    rarity = rarity_document(traits)
    banner = out.bytes(f"images/{BANNER_NAME}", _banner(build_dir, plan, rarity))
    images = add_entries(images, {BANNER_NAME: banner})
    images_cid = cid_str(images.root.cid)
    animations_cid = cid_str(animations.root.cid) if animations else None

    metadata_tree: dict[str, bytes] = {}
    for t in plan.tokens:
        anim = animations_cid if f"{t.id}.mp4" in media.animations else None
        md = token_metadata(t, plan.collection, facts[t.id], images_cid, anim)
        metadata_tree[f"{t.id}.json"] = out.json(f"metadata/{t.id}.json", md)

    cover = next((n for n in media.images if n.startswith("collection.")), f"{plan.tokens[0].id}.png")
    metadata_tree["collection.json"] = out.json(
        "metadata/collection.json",
        collection_metadata(plan.collection, ipfs_uri(images_cid, cover), ipfs_uri(images_cid, BANNER_NAME)),
    )
    _remove_stale_token_files(build_dir / "metadata", set(metadata_tree), out)

    meta = add_tree(metadata_tree)
    metadata_cid = cid_str(meta.root.cid)

    out.json("rarity.json", rarity)
    prov = provenance_of_hashes(hashes)
    out.bytes(PROVENANCE_FILE, provenance_json(prov))
    files = {f"images/{k}": v for k, v in images.files.items()}
    files.update({f"metadata/{k}": v for k, v in meta.files.items()})
    if animations:
        files.update({f"animations/{k}": v for k, v in animations.files.items()})
    cids = Cids(images_cid=images_cid, metadata_cid=metadata_cid, animations_cid=animations_cid, files=files)
    out.bytes(CIDS_FILE, cids_json(cids))
    return MetadataReport(
        tokens=len(plan.tokens),
        images_cid=images_cid,
        animations_cid=animations_cid,
        metadata_cid=metadata_cid,
        base_uri=cids.base_uri,
        contract_uri=cids.contract_uri,
        provenance_hash=prov.provenance_hash,
        written=tuple(out.written),
        unchanged=out.unchanged,
    )


def _banner(build_dir: Path, plan: Plan, rarity: dict[str, Any]) -> bytes:
    """The strip metadata/banner.py draws, from the ranks this run computed (the preview draws the
    same from rarity.json)."""
    ranks = {int(r["id"]): int(r["rank"]) for r in rarity["tokens"]}
    ids = banner_ids((t.id, t.special, ranks.get(t.id)) for t in plan.tokens)
    try:
        return compose_banner([build_dir / "images" / f"{i}.png" for i in ids])
    except UnreadablePicture as e:
        raise UserError(f"{e.path} cannot be read for the banner ({e.reason})",
                        hint=rerender_hint(int(e.path.stem)) if e.path.stem.isdigit() else None) from None


def _remove_stale_token_files(folder: Path, keep: set[str], out: _Writer) -> None:
    # A smaller re-plan must not leave {id}.json files that `ipfs-car pack metadata/` would pick up.
    for p in folder.glob("*.json"):
        if p.name not in keep and p.stem.isdigit():
            p.unlink()
            out.written.append(f"metadata/{p.name} (removed)")
