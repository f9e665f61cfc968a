"""The manifest: schema, validation, and errors that name the field and the line.

`load_manifest(path)` returns a validated, normalised `Manifest` or raises
`ManifestError` carrying every problem at once, each as
"traits.colour.Red: weight must be > 0, got -1 (manifest.yaml:14)".
Pydantic checks the plain structured blocks (collection, render, specials); the
trait table, template and exclusions are checked by hand because their messages
matter more than their types.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import re
from dataclasses import dataclass, field, fields as dc_fields, replace
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, TypeAdapter, ValidationError

from buildfiles.errors import STRICT_TYPES, UserError, strict_type_message
from collection.plan.inputs import project_file
from collection.plan.sale import KNOWN_KEYS as SALE_KEYS, SaleSpec, validate_sale
from collection.plan.plantypes import (Category, Exclusion, ExclusionIndex, Radix, Special, TraitValue, count_combinations,
                                       count_targets, expectations)
from collection.plan.yamlpos import LoadedYaml, YamlSyntaxError, load_yaml_with_lines
from generator.prompts import parse_prompt, prompt_problem
from generator.autostop import AutoStop
from generator.settings import BUNDLED_INIT, RENDER_FIELDS, RenderSettings, VideoSettings, merge_render

__all__ = ["Category", "Exclusion", "Special", "TraitValue", "Manifest", "ManifestError", "load_manifest"]

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
ADDRESS = r"^0x[0-9a-fA-F]{40}$"

# Stated limits (README, "The manifest"): beyond them a build is a mistake, not a plan.
MAX_MANIFEST_BYTES = 1 << 20          # 1 MiB of YAML
MAX_SUPPLY = 1_000_000                # tokens in one collection, `supply: all` included
MAX_TOKEN_ID = 2**256 - 1             # ERC-721 token ids are uint256
MAX_INPUT_PIXELS = 4096 * 4096        # an input image is decoded whole at validate time
MAX_PROMPT_WEIGHT = 1000.0
# (field, low, high, low inclusive): RenderSettings bounds what it can; these add finiteness and a top.
NUMBER_RANGES = {"step_size": (0.0, 10.0, False), "cut_pow": (0.0, 10.0, False), "init_weight": (0.0, 1000.0, True)}


# ---------------------------------------------------------------- schema (pydantic)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class RoyaltiesSpec(_Strict):
    receiver: str = Field(pattern=ADDRESS)
    bps: Annotated[int, Strict()] = Field(ge=0, le=10_000)


class CollectionSpec(_Strict):
    name: str = Field(min_length=1)
    symbol: str = Field(min_length=1, max_length=16)
    description: str = ""
    artist: str | None = None        # shown on the gallery's cover
    external_url: str | None = None
    image: str | None = None
    token_name: str = "{collection} #{id}"
    seed: Annotated[int, Strict()] = 0
    supply: Any = "all"  # a positive integer or "all"; checked by hand for a clearer message
    start_id: Annotated[int, Strict()] = Field(default=1, ge=0)
    shuffle: Annotated[bool, Strict()] = False
    royalties: RoyaltiesSpec | None = None


class PromptSpec(_Strict):
    template: str = Field(min_length=1)


class SpecialSpec(_Strict):
    name: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    traits: dict[str, str] = {}
    render: dict[str, Any] = {}


class ManifestSpec(_Strict):
    collection: CollectionSpec
    render: dict[str, Any] = {}      # validated against RenderSettings separately (paths, overrides)
    prompt: PromptSpec
    traits: Any                      # checked by hand
    exclude: list[Any] = []
    specials: list[SpecialSpec] = []
    sale: Any = None                 # checked by collection/plan/sale.py


_KNOWN_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {
    (): tuple(ManifestSpec.model_fields),
    ("collection",): tuple(CollectionSpec.model_fields),
    ("collection", "royalties"): tuple(RoyaltiesSpec.model_fields),
    ("prompt",): tuple(PromptSpec.model_fields),
    ("render",): RENDER_FIELDS,
    ("render", "video"): tuple(f.name for f in dc_fields(VideoSettings)),
    ("render", "auto_stop"): tuple(f.name for f in dc_fields(AutoStop)),
    ("specials", "*"): tuple(SpecialSpec.model_fields),
    ("specials", "*", "render"): RENDER_FIELDS,
    ("specials", "*", "render", "video"): tuple(f.name for f in dc_fields(VideoSettings)),
    ("specials", "*", "render", "auto_stop"): tuple(f.name for f in dc_fields(AutoStop)),
    **SALE_KEYS,
}


# ---------------------------------------------------------------- validated model


@dataclass(frozen=True)
class Manifest:
    path: Path
    root: Path                      # the project folder: inputs must live inside it
    sha256: str
    collection: CollectionSpec
    supply: int | None              # None means "all"
    render: RenderSettings
    template: str
    categories: tuple[Category, ...]
    exclusions: tuple[Exclusion, ...]
    specials: tuple[Special, ...]
    warnings: tuple["Problem", ...] = ()   # things that plan but probably not as meant (exit 0)
    sale: SaleSpec | None = None            # the drop, when the manifest has a `sale:` section
    source: LoadedYaml | None = field(default=None, compare=False, repr=False)  # for lines in later errors

    def where(self, *path: Any) -> str:
        """"manifest.yaml:14" for a field, so errors found after validation still name the line."""
        line = self.source.line_of(path) if self.source else None
        return f"{self.path.name}:{line}" if line else self.path.name

    @property
    def generated(self) -> int | None:
        """Tokens drawn from the traits (supply minus specials); None for `supply: all`."""
        return None if self.supply is None else self.supply - len(self.specials)

    def input_paths(self) -> list[tuple[tuple[Any, ...], str]]:
        """(yaml path, manifest-relative file) for every file the build reads."""
        out: list[tuple[tuple[Any, ...], str]] = []
        if self.collection.image:
            out.append((("collection", "image"), self.collection.image))
        out += _render_inputs(("render",), self.render.to_dict())
        for i, sp in enumerate(self.specials):
            out += _render_inputs(("specials", i, "render"), sp.render)
        return out


# ---------------------------------------------------------------- errors


@dataclass(frozen=True)
class Problem:
    path: tuple[Any, ...]
    message: str
    line: int | None


def format_path(path: tuple[Any, ...]) -> str:
    from buildfiles.text import bad_char

    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:  # a key with a control character is shown escaped: printed raw it would garble the line
            out += ("." if out else "") + "".join(f"\\u{ord(ch):04x}" if bad_char(ch) else ch for ch in str(p))
    return out or "(top level)"


def format_problem(file: Path, p: Problem) -> str:
    from buildfiles.text import bad_char

    where = f" ({file.name}:{p.line})" if p.line else f" ({file.name})"
    line = f"{format_path(p.path)}: {p.message}{where}" if p.path else f"{p.message}{where}"
    # a name or phrase quoted back from a hostile manifest must not garble the terminal it is printed on
    return "".join(f"\\u{ord(ch):04x}" if bad_char(ch) else ch for ch in line)


class ManifestError(UserError):
    exit_code = 2

    def __init__(self, file: Path, problems: list[Problem]):
        self.file = file
        self.problems = sorted(problems, key=lambda p: (p.line or 0, format_path(p.path)))
        lines = [self.format(p) for p in self.problems]
        super().__init__(lines[0] if len(lines) == 1 else f"{file.name}: {len(lines)} problems", exit_code=2)
        self._lines = lines

    def format(self, p: Problem) -> str:
        return format_problem(self.file, p)

    def lines(self) -> list[str]:
        if len(self._lines) == 1:
            return [self._lines[0], "hint: fix the manifest and run `roboz-collection validate` again"]
        return [self.message] + [f"  {line}" for line in self._lines] + [
            "hint: fix the manifest and run `roboz-collection validate` again"
        ]


class _Collector:
    def __init__(self, doc: LoadedYaml):
        self.doc = doc
        self.problems: list[Problem] = []

    def add(self, path: tuple[Any, ...], message: str) -> None:
        self.problems.append(Problem(tuple(path), message, self.doc.line_of(path)))


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


# ---------------------------------------------------------------- loading


def load_manifest(path: Path | str) -> Manifest:
    path = Path(path)
    raw_bytes = _read_manifest(path)
    try:
        text = raw_bytes.decode("utf-8")
    except UnicodeDecodeError as e:  # never read with U+FFFD in place of a byte: that text would reach the metadata
        line, message = not_utf8(raw_bytes, e)
        raise ManifestError(path, [Problem((), message, line)]) from None
    if not text.strip():
        raise ManifestError(path, [Problem((), "the manifest is empty; start from `roboz-collection init DIR`", None)])
    try:
        doc = load_yaml_with_lines(text)
    except YamlSyntaxError as e:
        raise ManifestError(path, [Problem((), e.message, e.line)]) from None
    if doc.data is None:
        raise ManifestError(path, [Problem((), "the manifest is empty (only comments); start from `roboz-collection init DIR`", None)])
    if not isinstance(doc.data, dict):
        raise ManifestError(path, [Problem((), f"the manifest must be a mapping of sections, got a {type(doc.data).__name__}", 1)])
    return validate_document(doc, path.resolve().parent, path, hashlib.sha256(raw_bytes).hexdigest())


def not_utf8(raw: bytes, e: UnicodeDecodeError) -> tuple[int, str]:
    """(line, message) for the first byte that is not UTF-8: its offset, line and column (in characters)."""
    start = e.start
    line = raw.count(b"\n", 0, start) + 1
    line_start = raw.rfind(b"\n", 0, start) + 1
    column = len(raw[line_start:start].decode("utf-8", errors="replace")) + 1
    bad = raw[start:e.end].hex(" ").upper().replace(" ", " 0x")
    return line, (f"the manifest is not UTF-8: byte 0x{bad} at byte offset {start} (line {line}, column {column}) "
                  f"cannot be decoded; save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)")


def _read_manifest(path: Path) -> bytes:
    """The manifest's bytes, or one line saying why not (missing, a folder, a device, too big, unreadable)."""
    try:
        if not path.exists():
            raise UserError(f"manifest {path} not found", hint="create one with `roboz-collection init DIR`", exit_code=2)
        if path.is_dir():
            raise UserError(f"manifest {path} is a folder, not a file", hint=f"name the file, e.g. {path / 'manifest.yaml'}", exit_code=2)
        if not path.is_file():
            raise UserError(f"manifest {path} is not a regular file", hint="name a YAML file", exit_code=2)
        size = path.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            raise UserError(f"manifest {path} is {size:,} bytes; the limit is {MAX_MANIFEST_BYTES:,} (1 MiB)",
                            hint="a manifest is a page or two of YAML: is this the right file?", exit_code=2)
        with path.open("rb") as f:
            return f.read(MAX_MANIFEST_BYTES + 1)[:MAX_MANIFEST_BYTES]
    except OSError as e:
        raise UserError(f"manifest {path} cannot be read: {e.strerror or e}", hint="check the path and its permissions", exit_code=2) from None


def validate_document(doc: LoadedYaml, root: Path, path: Path, sha256: str) -> Manifest:
    c = _Collector(doc)
    for dup_path, _line in doc.duplicates:
        c.add(dup_path, "duplicate key (YAML keeps only the last one)")
    _validate_text(c, doc.data, ())

    spec: ManifestSpec | None = None
    try:
        spec = ManifestSpec.model_validate(doc.data)
    except ValidationError as e:
        _add_pydantic_errors(c, e, ())

    data = doc.data
    render = _validate_render(c, data.get("render") or {}, ("render",))
    categories = _validate_traits(c, data.get("traits"))
    template = ""
    if isinstance(data.get("prompt"), dict) and isinstance(data["prompt"].get("template"), str):
        template = data["prompt"]["template"]
        _validate_template(c, template, categories)
    exclusions = _validate_exclusions(c, data.get("exclude"), categories)
    specials = _validate_specials(c, data.get("specials"), data.get("render") or {})
    supply = _validate_supply(c, data.get("collection"))
    sale = validate_sale(c, data.get("sale"), root, supply, lambda e, at: _add_pydantic_errors(c, e, at))
    if spec is not None:
        _validate_token_name(c, spec.collection.token_name)

    if spec is not None and spec.collection.image:
        _check_input(c, root, ("collection", "image"), spec.collection.image)
    if render is not None:
        for p, rel in _render_inputs(("render",), render.to_dict()):
            _check_input(c, root, p, rel)
    for i, sp in enumerate(specials):
        for p, rel in _render_inputs(("specials", i, "render"), sp.render):
            _check_input(c, root, p, rel)
    if render is not None and isinstance(render.models, dict):
        render = replace(render, models=_check_models(c, root, ("render", "models"), render.models))
    for i, sp in enumerate(specials):
        if isinstance(sp.render.get("models"), dict):
            sp.render["models"] = _check_models(c, root, ("specials", i, "render", "models"), sp.render["models"])

    if spec is not None:
        _validate_collection_urls(c, spec.collection)
    if render is not None:
        _validate_numbers(c, ("render",), render.to_dict())
        for i, sp in enumerate(specials):
            if sp.render:
                _validate_numbers(c, ("specials", i, "render"), {**render.to_dict(), **sp.render}, only=set(sp.render))
    if isinstance(data.get("render"), dict) or render is not None:
        _validate_prompt_numbers(c, template, categories, specials, render)

    warnings: list[Problem] = []
    if categories is not None and not c.problems:
        try:
            ex_index = ExclusionIndex(categories, exclusions)
        except ValueError as e:
            c.add(("exclude",), str(e))
            raise ManifestError(path, c.problems) from None
        radix = Radix.of(categories)
        total, allowed = radix.total, ex_index.allowed(radix)
        if allowed == 0:
            c.add(("exclude",), f"the exclusions leave no allowed combination (all {total:,} are excluded)")
        elif supply is not None:
            generated = supply - len(specials)
            if generated < 0:
                c.add(("collection", "supply"), f"supply {supply} is smaller than the number of specials ({len(specials)})")
            elif generated > allowed:
                extra = f" + {len(specials)} specials" if specials else ""
                c.add(
                    ("collection", "supply"),
                    f"supply {supply} needs {generated:,} unique trait combinations{extra}, but only {allowed:,} are allowed"
                    f" ({total:,} combinations, {total - allowed:,} excluded); lower supply or use `supply: all`",
                )
            else:
                _validate_counts(c, categories, specials, generated, radix, ex_index)
                warnings = _rare_value_warnings(c, categories, specials, generated)
        else:
            if allowed + len(specials) > MAX_SUPPLY:
                c.add(("collection", "supply"), f"`supply: all` would plan {allowed + len(specials):,} tokens; the limit is "
                      f"{MAX_SUPPLY:,}: give a number, or add exclusions")
            for ci, cat in enumerate(categories):
                for v in cat.values:
                    if v.count is not None:
                        c.add(("traits", cat.name, v.name, "count"), "`count` needs a numeric `supply` (with `supply: all` every allowed combination appears once)")
        if spec is not None and not c.problems:
            n = supply if supply is not None else allowed + len(specials)
            last = spec.collection.start_id + n - 1
            if last > MAX_TOKEN_ID:
                c.add(("collection", "start_id"), f"token ids would run from {spec.collection.start_id} to {last}, beyond the largest "
                      f"ERC-721 token id 2**256-1; lower start_id")

    if c.problems:
        raise ManifestError(path, c.problems)
    assert spec is not None and render is not None and categories is not None
    return Manifest(
        path=path,
        root=root,
        sha256=sha256,
        collection=spec.collection,
        supply=supply,
        render=render,
        template=template,
        categories=categories,
        exclusions=exclusions,
        specials=tuple(specials),
        warnings=tuple(warnings),
        sale=sale,
        source=doc,
    )


def _add_pydantic_errors(c: _Collector, err: ValidationError, prefix: tuple[Any, ...]) -> None:
    for e in err.errors():
        loc = prefix + tuple(e["loc"])
        # Fields checked by hand report themselves; avoid saying it twice.
        if loc[:1] in (("traits",), ("exclude",), ("render",)) and not prefix:
            continue
        if loc[:1] == ("specials",) and len(loc) > 2 and loc[2] == "render" and not prefix:
            continue
        kind = e["type"]
        if kind in ("extra_forbidden", "unexpected_keyword_argument"):
            parent, key = loc[:-1], loc[-1]
            known = _KNOWN_KEYS.get(tuple("*" if isinstance(p, int) else p for p in parent), ())
            hint = did_you_mean(key, known) if known else ""
            allowed = f" (allowed: {', '.join(known)})" if known and not hint else ""
            c.add(loc, f"unknown key '{key}'{hint}{allowed}")
        elif kind == "missing" or kind == "missing_keyword_argument":
            c.add(loc[:-1], f"missing required key '{loc[-1]}'")
        elif kind in STRICT_TYPES:
            c.add(loc, strict_type_message(kind, e.get("input")))
        else:
            got = e.get("input")
            shown = "" if isinstance(got, (dict, list)) else f", got {got!r}"
            msg = e["msg"]
            if msg.startswith("Value error, "):
                msg = msg[len("Value error, "):]
                shown = ""
            c.add(loc, f"{msg[0].lower()}{msg[1:]}{shown}")


_RENDER = TypeAdapter(RenderSettings)
MAX_TEXT_PROBLEMS = 20


def _validate_text(c: _Collector, node: Any, at: tuple[Any, ...]) -> None:
    """Every key and text value: no control or bidirectional characters (buildfiles.text); line
    breaks only in a description. Everything in a manifest can end up in metadata or on a page."""
    from buildfiles.text import control_problem

    if len([p for p in c.problems if "control" in p.message]) >= MAX_TEXT_PROBLEMS:
        return
    if isinstance(node, str):
        problem = control_problem(node, multiline=bool(at) and at[-1] == "description")
        if problem:
            c.add(at, problem)
    elif isinstance(node, dict):
        for k, v in node.items():
            if isinstance(k, str):
                problem = control_problem(k)
                if problem:
                    c.add(at + (k,), f"the key {problem}")
            _validate_text(c, v, at + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _validate_text(c, v, at + (i,))


def _validate_render(c: _Collector, raw: Any, at: tuple[Any, ...], base: dict[str, Any] | None = None) -> RenderSettings | None:
    if not isinstance(raw, dict):
        c.add(at, f"must be a mapping of render settings, got {type(raw).__name__}")
        return None
    merged = merge_render(base or {}, raw)  # a special's number of iterations drops the base's auto-stop
    try:
        return _RENDER.validate_python(merged)
    except ValidationError as e:
        before = len(c.problems)
        _add_pydantic_errors(c, e, at)
        # An override that is fine alone but clashes with the base (e.g. snapshots) is still reported once.
        if len(c.problems) == before:
            c.add(at, str(e))
        return None


def _validate_traits(c: _Collector, raw: Any) -> tuple[Category, ...] | None:
    if raw is None:
        c.add((), "missing required key 'traits'")
        return None
    if not isinstance(raw, dict) or not raw:
        c.add(("traits",), "must map trait categories to their values, e.g. `colour: {Red: 3, Blue: 1}`")
        return None
    cats: list[Category] = []
    ok = True
    for cat, values in raw.items():
        at = ("traits", cat)
        if not isinstance(cat, str) or not cat.strip() or any(ch in cat for ch in "{}|:"):
            c.add(at, "a category name must be text without { } | or :")
            ok = False
            continue
        if not isinstance(values, dict) or not values:
            c.add(at, "must map values to weights, e.g. `Red: 3` or `Red: {weight: 3, prompt: \"crimson\"}`")
            ok = False
            continue
        out: list[TraitValue] = []
        for name, v in values.items():
            vat = at + (name,)
            if isinstance(name, bool) or name is None:
                c.add(vat, f"value name {name!r} was read as {type(name).__name__} by YAML: quote it, e.g. \"{str(name).lower() if name is not None else 'null'}\"")
                ok = False
                continue
            label = str(name)
            weight: Any = v
            phrase = label
            if isinstance(v, dict):
                for k in v:
                    if k not in ("weight", "prompt", "count"):
                        c.add(vat + (k,), f"unknown key '{k}'{did_you_mean(k, ('weight', 'prompt', 'count'))}")
                        ok = False
                weight = v.get("weight", 1)
                phrase = v.get("prompt", label)
                if "count" in v:
                    count = v["count"]
                    if isinstance(count, bool) or not isinstance(count, int) or count < 0 or count > MAX_SUPPLY:
                        c.add(vat + ("count",), f"count must be a whole number of tokens (0 to {MAX_SUPPLY:,}), got {count!r}")
                        ok = False
                        continue
                if not isinstance(phrase, str) or not phrase.strip():
                    c.add(vat + ("prompt",), f"prompt must be non-empty text, got {phrase!r}")
                    ok = False
                    continue
            w = _weight(c, vat, weight)
            if w is None:
                ok = False
                continue
            if "|" in phrase:
                c.add(vat, f"prompt phrase {phrase!r} contains '|', which separates prompts; remove it")
                ok = False
                continue
            count = v.get("count") if isinstance(v, dict) else None
            out.append(TraitValue(label, w, phrase.strip(), count))
        cats.append(Category(cat, tuple(out)))
    return tuple(cats) if ok else None


def _weight(c: _Collector, at: tuple[Any, ...], w: Any) -> float | None:
    if isinstance(w, bool) or not isinstance(w, (int, float)):
        c.add(at, f"weight must be a number > 0, got {w!r}")
        return None
    if not math.isfinite(w) or w <= 0:
        c.add(at, f"weight must be > 0, got {w!r}")
        return None
    return float(w)


def _validate_template(c: _Collector, template: str, categories: tuple[Category, ...] | None) -> None:
    names = [m.group(1) for m in PLACEHOLDER.finditer(template)]
    if not names:
        c.add(("prompt", "template"), "has no {category} placeholder, so every token would get the same prompt")
    if categories is None:
        return
    known = [cat.name for cat in categories]
    for n in names:
        if n not in known:
            c.add(("prompt", "template"), f"placeholder {{{n}}} names no trait category{did_you_mean(n, known)} (categories: {', '.join(known)})")


def _validate_token_name(c: _Collector, template: str) -> None:
    for m in PLACEHOLDER.finditer(template):
        if m.group(1) not in ("id", "collection"):
            c.add(("collection", "token_name"), f"placeholder {{{m.group(1)}}} is unknown; use {{id}} and {{collection}}")


def _validate_exclusions(c: _Collector, raw: Any, categories: tuple[Category, ...] | None) -> tuple[Exclusion, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        c.add(("exclude",), "must be a list of combinations, e.g. `- {object: Surfboard, setting: Volcano}`")
        return ()
    out: list[Exclusion] = []
    by_name = {cat.name: (i, cat) for i, cat in enumerate(categories or ())}
    for i, rule in enumerate(raw):
        at = ("exclude", i)
        if not isinstance(rule, dict) or not rule:
            c.add(at, "must map categories to a value or a list of values")
            continue
        match: list[tuple[int, frozenset[int]]] = []
        for cat, vals in rule.items():
            if categories is None:
                continue
            if cat not in by_name:
                c.add(at + (cat,), f"unknown trait category '{cat}'{did_you_mean(cat, list(by_name))}")
                continue
            ci, category = by_name[cat]
            wanted = vals if isinstance(vals, list) else [vals]
            idx = set()
            for v in wanted:
                try:
                    idx.add(category.index(str(v)))
                except KeyError:
                    names = [x.name for x in category.values]
                    c.add(at + (cat,), f"'{v}' is not a value of '{cat}'{did_you_mean(str(v), names)}")
            match.append((ci, frozenset(idx)))
        if categories is not None and match:
            out.append(Exclusion(tuple(sorted(match, key=lambda m: m[0]))))
    return tuple(out)


def _validate_specials(c: _Collector, raw: Any, base_render: dict[str, Any]) -> list[Special]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        c.add(("specials",), "must be a list of 1/1 tokens, each with a name and a prompt")
        return []
    out: list[Special] = []
    first_seen: dict[str, int] = {}
    for i, sp in enumerate(raw):
        if not isinstance(sp, dict):
            continue  # pydantic reported it
        name = sp.get("name")
        if isinstance(name, str):
            key = name.strip().casefold()
            if key in first_seen:
                line = c.doc.line_of(("specials", first_seen[key]))
                c.add(("specials", i, "name"), f"duplicate special name '{name}' (first at line {line})")
            else:
                first_seen[key] = i
        r = sp.get("render") or {}
        if not isinstance(r, dict):
            c.add(("specials", i, "render"), f"must be a mapping of render settings, e.g. `render: {{iterations: 1000}}`, got {type(r).__name__}")
            continue
        if r and isinstance(base_render, dict):
            _validate_render(c, r, ("specials", i, "render"), base=base_render)
        if isinstance(name, str) and isinstance(sp.get("prompt"), str):
            traits = sp.get("traits") or {}
            out.append(Special(name.strip(), sp["prompt"].strip(), {str(k): str(v) for k, v in traits.items()} if isinstance(traits, dict) else {}, dict(r) if isinstance(r, dict) else {}))
    return out


def _validate_supply(c: _Collector, coll: Any) -> int | None:
    if not isinstance(coll, dict):
        return None
    s = coll.get("supply", "all")
    if s == "all":
        return None
    if isinstance(s, bool) or not isinstance(s, int) or s <= 0:
        c.add(("collection", "supply"), f"must be a positive whole number or `all`, got {s!r}")
        return None
    if s > MAX_SUPPLY:
        c.add(("collection", "supply"), f"must be at most {MAX_SUPPLY:,} tokens, got {s:,}")
        return None
    return s


# ---------------------------------------------------------------- input files


def _render_inputs(at: tuple[Any, ...], render: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    """Files named by a render block: init_image (unless bundled/none) and image prompts."""
    out: list[tuple[tuple[Any, ...], str]] = []
    init = render.get("init_image")
    if isinstance(init, str) and init != BUNDLED_INIT:
        out.append(((*at, "init_image"), init))
    for j, ip in enumerate(render.get("image_prompts") or ()):
        out.append(((*at, "image_prompts", j), split_image_prompt(str(ip))[0]))
    return out


def split_image_prompt(spec: str) -> tuple[str, str]:
    """'sketch.png:0.5:0.1' -> ('sketch.png', ':0.5:0.1'); the numeric tail is weight and stop."""
    parts = spec.split(":")
    tail: list[str] = []
    while len(parts) > 1 and len(tail) < 2 and _is_number(parts[-1]):
        tail.insert(0, parts.pop())
    return ":".join(parts), "".join(":" + t for t in tail)


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _check_input(c: _Collector, root: Path, at: tuple[Any, ...], rel: str) -> None:
    p = Path(rel)
    full = project_file(root, rel)
    if p.is_absolute() or not full.is_relative_to(root):
        c.add(at, f"'{rel}' is outside the project folder {root}; copy the file next to the manifest and name it relatively")
        return
    if not full.is_file():
        c.add(at, f"file '{rel}' not found (looked for {full})")
        return
    problem = image_problem(full)
    if problem:
        c.add(at, f"'{rel}' {problem}")


def image_problem(path: Path) -> str | None:
    """Why `path` is not a usable input image, or None. Decodes every pixel, because a
    truncated or corrupt file opens fine and fails only when read, hours into a build."""
    import warnings

    from PIL import Image, UnidentifiedImageError

    try:
        size = path.stat().st_size
        if size == 0:
            return "is empty (0 bytes); export the image again"
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if w * h > MAX_INPUT_PIXELS:
                    return f"is {w}x{h} pixels, above the limit of {MAX_INPUT_PIXELS:,} (4096x4096); shrink it"
                im.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        return f"is not an image that can be read ({_one_line(e)}); use a PNG or JPEG"
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError) as e:
        return f"cannot be decoded ({_one_line(e)}); the file is corrupt or truncated: export it again"
    return None


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:160]


# ---------------------------------------------------------------- numbers, prompts, URLs, counts


def _validate_collection_urls(c: _Collector, coll: CollectionSpec) -> None:
    from urllib.parse import urlsplit

    url = coll.external_url
    if url:
        try:
            parts = urlsplit(url)
            ok = parts.scheme in ("http", "https") and bool(parts.netloc) and not any(ch.isspace() for ch in url)
        except ValueError:
            ok = False
        if not ok:
            c.add(("collection", "external_url"), f"must be an http:// or https:// address, got {url[:80]!r}")


def _validate_numbers(c: _Collector, at: tuple[Any, ...], render: dict[str, Any], only: set[str] | None = None) -> None:
    """Finite and not absurd: pydantic checks the lower bounds, but lets `.inf` through."""
    for name, (low, high, _incl) in NUMBER_RANGES.items():
        if only is not None and name not in only:
            continue
        v = render.get(name)
        if isinstance(v, (int, float)) and (not math.isfinite(v) or v > high):
            c.add((*at, name), f"must be a finite number from {low:g} to {high:g}, got {v!r}")


def prompt_item_problem(item: str) -> str | None:
    """Trailing `:weight[:stop]` numbers of one prompt item must be finite and in range. Read the
    way generator.prompts.parse_prompt reads them: up to two trailing numeric fields; a weight-like
    field that is no number (`:abc`, `:0,5`) is refused there, in one rule for manifest and render."""
    typo = prompt_problem(item)
    if typo:
        return typo.removeprefix("prompt ")
    parts = item.strip().split(":")
    nums: list[float] = []
    while len(parts) > 1 and len(nums) < 2 and _is_number(parts[-1].strip()):
        nums.insert(0, float(parts.pop().strip()))
    shown = item.strip()[:80]
    if not all(math.isfinite(x) for x in nums):
        return f"'{shown}': weight and stop must be finite numbers"
    if nums and abs(nums[0]) > MAX_PROMPT_WEIGHT:
        return f"'{shown}': weight {nums[0]:g} is outside ±{MAX_PROMPT_WEIGHT:g}"
    return None


STAND_IN = "x x"


def _validate_prompt_numbers(c: _Collector, template: str, categories: tuple[Category, ...] | None,
                             specials: list[Special], render: RenderSettings | None) -> None:
    for item in template.split("|"):
        # A stand-in with a space: a placeholder right after a ':' is a phrase, not a weight typo in itself.
        neutral = PLACEHOLDER.sub(STAND_IN, item)
        problem = prompt_item_problem(neutral)
        if problem:
            problem = problem.replace(f"'{neutral.strip()[:80]}'", f"'{item.strip()[:80]}'")
            c.add(("prompt", "template"), problem)
            continue
        # Only a phrase that can reach the item's last two ':' fields can change its weight or
        # stop: one with fewer than two ':' after it, and then (without ':' of its own) only if
        # the item has a ':' at all. Checking just those keeps a 1,000-placeholder template cheap.
        pieces = PLACEHOLDER.split(item)
        colons = neutral.count(":")
        after: dict[str, int] = {}
        tail_colons = 0
        for p in range(len(pieces) - 2, 0, -2):
            tail_colons += pieces[p + 1].count(":")  # the neutral "x" of later placeholders adds none
            after.setdefault(pieces[p], tail_colons)  # the last occurrence has the fewest after it
        for cat in categories or ():
            if cat.name not in after or after[cat.name] >= 2:
                continue
            for v in cat.values:
                if ":" not in v.phrase and not colons:
                    continue
                filled = "".join(pc if q % 2 == 0 else (v.phrase if pc == cat.name else STAND_IN) for q, pc in enumerate(pieces))
                problem = prompt_item_problem(filled)
                if problem:
                    shown = "".join(pc if q % 2 == 0 else (v.phrase if pc == cat.name else "{" + pc + "}") for q, pc in enumerate(pieces))
                    problem = problem.replace(f"'{filled.strip()[:80]}'", f"'{shown.strip()[:80]}'")
                    c.add(("traits", cat.name, v.name), f"its prompt phrase makes the prompt item {problem}")
    for i, sp in enumerate(specials):
        for item in sp.prompt.split("|"):
            problem = prompt_item_problem(item)
            if problem:
                c.add(("specials", i, "prompt"), problem)
    blocks: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    if render is not None:
        blocks.append((("render",), render.to_dict()))
    blocks += [(("specials", i, "render"), sp.render) for i, sp in enumerate(specials) if sp.render]
    for at, block in blocks:
        for j, ip in enumerate(block.get("image_prompts") or ()):
            _path, tail = split_image_prompt(str(ip))
            typo = prompt_problem(str(ip))
            if typo:
                c.add((*at, "image_prompts", j), typo.removeprefix("prompt "))
            elif tail:
                problem = prompt_item_problem("x" + tail)
                if problem:
                    c.add((*at, "image_prompts", j), problem.replace("'x:", "':"))
        for j, item in enumerate(block.get("noise_prompts") or ()):
            problem = noise_prompt_problem(str(item))
            if problem:
                c.add((*at, "noise_prompts", j), problem)


def noise_prompt_problem(item: str) -> str | None:
    if prompt_problem(item):
        return f"'{item[:80]}' is not `seed:weight` (e.g. `42:0.5`): '{item.rpartition(':')[2][:40]}' is not a number"
    spec = parse_prompt(item)
    try:
        seed = int(spec.text)
    except ValueError:
        return f"'{item[:80]}' is not `seed:weight` (e.g. `42:0.5`): '{spec.text[:40]}' is not a whole number"
    if not 0 <= seed < 2**63:
        return f"'{item[:80]}': the seed must be from 0 to 2**63-1"
    return prompt_item_problem(item)


def _validate_counts(c: _Collector, categories: tuple[Category, ...], specials: list[Special], generated: int,
                     radix: Radix, ex: ExclusionIndex) -> None:
    """Exact counts that cannot be met, each named at its `count:` line. Specials that carry a
    value count towards it; the values without a count share what is left, by weight."""
    for ci, cat in enumerate(categories):
        counted = {vi: v for vi, v in enumerate(cat.values) if v.count is not None}
        if not counted:
            continue
        targets = count_targets(cat, specials)
        bad = False
        for vi, v in counted.items():
            carried = v.count - targets[vi]
            if targets[vi] < 0:
                c.add(("traits", cat.name, v.name, "count"), f"count {v.count}, but {carried} specials already carry {cat.name}: {v.name}")
                bad = True
        if bad:
            continue
        fixed = sum(targets.values())
        rest = generated - fixed
        others = [vi for vi in range(len(cat.values)) if vi not in counted]
        if rest < 0:
            c.add(("traits", cat.name), f"the counts add up to {fixed:,} tokens, more than the {generated:,} drawn from traits "
                  f"(supply minus {len(specials)} specials); lower them or raise supply")
            continue
        if not others and rest > 0:
            c.add(("traits", cat.name), f"every value has a count and they add up to {fixed:,}, but {generated:,} tokens are drawn "
                  f"from traits: make the counts add up to {generated:,}, or leave one value without a count to take the rest")
            continue
        reach = ex.allowed_with(radix, ci)
        for vi, v in counted.items():
            if reach[vi] < targets[vi]:
                c.add(("traits", cat.name, v.name, "count"), f"count {v.count} cannot be reached: the exclusions leave only "
                      f"{reach[vi]:,} allowed combinations with {cat.name}: {v.name}")
        if others and rest > sum(reach[vi] for vi in others):
            c.add(("traits", cat.name), f"the values without a count must fill {rest:,} tokens, but the exclusions leave only "
                  f"{sum(reach[vi] for vi in others):,} allowed combinations with them")


def _rare_value_warnings(c: _Collector, categories: tuple[Category, ...], specials: list[Special], generated: int) -> list[Problem]:
    """A weighted value expected in fewer than one token may well never appear (issue seen:
    weight 1 of 11 over 22 tokens gave 0). Expected share ignores exclusions: "about"."""
    out = []
    for e in expectations(categories, specials, generated):
        if e.rest <= 0:
            continue
        for i, v in enumerate(e.category.values):
            if i not in e.counted and e.tokens(i) < 1:
                at = ("traits", e.category.name, v.name)
                out.append(Problem(at, f"expected in about {e.tokens(i):.2f} of {e.rest:,} tokens (weight {v.weight:g} of "
                                       f"{e.free_weight:g}), so it may not appear at all; give it `count: 1` to be sure, or raise "
                                       f"its weight", c.doc.line_of(at)))
    return out


def _check_models(c: _Collector, root: Path, at: tuple[Any, ...], models: dict[str, Any]) -> dict[str, Any] | str:
    """An artist's own model files: paths made absolute from the manifest's folder; each must exist
    (they are hashed by the plan step, not copied: checkpoints are large)."""
    from generator.registry import parse_models
    from generator.weights import missing_own_files, own_file_problems

    choice = parse_models(models, base=root)  # structure already checked with the render settings
    missing = missing_own_files(choice)
    for field, p in missing:
        c.add((*at, *field.split(".")), f"file not found (looked for {p})")
    if not missing:  # headers, keys and shapes, read without unpickling: a damaged file is named now, not at render
        for field, e in own_file_problems(choice):
            c.add((*at, field), e.message + (f"; {e.hint}" if e.hint else ""))
    return choice.to_spec()


def precision_problems(m: Manifest, device: str) -> list[Problem]:
    """`precision` values that cannot paint on `device` here: bf16 on a CPU without native bf16 (emulated,
    ~30x slower than fp32), fp16 off CUDA. Checked by `validate` and again by the render step, not by
    loading: a manifest is portable, the machine that paints it is not."""
    from generator.calibrate import precision_problem

    places = [(("render",), m.render.precision)] + [(("specials", i, "render"), sp.render["precision"])
                                                    for i, sp in enumerate(m.specials) if "precision" in (sp.render or {})]
    out = []
    for at, precision in places:
        problem = precision_problem(precision, device)
        if problem:
            line = m.source.line_of(at + ("precision",)) if m.source else None
            out.append(Problem(at + ("precision",), problem, line))
    return out
