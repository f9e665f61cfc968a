"""What the preview shows, gathered from a build directory into typed, read-only data.

Everything later (contact sheets, gallery, rarity report) is a pure function of a
`BuildView`, so this is the only module that touches plan.json, images/, snapshots/,
animations/, metadata/, renders/, rarity.json, cids.json, publish.json and mint.json.
Paths in a view are build-relative strings (forward slashes), the form the gallery
needs for `file://` links.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildfiles.errors import UserError
from buildfiles.plan import load_plan
from buildfiles.records import read_record
from buildfiles.rerolls import effective_plan
from preview.chain_status import ChainStatus, load_chain_status
from preview.traits import TraitShares, trait_shares

RARITY_FILE = "rarity.json"
_SNAPSHOT_NAME = re.compile(r"^(\d+)\.png$")
# What renders/{id}.json (or the metadata's attributes) say made a picture that is not the artwork.
TEST_LABEL, DEMO_LABEL = "test", "demo"


@dataclass(frozen=True)
class Candidate:
    """One of the K seeds a best-of-K render tried (renders/{id}.json "candidates")."""

    seed: int
    score: float | None
    stop_iteration: int | None
    image: str | None             # build-relative, when the renderer kept the candidate's picture
    chosen: bool


@dataclass(frozen=True)
class RenderInfo:
    """The parts of renders/{id}.json the preview shows."""

    label: str | None             # TEST_LABEL / DEMO_LABEL for test or demo models, else None
    seed: int                     # the seed the final image was painted with
    iterations: int | None
    models: str | None
    score: float | None           # the judge's score of the chosen picture, when candidates were scored
    candidates: tuple[Candidate, ...] = ()
    judge: str | None = None      # which CLIP scored the candidates


@dataclass(frozen=True)
class Snapshot:
    iteration: int
    path: str  # build-relative, e.g. "snapshots/1/0500.png"


@dataclass(frozen=True)
class TokenView:
    id: int
    name: str
    special: str | None
    traits: dict[str, str]
    prompt: str
    seed: int
    image: str | None                  # None: not rendered yet (the preview shows a placeholder)
    snapshots: tuple[Snapshot, ...]     # sorted by iteration
    animation: str | None
    attributes: tuple[dict[str, Any], ...]  # metadata/{id}.json "attributes", else built from traits
    rank: int | None                   # from rarity.json; 1 = rarest
    score: float | None
    render: RenderInfo | None = None   # renders/{id}.json; None before the token is rendered

    @property
    def label(self) -> str | None:
        return self.render.label if self.render else _label_from_attributes(self.attributes)

    def final_is_last_snapshot(self) -> bool:
        """True when the last snapshot was taken at the final iteration: it *is* the final image."""
        if not self.snapshots or not self.render or self.render.iterations is None:
            return False
        return self.snapshots[-1].iteration >= self.render.iterations


@dataclass(frozen=True)
class Rarity:
    method: str
    trait_counts: dict[str, dict[str, int]]


@dataclass(frozen=True)
class BuildView:
    build_dir: Path
    collection_name: str
    description: str
    categories: tuple[str, ...]
    tokens: tuple[TokenView, ...]
    rarity: Rarity | None              # None: rarity.json absent (metadata step not run)
    trait_counts: dict[str, dict[str, int]]  # rarity.json's when present, else counted from the plan
    artist: str | None = None
    collection_image: str | None = None  # build-relative (the manifest's collection.image), if any
    shares: TraitShares | None = None    # planned vs expected share per trait value
    chain: ChainStatus | None = None     # cids.json / publish.json / mint.json, as far as they exist

    @property
    def labels(self) -> set[str]:
        """Render labels (test, demo) of the tokens shown: the cover and sheets warn about each."""
        return {t.label for t in self.tokens if t.label and t.image}

    def token(self, token_id: int) -> TokenView:
        for t in self.tokens:
            if t.id == token_id:
                return t
        raise KeyError(token_id)


def load_build_view(build_dir: Path | str) -> BuildView:
    build_dir = Path(build_dir)
    plan = effective_plan(build_dir, load_plan(build_dir))  # re-rolled seeds laid over the plan

    images = _names(build_dir / "images")
    animations = _names(build_dir / "animations")
    snapshots = _snapshots(build_dir / "snapshots")
    rarity, ranks = _load_rarity(build_dir / RARITY_FILE)
    records = _names(build_dir / "renders")

    tokens = []
    for t in plan.tokens:
        rank, score = ranks.get(t.id, (None, None))
        info = _render_info(build_dir, t.id) if f"{t.id}.json" in records else None
        tokens.append(
            TokenView(
                id=t.id,
                name=t.name,
                special=t.special,
                traits=dict(t.traits),
                prompt=t.prompt,
                seed=info.seed if info else t.seed,  # the seed that painted it (best-of-K's chosen one)
                image=f"images/{t.id}.png" if f"{t.id}.png" in images else None,
                snapshots=snapshots.get(t.id, ()),
                animation=f"animations/{t.id}.mp4" if f"{t.id}.mp4" in animations else None,
                attributes=_attributes(build_dir / "metadata" / f"{t.id}.json", t.traits),
                rank=rank,
                score=score,
                render=info,
            )
        )
    categories = tuple(plan.categories)
    image = plan.collection.image
    return BuildView(
        build_dir=build_dir,
        collection_name=plan.collection.name,
        description=plan.collection.description,
        categories=categories,
        tokens=tuple(tokens),
        rarity=rarity,
        trait_counts=rarity.trait_counts if rarity else count_traits(tokens, categories),
        artist=plan.collection.artist,
        collection_image=image if image and (build_dir / image).is_file() else None,
        shares=trait_shares(plan),
        chain=load_chain_status(build_dir),
    )


def count_traits(tokens, categories) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter] = {c: Counter() for c in categories}
    for t in tokens:
        for c, v in t.traits.items():
            counts.setdefault(c, Counter())[v] += 1
    return {c: dict(n) for c, n in counts.items()}


def _names(folder: Path) -> set[str]:
    # One directory scan instead of 10,000 stat() calls.
    try:
        with os.scandir(folder) as it:
            return {e.name for e in it if e.is_file()}
    except FileNotFoundError:
        return set()


def _snapshots(folder: Path) -> dict[int, tuple[Snapshot, ...]]:
    out: dict[int, tuple[Snapshot, ...]] = {}
    try:
        dirs = [e for e in os.scandir(folder) if e.is_dir() and e.name.isdigit()]
    except FileNotFoundError:
        return out
    for d in dirs:
        snaps = []
        for name in _names(Path(d.path)):
            m = _SNAPSHOT_NAME.match(name)
            if m:
                snaps.append(Snapshot(int(m[1]), f"snapshots/{d.name}/{name}"))
        if snaps:
            out[int(d.name)] = tuple(sorted(snaps, key=lambda s: s.iteration))
    return out


def _attributes(path: Path, traits: dict[str, str]) -> tuple[dict[str, Any], ...]:
    # metadata/{id}.json is the truth once the metadata step ran (it may add
    # numeric attributes); before that the plan's traits are all there is.
    try:
        attrs = json.loads(path.read_text("utf-8")).get("attributes")
        if isinstance(attrs, list) and all(isinstance(a, dict) for a in attrs):
            return tuple(attrs)
    except (FileNotFoundError, json.JSONDecodeError, AttributeError, UnicodeDecodeError):
        pass
    return tuple({"trait_type": c, "value": v} for c, v in traits.items())


def _load_rarity(path: Path) -> tuple[Rarity | None, dict[int, tuple[int, float]]]:
    if not path.exists():
        return None, {}
    hint = "re-run `roboz-collection metadata BUILD_DIR` to rewrite it"
    try:
        raw = json.loads(path.read_text("utf-8"))
        counts = {str(c): {str(v): int(n) for v, n in vals.items()} for c, vals in raw["trait_counts"].items()}
        ranks = {int(t["id"]): (int(t["rank"]), float(t["score"])) for t in raw["tokens"]}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise UserError(f"{path} is malformed ({type(e).__name__}: {e})", hint=hint) from None
    return Rarity(method=str(raw.get("method", "unknown")), trait_counts=counts), ranks


def _label_from_attributes(attrs) -> str | None:
    # Before renders/ existed the metadata carried the flag; keep reading it.
    for a in attrs:
        kind = str(a.get("trait_type", "")).casefold()
        if kind == "test render":
            return TEST_LABEL
        if kind == "demo render":
            return DEMO_LABEL
    return None


def render_label(record: dict[str, Any]) -> str | None:
    """Test (tiny random-weight) or demo (small trained) models: never to pass for the artwork."""
    models = record.get("models")
    names = set(models.split("+")) if isinstance(models, str) else set()
    if record.get("tiny") or "tiny" in names:
        return TEST_LABEL
    if record.get("demo") or any(n == "demo" or n.startswith("demo") for n in names):
        return DEMO_LABEL
    label = record.get("label")
    return label if label in (TEST_LABEL, DEMO_LABEL) else None


def _number(v: Any, kind=float):
    # bool is an int to Python; NaN/inf cannot go into the page's JSON.
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    v = kind(v)
    return v if v == v and v not in (float("inf"), float("-inf")) else None


def _render_info(build_dir: Path, token_id: int) -> RenderInfo:
    rec = read_record(build_dir, token_id)  # a garbled record is one line naming it
    raw = {**rec.extra, "tiny": rec.tiny, "models": rec.models, "seed": rec.seed, "iterations": rec.iterations}
    seed = rec.seed
    cands = []
    for c in raw.get("candidates") or ():
        if not isinstance(c, dict) or _number(c.get("seed"), int) is None:
            continue
        cseed = int(c["seed"])
        image = c.get("image") if isinstance(c.get("image"), str) else None
        if image is None and (build_dir / "candidates" / str(token_id) / f"{cseed}.png").is_file():
            image = f"candidates/{token_id}/{cseed}.png"
        if image is not None and (".." in image.split("/") or image.startswith("/")):
            image = None  # a record never points outside the build directory
        cands.append(Candidate(cseed, _number(c.get("score")), _number(c.get("stop_iteration"), int), image,
                               chosen=bool(c.get("chosen")) or cseed == seed))
    chosen = [c for c in cands if c.chosen]
    score = _number(raw.get("score"))
    if score is None and chosen:
        score = chosen[0].score
    models = raw.get("models")
    judge = raw.get("judge")
    return RenderInfo(
        label=render_label(raw),
        seed=seed,
        iterations=_number(raw.get("iterations"), int),
        models=models if isinstance(models, str) else None,
        score=score,
        candidates=tuple(cands),
        judge=judge if isinstance(judge, str) else None,
    )
