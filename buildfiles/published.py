"""publish.json: the receipt of what was published where, read by `publish` (to skip and explain)
and `mint` (which base URI to set, and whether a real provider pins it).

    {"format": "roboz-publish/1",
     <the latest publish, flat>: provider, endpoint, pins, images_cid, animations_cid, metadata_cid,
                                 base_uri, contract_uri, cars, files, uploaded, uploaded_at,
     "targets": [{provider, endpoint, pins, images_cid, animations_cid, metadata_cid, uploaded_at}, ...],
     "extra_roots": {"placeholder": CID, "mint": CID}}   # only when published: folders beside the collection

`targets` keeps one summary per provider + endpoint ever published to, so `publish --to car` after
`--to kubo` does not hide that kubo pins the roots. `pins` is false for a provider that only writes
files (car). Endpoints are stored with credentials redacted (buildfiles.urls).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from buildfiles.atomicio import write_bytes, dumps_json
from buildfiles.ipfs import base_uri as make_base_uri, contract_uri as make_contract_uri
from buildfiles.jsonfile import Fields, read_fields
from buildfiles.urls import redact_url

PUBLISH_FILE = "publish.json"
PUBLISH_FORMAT = "roboz-publish/1"
RECOVER = ("move the damaged publish.json aside and run `roboz-collection publish {build} --to ...` again: "
           "roots the provider already holds are not uploaded twice")
# publish.json files written before `pins` existed: these providers pin, the others only wrote files.
_LEGACY_PINNING = ("kubo", "pinata")


@dataclass(frozen=True)
class Target:
    """One provider + endpoint and the roots last published there."""

    provider: str
    endpoint: str
    pins: bool
    images_cid: str | None
    animations_cid: str | None
    metadata_cid: str | None
    uploaded_at: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.provider, self.endpoint)

    @property
    def roots(self) -> tuple[str, ...]:
        return tuple(c for c in (self.images_cid, self.animations_cid, self.metadata_cid) if c)


@dataclass(frozen=True)
class PublishRecord:
    """The latest publish in full, plus every target's summary."""

    target: Target
    base_uri: str
    contract_uri: str
    files: dict[str, str] = field(default_factory=dict)
    cars: dict[str, str] | None = None
    uploaded: tuple[str, ...] = ()
    others: tuple[Target, ...] = ()          # earlier targets (not this one)
    extras: dict[str, str] = field(default_factory=dict)   # placeholder/, mint/ -> root CID (the drop's folders)

    @classmethod
    def of(cls, *, provider: str, endpoint: str, pins: bool, roots: dict[str, str], files: dict[str, str],
           cars: dict[str, str] | None, uploaded: tuple[str, ...] = (), uploaded_at: str | None = None,
           previous: "PublishRecord | None" = None, extras: dict[str, str] | None = None) -> "PublishRecord":
        t = Target(provider, redact_url(endpoint), pins, roots["images"], roots.get("animations"),
                   roots["metadata"], uploaded_at)
        others = tuple(o for o in (previous.targets if previous else ()) if o.key != t.key)
        return cls(t, make_base_uri(roots["metadata"]), make_contract_uri(roots["metadata"]), dict(files),
                   dict(cars) if cars is not None else None, tuple(uploaded), others, dict(extras or {}))

    # the latest publish, flat, as callers used to read it
    provider = property(lambda self: self.target.provider)
    endpoint = property(lambda self: self.target.endpoint)
    pins = property(lambda self: self.target.pins)
    images_cid = property(lambda self: self.target.images_cid)
    animations_cid = property(lambda self: self.target.animations_cid)
    metadata_cid = property(lambda self: self.target.metadata_cid)
    uploaded_at = property(lambda self: self.target.uploaded_at)

    @property
    def targets(self) -> tuple[Target, ...]:
        return self.others + (self.target,)

    def for_target(self, provider: str, endpoint: str) -> Target | None:
        key = (provider, redact_url(endpoint))
        return next((t for t in self.targets if t.key == key), None)

    def pinned_by(self, cid: str) -> list[Target]:
        """Targets that pin `cid` (a provider that only wrote CAR files never counts)."""
        return [t for t in self.targets if t.pins and cid in t.roots]

    def same_as(self, other: "PublishRecord | None") -> bool:
        """Whether `other` records the same publish (when and what was uploaded aside)."""
        if other is None:
            return False
        strip = lambda r: replace(r, target=replace(r.target, uploaded_at=None), uploaded=())  # noqa: E731
        return strip(self) == strip(other)

    def stamped(self, uploaded_at: str) -> "PublishRecord":
        return replace(self, target=replace(self.target, uploaded_at=uploaded_at))


def publish_path(build_dir: Path | str) -> Path:
    return Path(build_dir) / PUBLISH_FILE


def _target_dict(t: Target) -> dict:
    return {"provider": t.provider, "endpoint": t.endpoint, "pins": t.pins, "images_cid": t.images_cid,
            "animations_cid": t.animations_cid, "metadata_cid": t.metadata_cid, "uploaded_at": t.uploaded_at}


def publish_json(r: PublishRecord) -> bytes:
    d = _target_dict(r.target)
    d.update({
        "format": PUBLISH_FORMAT,
        "base_uri": r.base_uri,
        "contract_uri": r.contract_uri,
        "files": r.files,
        "cars": r.cars,
        "uploaded": list(r.uploaded),
        "targets": [_target_dict(t) for t in r.targets],
    })
    if r.extras:  # only then: publish.json of a collection without a drop keeps its bytes
        d["extra_roots"] = dict(r.extras)
    return dumps_json(d).encode("utf-8")


def write_publish(build_dir: Path | str, r: PublishRecord) -> Path:
    return write_bytes(publish_path(build_dir), publish_json(r))


def _target(f: Fields) -> Target:
    provider = f.str("provider", default="unknown")
    legacy_pins = provider in _LEGACY_PINNING
    return Target(
        provider=provider,
        endpoint=redact_url(f.str("endpoint", default="")),
        pins=f.bool("pins", legacy_pins),
        images_cid=f.cid("images_cid", optional=True),
        animations_cid=f.cid("animations_cid", optional=True),
        metadata_cid=f.cid("metadata_cid", optional=True),
        uploaded_at=f.str("uploaded_at", optional=True),
    )


def _ipfs_uri_field(f: Fields, key: str, derived: str | None) -> str:
    v = f.raw.get(key, derived)
    if not isinstance(v, str) or not v.startswith("ipfs://") or any(c.isspace() for c in v):
        raise f.fail(key, "an ipfs:// URI")
    return v


def load_publish(build_dir: Path | str) -> PublishRecord | None:
    """publish.json, or None before the first publish; BuildFileError when it is damaged."""
    f = read_fields(publish_path(build_dir), fmt=PUBLISH_FORMAT, recover=RECOVER.format(build=Path(build_dir)))
    if f is None:
        return None
    latest = _target(f)
    others = []
    for i, t in enumerate(f.list("targets")):
        if not isinstance(t, dict):
            raise f.fail("targets", f"a list of objects (entry {i} is not)")
        tt = _target(Fields(t, f.path, f.recover))
        if tt.key != latest.key:
            others.append(tt)
    mcid = latest.metadata_cid
    return PublishRecord(
        target=latest,
        base_uri=_ipfs_uri_field(f, "base_uri", make_base_uri(mcid) if mcid else None),
        contract_uri=_ipfs_uri_field(f, "contract_uri", make_contract_uri(mcid) if mcid else None),
        files=f.str_map("files"),
        cars=f.str_map("cars", optional=True),
        uploaded=f.str_list("uploaded"),
        others=tuple(others),
        extras=f.str_map("extra_roots"),
    )

