"""Every image `metadata` and `publish` use is the one the renderer wrote.

The render record (`renders/{id}.json`, buildfiles.records) holds the sha256 of the PNG as
written; an image edited, truncated or swapped since would otherwise be hashed into new CIDs and
a new provenance hash without anyone noticing. A mismatch stops the step, naming the file and the
two ways out: re-render the token, or keep the edit with `metadata --accept-edited ID`, which
records the acceptance in the render record (who, when, the hash before and after) so later
steps check against the accepted bytes. Records older than `image_sha256` cannot tell: those
images are fully decoded instead, so a truncated PNG is still caught.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from buildfiles.errors import UserError
from buildfiles.hashing import sha256_file
from buildfiles.plan import Plan
from buildfiles.records import ANIMATION_KEY, RenderRecord, read_record, write_record

ACCEPTED_KEY = "accepted_edits"       # list kept in the render record, one entry per acceptance


class IntegrityError(UserError):
    """An image no longer has the bytes its render record describes."""


@dataclass(frozen=True)
class Checked:
    records: dict[int, RenderRecord]
    accepted: tuple[int, ...]          # edits accepted (and recorded) this run
    decoded_only: tuple[int, ...]      # records without image_sha256: checked by decoding


def fix_hint(ids: Iterable[int], build_dir: Path) -> str:
    ids = sorted(ids)
    shown = ",".join(map(str, ids[:10]))
    first = ids[0]
    return (f"re-render: delete images/{first}.png (and the others named) and run `roboz-collection render {build_dir}`; "
            f"or keep the edited files: `roboz-collection metadata {build_dir} --accept-edited {shown}`")


def decodes(path: Path) -> str | None:
    """None when `path` is a whole, decodable image; else why not (PIL reads every byte)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
    except Exception as e:  # PIL raises many types for broken files; all mean "not a whole image"
        return f"{type(e).__name__}: {str(e)[:80]}"
    return None


def check_media(build_dir: Path, plan: Plan, image_sha256: dict[int, str], *,
                animations: dict[int, Path] | None = None, accept: Iterable[int] | str = (),
                command: str = "metadata", decode_unrecorded: bool = True,
                log: Callable[[str], None] = print) -> Checked:
    """Compare each token's image (sha256 given, already computed by the caller) with its render record.

    `accept`: token ids (or "all") whose differing image is kept; the acceptance is written into the
    record. `decode_unrecorded`: decode images whose record has no sha256 (publish relies on the
    cids.json comparison instead, which catches any change since `metadata` decoded them).
    Raises IntegrityError naming every mismatching or unreadable file."""
    build_dir = Path(build_dir)
    accept_all = accept == "all"
    accept_ids = set() if accept_all else {int(i) for i in accept}
    unknown = accept_ids - {t.id for t in plan.tokens}
    if unknown:
        raise UserError(f"--accept-edited names token(s) {sorted(unknown)} not in the plan", exit_code=2)
    records: dict[int, RenderRecord] = {}
    bad: list[tuple[int, str]] = []
    accepted: list[int] = []
    decoded_only: list[int] = []
    for t in plan.tokens:
        rec = read_record(build_dir, t.id)
        rel = f"images/{t.id}.png"
        got = image_sha256[t.id]
        if rec.image_sha256 is None:
            if decode_unrecorded:
                why = decodes(build_dir / rel)
                if why:
                    bad.append((t.id, f"{rel} is not a whole image ({why})"))
                decoded_only.append(t.id)
        elif got != rec.image_sha256:
            if accept_all or t.id in accept_ids:
                why = decodes(build_dir / rel)
                if why:  # accepting an edit never accepts a broken file
                    bad.append((t.id, f"{rel} cannot be accepted: not a whole image ({why})"))
                    continue
                rec = _accept(build_dir, rec, got, command)
                accepted.append(t.id)
            else:
                bad.append((t.id, f"{rel} differs from the image the renderer wrote (renders/{t.id}.json: "
                                  f"sha256 {rec.image_sha256[:12]}…, file {got[:12]}…)"))
        want_anim = rec.extra.get(ANIMATION_KEY)
        if animations and t.id in animations and isinstance(want_anim, str):
            try:
                anim_ok = sha256_file(animations[t.id]) == want_anim
            except OSError as e:
                bad.append((t.id, f"animations/{t.id}.mp4 cannot be read ({e.strerror})"))
            else:
                if not anim_ok:
                    bad.append((t.id, f"animations/{t.id}.mp4 differs from the video the renderer wrote"))
        records[t.id] = rec
    if bad:
        more = f"; and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise IntegrityError(f"{len(bad)} file(s) changed since they were rendered: "
                             + "; ".join(m for _, m in bad[:3]) + more,
                             hint=fix_hint({i for i, _ in bad}, build_dir))
    if accepted:
        log(f"accepted edited image(s) {', '.join(map(str, accepted))}: recorded in renders/<id>.json ({ACCEPTED_KEY})")
    if decoded_only:
        log(f"note: {len(decoded_only)} render record(s) predate image_sha256: those images were checked by decoding only")
    return Checked(records, tuple(accepted), tuple(decoded_only))


def _accept(build_dir: Path, rec: RenderRecord, new_sha256: str, command: str) -> RenderRecord:
    entry = {"at": datetime.now(timezone.utc).isoformat(timespec="seconds"), "by": f"{command} --accept-edited",
             "rendered_sha256": rec.image_sha256, "accepted_sha256": new_sha256}
    history = list(rec.extra.get(ACCEPTED_KEY) or []) + [entry]
    new = replace(rec, image_sha256=new_sha256, extra={**rec.extra, ACCEPTED_KEY: history})
    write_record(build_dir, new)
    return new
