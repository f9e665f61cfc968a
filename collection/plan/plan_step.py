"""The plan step's side effects: copy inputs into the build directory and write plan.json.

Everything random lives in `collection.plan.planner` (pure); this module only touches files.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from buildfiles.atomicio import write_chunks
from buildfiles.errors import UserError
from buildfiles.hashing import sha256_file
from buildfiles.plan import PLAN_FILE, CollectionInfo, Plan, PlannedToken, Royalties, collection_to_dict, iter_plan_json, load_plan
from collection.plan.inputs import BUNDLED_JAX, project_file
from collection.plan.manifest import Manifest, split_image_prompt
from collection.plan.planner import Previous, count_combinations, plan_tokens, token_identity
from collection.plan.plantypes import expectations
from buildfiles.state import DONE, RenderState
from generator.settings import BUNDLED_INIT
from generator.weights import pin_models

BUNDLED_INPUT = "inputs/bundled/jax.png"


@dataclass
class PlanSummary:
    build_dir: Path
    tokens: int = 0
    specials: int = 0
    combinations: int = 0
    allowed: int = 0
    counts: dict[str, Counter] = field(default_factory=dict)
    expected: dict[str, list[tuple[str, float]]] = field(default_factory=dict)  # plan.json's `expected`
    changed: bool = True
    replanned: bool = False          # a plan.json was there before
    kept: int = 0                    # same id, same picture (a new name or trait label aside)
    replaced: list[int] = field(default_factory=list)   # ids whose token changed
    added: list[int] = field(default_factory=list)      # ids new to the plan
    removed: list[int] = field(default_factory=list)    # ids the plan no longer has
    rendered_kept: int = 0
    rendered_lost: list[int] = field(default_factory=list)  # rendered ids whose picture must change or go
    state_note: str | None = None    # why the render state could not be read, if it could not


def default_build_dir(manifest_path: Path, *, draft: bool = False) -> Path:
    return manifest_path.resolve().parent / ("build-draft" if draft else "build")


def make_plan(m: Manifest, build_dir: Path, *, force: bool = False) -> PlanSummary:
    """Write plan.json. Re-planning keeps what it can (see collection.plan.planner) and refuses,
    unless `force`, to change or drop a token that was already rendered."""
    build_dir = Path(build_dir)
    target = build_dir / PLAN_FILE
    old, rendered, note = _previous(build_dir)
    inputs = _copy_inputs(m, build_dir)
    total, allowed = count_combinations(m.categories, m.exclusions)
    summary = PlanSummary(build_dir=build_dir, combinations=total, allowed=allowed, state_note=note)
    summary.counts = {c.name: Counter() for c in m.categories}
    summary.replanned = target.exists()
    render = _rewrite_render(m.render.to_dict(), inputs, m.root, build_dir)
    old_by_id = {t.id: t for t in old.tokens} if old else {}
    old_render = old.render if old else {}
    seen_ids: set[int] = set()

    same_defaults = old_render == render

    def same_picture(before: PlannedToken, t: PlannedToken) -> bool:
        # What the image depends on: prompt, seed, settings. A new name or trait label keeps the picture.
        if (before.prompt, before.seed) != (t.prompt, t.seed):
            return False
        return before.render == t.render if same_defaults else {**old_render, **before.render} == {**render, **t.render}

    def counted(tokens: Iterator[PlannedToken]) -> Iterator[PlannedToken]:
        for t in tokens:
            summary.tokens += 1
            if t.special:
                summary.specials += 1
            else:
                for cat, v in t.traits.items():
                    summary.counts[cat][v] += 1
            if summary.replanned:
                seen_ids.add(t.id)
                before = old_by_id.get(t.id)
                if before is None:
                    summary.added.append(t.id)
                elif before.special == t.special and before.traits == t.traits and same_picture(before, t):
                    summary.kept += 1
                    summary.rendered_kept += t.id in rendered
                else:
                    summary.replaced.append(t.id)
                    if t.id in rendered:
                        summary.rendered_lost.append(t.id)
            yield t

    generated = m.generated if m.generated is not None else allowed  # `supply: all`: each allowed combination once
    if generated and m.categories:
        summary.expected = {e.category.name: e.shares() for e in expectations(m.categories, m.specials, generated)}
    header = {
        "manifest_sha256": m.sha256,
        "collection": collection_to_dict(_collection_info(m, inputs, allowed)),
        "categories": [c.name for c in m.categories],
        "render": render,
        "inputs": {rel: sha for rel, sha in sorted(inputs.values())},
    }
    if summary.expected:  # read by the plan table, the gallery's trait chart (preview/traits.py)
        header["expected"] = summary.expected
    if m.sale is not None:  # only then: plans of manifests without a sale stay byte-identical
        header["sale"] = m.sale.to_dict()
    previous = Previous({token_identity(t): t for t in old.tokens}, frozenset(rendered)) if old else None
    tokens = (_rewrite_token(t, inputs, m.root, build_dir) for t in plan_tokens(m, previous))
    new = build_dir / f".{PLAN_FILE}.new"
    write_chunks(new, iter_plan_json(header, counted(tokens)))
    if summary.replanned:
        summary.removed = sorted(set(old_by_id) - seen_ids)
        summary.rendered_lost += [i for i in summary.removed if i in rendered]
        if old is None:  # unreadable old plan: nothing rendered can be matched to the new one
            summary.rendered_lost = sorted(rendered)
        summary.rendered_lost.sort()
    if target.exists() and target.read_bytes() == new.read_bytes():
        new.unlink()
        summary.changed = False
        return summary
    if summary.rendered_lost and not force:
        new.unlink()
        ids = ", ".join(map(str, summary.rendered_lost[:12])) + (" …" if len(summary.rendered_lost) > 12 else "")
        raise UserError(
            f"the manifest now plans a different collection: {len(summary.rendered_lost)} token(s) in {build_dir} were "
            f"rendered from the old plan.json and would be replaced (ids {ids}); the other changes keep every rendered token",
            hint="plan into a new folder with `--out DIR`, or pass `--force` to replace plan.json (stale images are re-rendered)",
            exit_code=2,
        )
    new.replace(target)
    return summary


def _previous(build_dir: Path) -> tuple[Plan | None, set[int], str | None]:
    """The plan being replaced (None if absent or unreadable), the rendered ids, and a note if the
    render state could not be read. Rendered = images/{id}.png exists or the state says done."""
    rendered: set[int] = set()
    images = build_dir / "images"
    if images.is_dir():
        rendered |= {int(p.stem) for p in images.glob("*.png") if p.stem.isdigit()}
    note = None
    state_file = build_dir / "state.sqlite"
    if state_file.is_file():
        try:
            with RenderState(state_file) as st:
                rendered |= {row.id for row in st.all() if row.status == DONE}
        except sqlite3.Error as e:
            note = f"{state_file} could not be read ({e}); counted rendered tokens from images/ only"
    old: Plan | None = None
    if (build_dir / PLAN_FILE).exists():
        try:
            old = load_plan(build_dir)
        except (UserError, KeyError, TypeError, ValueError, AttributeError):
            old = None
    return old, rendered, note


def _copy_inputs(m: Manifest, build_dir: Path) -> dict[str, tuple[str, str]]:
    """Copy every input file into build/inputs/, so the build directory is self-contained.

    Returns manifest-relative name -> (build-relative path, sha256).
    """
    wanted: dict[str, Path] = {}
    if m.render.init_image == BUNDLED_INIT or any(sp.render.get("init_image") == BUNDLED_INIT for sp in m.specials):
        wanted[BUNDLED_INIT] = BUNDLED_JAX
    for _at, rel in m.input_paths():
        wanted[rel] = project_file(m.root, rel)
    out: dict[str, tuple[str, str]] = {}
    for rel, src in wanted.items():
        dest_rel = BUNDLED_INPUT if rel == BUNDLED_INIT else "inputs/" + src.relative_to(m.root).as_posix()
        dest = build_dir / dest_rel
        sha = sha256_file(src)
        if not dest.exists() or sha256_file(dest) != sha:
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.tmp")
            shutil.copyfile(src, tmp)
            tmp.replace(dest)
        out[rel] = (dest_rel, sha)
    return out


def _rewrite_render(render: dict[str, Any], inputs: dict[str, tuple[str, str]], root: Path, build_dir: Path) -> dict[str, Any]:
    r = dict(render)
    if isinstance(r.get("models"), dict):  # own model files: their sha256 pinned here, checked on every load
        r["models"] = _portable_models(pin_models(r["models"]), root, build_dir)
    if isinstance(r.get("init_image"), str):
        r["init_image"] = inputs[r["init_image"]][0]
    if r.get("image_prompts"):
        prompts = []
        for ip in r["image_prompts"]:
            path, tail = split_image_prompt(str(ip))
            prompts.append(inputs[path][0] + tail)
        r["image_prompts"] = prompts
    return r


def _rewrite_token(t: PlannedToken, inputs: dict[str, tuple[str, str]], root: Path, build_dir: Path) -> PlannedToken:
    if not t.render:
        return t
    return PlannedToken(t.id, t.name, t.special, t.traits, t.prompt, t.seed, _rewrite_render(t.render, inputs, root, build_dir))


def _portable_models(spec: Any, root: Path, build_dir: Path) -> Any:
    """Own model files inside the project (the manifest's folder) as paths relative to the build
    directory, like every other path in plan.json: a project moved, or rendered on another
    machine, finds them again, and the sha256 pinned beside each keeps them honest. Files outside
    the project (a shared weights folder, a mounted drive) keep their absolute path."""
    if not isinstance(spec, dict):
        return spec
    project, build = Path(root).resolve(), Path(build_dir).resolve()

    def rel(path: str) -> str:
        p = Path(path)
        return Path(os.path.relpath(p, build)).as_posix() if p.is_relative_to(project) else path

    out = dict(spec)
    if isinstance(out.get("vqgan"), dict):
        out["vqgan"] = {**out["vqgan"], "config": rel(out["vqgan"]["config"]), "checkpoint": rel(out["vqgan"]["checkpoint"])}
    if isinstance(out.get("clip"), dict):
        out["clip"] = {**out["clip"], "file": rel(out["clip"]["file"])}
    return out


def _collection_info(m: Manifest, inputs: dict[str, tuple[str, str]], allowed: int) -> CollectionInfo:
    c = m.collection
    total = m.supply if m.supply is not None else allowed + len(m.specials)
    return CollectionInfo(
        name=c.name,
        symbol=c.symbol,
        description=c.description,
        external_url=c.external_url,
        image=inputs[c.image][0] if c.image else None,
        name_template=c.token_name.replace("{collection}", c.name),
        seed=c.seed,
        start_id=c.start_id,
        supply=total,
        shuffle=c.shuffle,
        royalties=Royalties(c.royalties.receiver, c.royalties.bps) if c.royalties else None,
        artist=c.artist,
    )
