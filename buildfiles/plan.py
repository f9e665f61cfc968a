"""plan.json: the frozen expansion of a manifest, read by every later step.

This module is the boundary contract. It holds only typed data and the reader /
writer; it imports nothing heavy so `generator`, `metadata` and `contracts` can use
it. Paths inside a plan are relative to the build directory, which makes a build
directory self-contained (the plan step copies the init image into `inputs/`).

Layout (keys sorted on disk):

    {
      "format": "roboz-plan/1",
      "manifest_sha256": "<sha256 of the manifest bytes>",
      "collection": {name, symbol, description, external_url, image, name_template,
                     seed, start_id, supply, shuffle, royalties: {receiver, bps}},
      "categories": ["colour", "object", ...],          # trait categories in manifest order
      "expected": {category: [[value, share], ...]},    # expected share of the tokens drawn from traits
                                                        # (collection.plan.plantypes.Expectation); absent in
                                                        # plans written before it was kept
      "render": {<RenderSettings.to_dict()>},          # defaults for every token
      "inputs": {"inputs/jax.png": "<sha256>", ...},    # files copied into the build dir
      "tokens": [{id, name, special, traits: {category: value}, prompt, seed, render: {overrides}}],
      "sale": {payout, reserve, reveal, phases: [...]}   # only when the manifest has `sale:`
    }
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring as _enc  # the C string encoder json.dumps uses (ensure_ascii=False)
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from buildfiles.errors import UserError

PLAN_FORMAT = "roboz-plan/1"
PLAN_FILE = "plan.json"


@dataclass(frozen=True)
class Royalties:
    receiver: str
    bps: int


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    symbol: str
    description: str
    external_url: str | None
    image: str | None            # build-relative path of the collection image, if the manifest gave one
    name_template: str           # e.g. "Rusty Roboz #{id}"
    seed: int
    start_id: int
    supply: int                  # number of tokens actually planned, specials included
    shuffle: bool
    royalties: Royalties | None
    artist: str | None = None    # who made it, for the gallery's cover (optional in the manifest)


@dataclass(frozen=True)
class PlannedToken:
    id: int
    name: str
    special: str | None          # the special's name for a 1/1, else None
    traits: dict[str, str]       # category -> display value, in manifest category order
    prompt: str                  # full "text:weight:stop | ..." prompt
    seed: int                    # 32-bit, derived by hashing (not Python's random state)
    render: dict[str, Any] = field(default_factory=dict)  # overrides of Plan.render for this token


@dataclass(frozen=True)
class Plan:
    manifest_sha256: str
    collection: CollectionInfo
    render: dict[str, Any]
    inputs: dict[str, str]
    tokens: tuple[PlannedToken, ...]
    category_order: tuple[str, ...] = ()
    sale: dict[str, Any] | None = None   # the manifest's `sale:` (collection.plan.sale.SaleSpec.to_dict())
    # category -> ((value, expected share of the tokens drawn from traits), ...) in manifest order;
    # None: a plan written before plans kept it
    expected: dict[str, tuple[tuple[str, float], ...]] | None = None

    @property
    def categories(self) -> list[str]:
        """Trait categories in manifest order, then any that only specials use."""
        seen: dict[str, None] = dict.fromkeys(self.category_order)
        for t in self.tokens:
            for c in t.traits:
                seen.setdefault(c, None)
        return list(seen)


class PlanError(UserError):
    """plan.json is missing, unreadable or of another format: a step cannot start."""

    exit_code = 2


def plan_path(build_dir: Path | str) -> Path:
    return Path(build_dir) / PLAN_FILE


def _not_json(name: str) -> None:
    # json.loads accepts NaN/Infinity by default; plan.json is written without them (allow_nan=False).
    raise ValueError(f"{name} is not JSON")


REPLAN = "make it again: `roboz-collection plan MANIFEST --out BUILD_DIR` (the same manifest gives the same plan)"


def load_plan(build_dir: Path | str) -> Plan:
    path = plan_path(build_dir)
    if not path.exists():
        raise PlanError(f"{path} not found", hint="run `roboz-collection plan MANIFEST` (or `build`) first")
    try:
        raw = json.loads(path.read_text("utf-8"), parse_constant=_not_json)
    except IsADirectoryError:  # the same damage as a garbled file, with the same way back
        raise PlanError(f"{path} is a folder where the plan file should be", hint=REPLAN) from None
    except ValueError as e:   # JSONDecodeError is one; _not_json raises the other; UnicodeDecodeError a third
        raise PlanError(f"{path} is not valid JSON ({e}); re-run `roboz-collection plan`") from None
    except OSError as e:
        raise PlanError(f"{path} cannot be read ({e.strerror or e})", hint="check its permissions") from None
    if not isinstance(raw, dict):
        raise PlanError(f"{path} holds a JSON {type(raw).__name__}, not a plan", hint=REPLAN)
    if raw.get("format") != PLAN_FORMAT:
        raise PlanError(f"{path}: unknown plan format {raw.get('format')!r}, expected {PLAN_FORMAT!r}")
    try:
        plan = plan_from_dict(raw)
    except (KeyError, TypeError, ValueError, AttributeError) as e:  # a hand edit or a cut file: the file's fault
        raise PlanError(f"{path} is malformed ({type(e).__name__}: {e})", hint=REPLAN) from None
    bad = control_text(plan)
    if bad:  # what the manifest refuses cannot come in through a hand-edited plan either
        raise PlanError(f"{path}: {bad[0]} contains a control or bidirectional character ({bad[1]!r})", hint=REPLAN)
    return plan


def control_text(plan: Plan) -> tuple[str, str] | None:
    """(field, text) of the first text bound for metadata that holds a control or bidirectional
    character (buildfiles.text), or None. Only a description may break lines."""
    from buildfiles.text import BAD_MULTILINE_RE, BAD_RE

    c = plan.collection
    fields = [("collection.name", c.name), ("collection.symbol", c.symbol), ("collection.name_template", c.name_template),
              ("collection.artist", c.artist or "")]
    for name, text in fields:
        if BAD_RE.search(text):
            return name, text
    if BAD_MULTILINE_RE.search(c.description.strip("\r\n")):
        return "collection.description", c.description
    for t in plan.tokens:
        for name, text in (("name", t.name), ("prompt", t.prompt), ("special", t.special or ""),
                           *((f"traits.{k}", f"{k}{v}") for k, v in t.traits.items())):
            if BAD_RE.search(text):
                return f"token {t.id} {name}", text
    return None


def plan_from_dict(raw: dict[str, Any]) -> Plan:
    c = raw["collection"]
    roy = c.get("royalties")
    info = CollectionInfo(
        name=c["name"],
        symbol=c["symbol"],
        description=c.get("description", ""),
        external_url=c.get("external_url"),
        image=c.get("image"),
        name_template=c["name_template"],
        seed=c["seed"],
        start_id=c["start_id"],
        supply=c["supply"],
        shuffle=c["shuffle"],
        royalties=Royalties(roy["receiver"], roy["bps"]) if roy else None,
        artist=c.get("artist"),
    )
    order = list(raw.get("categories") or ())
    rank = {c: i for i, c in enumerate(order)}

    def ordered(traits: dict[str, str]) -> dict[str, str]:
        # plan.json sorts keys; give callers the manifest's order back.
        return dict(sorted(traits.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0])))

    tokens = tuple(
        PlannedToken(
            id=t["id"],
            name=t["name"],
            special=t.get("special"),
            traits=ordered(t["traits"]),
            prompt=t["prompt"],
            seed=t["seed"],
            render=dict(t.get("render") or {}),
        )
        for t in raw["tokens"]
    )
    return Plan(
        manifest_sha256=raw["manifest_sha256"],
        collection=info,
        render=dict(raw["render"]),
        inputs=dict(raw.get("inputs") or {}),
        tokens=tokens,
        category_order=tuple(order),
        sale=raw.get("sale"),
        expected=_expected(raw.get("expected")),
    )


def _expected(raw: Any) -> dict[str, tuple[tuple[str, float], ...]] | None:
    if raw is None:
        return None
    try:
        return {str(c): tuple((str(v), float(share)) for v, share in pairs) for c, pairs in raw.items()}
    except (AttributeError, TypeError, ValueError):
        raise PlanError("plan.json: `expected` is not {category: [[value, share], ...]}; re-run `roboz-collection plan`") from None


def token_to_dict(t: PlannedToken) -> dict[str, Any]:
    return asdict(t)


def collection_to_dict(c: CollectionInfo) -> dict[str, Any]:
    d = asdict(c)  # royalties becomes {"receiver", "bps"} or stays None
    if d.get("artist") is None:
        d.pop("artist", None)  # plans of manifests without an artist stay byte-identical to older ones
    return d


def _strict_dumps(obj: Any, where: str) -> str:
    """json.dumps in dumps_json's style, strict as it is: NaN and Infinity are not JSON (a reader
    in another language fails on them), so they stop the write with the place that holds one."""
    try:
        return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except ValueError:
        raise PlanError(f"plan.json: {where} holds NaN or Infinity, which JSON cannot store",
                        hint="give a finite number in the manifest and run `roboz-collection plan` again") from None


def _indented_json(obj: Any, pad: str, where: str = "a value") -> str:
    return _strict_dumps(obj, where).replace("\n", "\n" + pad)


def token_json(t: PlannedToken, pad: str = "") -> str:
    """One token exactly as `json.dumps(token_to_dict(t), indent=2, sort_keys=True)` writes it,
    every line prefixed by `pad`, but without the pure-Python encoder `indent` falls back to:
    a million-token plan is written in seconds instead of minutes."""
    p2 = pad + "  "
    if t.traits:
        inner = ",\n".join(f"{p2}  {_enc(k)}: {_enc(v)}" for k, v in sorted(t.traits.items()))
        traits = "{\n" + inner + "\n" + p2 + "}"
    else:
        traits = "{}"
    render = _indented_json(t.render, p2, f"token {t.id}'s render settings") if t.render else "{}"
    special = "null" if t.special is None else _enc(t.special)
    return (
        f"{pad}{{\n"
        f'{p2}"id": {int(t.id)},\n'
        f'{p2}"name": {_enc(t.name)},\n'
        f'{p2}"prompt": {_enc(t.prompt)},\n'
        f'{p2}"render": {render},\n'
        f'{p2}"seed": {int(t.seed)},\n'
        f'{p2}"special": {special},\n'
        f'{p2}"traits": {traits}\n'
        f"{pad}}}"
    )


def iter_plan_json(header: dict[str, Any], tokens: Iterable[PlannedToken]) -> Iterator[str]:
    """Stream plan.json in chunks, so a 1,000,000-token plan never exists as one string.

    Output is byte-identical to `json.dumps(whole, indent=2, sort_keys=True)` + newline,
    the style of `buildfiles.atomicio.dumps_json`.
    """
    head = dict(header)
    head["format"] = PLAN_FORMAT
    head["tokens"] = "\0TOKENS\0"
    text = _strict_dumps(head, "the header (collection, render, inputs)")
    before, after = text.split('"\\u0000TOKENS\\u0000"')
    yield before
    first = True
    wrote_any = False
    for t in tokens:
        yield ("[\n" if first else ",\n") + token_json(t, "    ")
        first = False
        wrote_any = True
    yield "\n  ]" if wrote_any else "[]"
    yield after + "\n"
