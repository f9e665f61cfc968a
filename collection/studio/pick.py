"""`variations --pick CELL --into manifest.yaml --trait NAME`: a cell's text becomes a trait value.

A minimal text edit, so the artist's comments, order and spacing stay as they were:

    colour:  {Red: 3, Blue: 2}          ->  colour:  {Red: 3, Blue: 2, green: 1}
    object:                              ->  object:
      Lightsaber: {weight: 2, …}               Lightsaber: {weight: 2, …}
                                               green: 1

It refuses a trait the manifest lacks and a value it already has, and validates the edited
text before the file is replaced (atomically), so a pick never leaves a manifest that fails.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildfiles import atomicio
from buildfiles.errors import UserError

PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]*$")


@dataclass(frozen=True)
class Picked:
    manifest: Path
    trait: str
    value: str
    line: int       # 1-based line of the new entry


def yaml_key(text: str) -> str:
    """The value's name as a YAML key: plain when YAML reads it back as the same text, else double-quoted."""
    import yaml

    if PLAIN.match(text) and not text.endswith(" "):
        try:
            if yaml.safe_load(f"{{{text}: 1}}") == {text: 1}:
                return text
        except yaml.YAMLError:
            pass
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def cell_text(facts: dict[str, Any], cell: int, trait: str) -> str:
    """The text the cell put in for `trait` (its placeholder), or its only text."""
    cells = {c["cell"]: c for c in facts.get("cells", [])}
    if cell not in cells:
        raise UserError(f"--pick {cell}: no such cell", hint=f"cells are 1 to {len(cells)} (see variations.png)", exit_code=2)
    texts = cells[cell].get("texts") or {}
    if trait in texts:
        return texts[trait]
    if len(texts) == 1:
        return next(iter(texts.values()))
    if not texts:
        raise UserError(f"--pick {cell}: the cell varies no text (only seeds or iterations), so it has no trait value to give",
                        exit_code=2)
    raise UserError(f"--pick {cell}: the cell varies {', '.join(texts)}; none is named {trait!r}",
                    hint=f"pick with --trait set to one of: {', '.join(texts)}", exit_code=2)


def add_value(text: str, trait: str, value: str, weight: float = 1) -> tuple[str, int]:
    """The manifest text with `value: weight` appended to traits.<trait>, and the new entry's line (1-based)."""
    from collection.plan.yamlpos import YamlSyntaxError, load_yaml_with_lines

    try:
        doc = load_yaml_with_lines(text)
    except YamlSyntaxError as e:
        raise UserError(f"the manifest cannot be read: {e.message}", exit_code=2) from None
    traits = doc.data.get("traits") if isinstance(doc.data, dict) else None
    if not isinstance(traits, dict) or trait not in traits:
        have = ", ".join(map(str, traits)) if isinstance(traits, dict) else "none"
        raise UserError(f"the manifest has no trait {trait!r}", hint=f"its traits: {have}; add the category by hand first",
                        exit_code=2)
    values = traits[trait]
    if not isinstance(values, dict):
        raise UserError(f"traits.{trait} is not a mapping of values", hint="fix the manifest first", exit_code=2)
    same = [str(v) for v in values if str(v).casefold() == value.casefold()]
    if same:
        raise UserError(f"traits.{trait} already has the value {same[0]!r}", exit_code=2)
    w = int(weight) if float(weight).is_integer() else weight
    entry = f"{yaml_key(value)}: {w}"
    lines = text.splitlines(keepends=True)
    at = doc.lines[("traits", trait)] - 1
    head = lines[at]
    body, comment = _split_comment(head)
    key_end = body.find(":")
    after = body[key_end + 1 :].strip() if key_end >= 0 else ""
    if after.startswith("{"):
        if not after.endswith("}"):
            raise UserError(f"traits.{trait} is a {{…}} mapping over several lines; add {entry} by hand", exit_code=2)
        close = body.rstrip().rfind("}")
        inner = body[body.find("{") + 1 : close].strip()
        sep = ", " if inner else ""
        new = body[:close].rstrip() + f"{sep}{entry}" + "}" + body[close + 1 :].rstrip("\r\n") + comment + _eol(head)
        lines[at] = new
        return "".join(lines), at + 1
    if after:
        raise UserError(f"traits.{trait} is written in a form this edit does not know; add {entry} by hand", exit_code=2)
    indent = len(head) - len(head.lstrip(" "))
    last, child_indent = at, None
    for i in range(at + 1, len(lines)):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            continue
        ind = len(lines[i]) - len(lines[i].lstrip(" "))
        if ind <= indent:
            break
        child_indent = ind if child_indent is None else child_indent
        last = i
    pad = " " * (child_indent if child_indent is not None else indent + 2)
    eol = _eol(lines[last]) or "\n"
    if not lines[last].endswith(("\n", "\r")):
        lines[last] += eol
    lines.insert(last + 1, f"{pad}{entry}{eol}")
    return "".join(lines), last + 2


def _split_comment(line: str) -> tuple[str, str]:
    """(code, " # comment" with its spacing) of a line: a `#` after a space, outside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            j = i
            while j > 0 and line[j - 1] in " \t":
                j -= 1
            return line[:j], line[j:].rstrip("\r\n")
    return line, ""


def _eol(line: str) -> str:
    return "\r\n" if line.endswith("\r\n") else "\n" if line.endswith("\n") else ""


def pick_into(manifest: Path, trait: str, value: str, weight: float = 1) -> Picked:
    """Append the value to the manifest's trait, validated before the file is replaced."""
    from collection.plan.manifest import ManifestError, load_manifest

    manifest = Path(manifest)
    try:
        text = manifest.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise UserError(f"--into {manifest}: no such file", exit_code=2) from None
    new, line = add_value(text, trait, value, weight)
    # validated beside the original, so its relative inputs resolve the same way
    trial = manifest.with_name(f".{manifest.name}.pick.yaml")
    trial.write_text(new, "utf-8")
    try:
        load_manifest(trial)
    except ManifestError as e:
        from collection.plan.manifest import format_path

        why = "; ".join(f"{format_path(p.path)}: {p.message}" for p in e.problems[:3])
        raise UserError(f"adding {value!r} to traits.{trait} would make {manifest.name} invalid: {why}",
                        hint="nothing was written; fix the manifest or pick another cell", exit_code=2) from None
    finally:
        trial.unlink(missing_ok=True)
    atomicio.write_text(manifest, new)
    return Picked(manifest, trait, value, line)
