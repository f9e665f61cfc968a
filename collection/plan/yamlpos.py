"""YAML loading that remembers where each value came from.

Manifest errors must name a line ("traits.colour.Red: ... (manifest.yaml:14)"), and
PyYAML's plain `safe_load` forgets positions and silently keeps the last of two
duplicate keys. Composing the node tree first gives us both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[Any, ...]  # a location in the document: keys and list indexes


@dataclass
class LoadedYaml:
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)    # path -> 1-based line of the key (or item)
    duplicates: list[tuple[Path_, int]] = field(default_factory=list)

    def line_of(self, path: Path_) -> int | None:
        """Line of `path`, or of its nearest ancestor that has one."""
        p = tuple(path)
        while True:
            if p in self.lines:
                return self.lines[p]
            if not p:
                return None
            p = p[:-1]


class YamlSyntaxError(Exception):
    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.message = message
        self.line = line


# A manifest is a page or two of YAML. These bounds keep a hostile file ("billion laughs",
# 10 KB of `[[[[`, a million tiny nodes) from costing more than milliseconds and megabytes.
MAX_DEPTH = 32
MAX_NODES = 100_000

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: 1 MB parses in ~50 ms


def load_yaml_with_lines(text: str) -> LoadedYaml:
    try:
        _check_events(text)
        node = yaml.compose(text, Loader=_Loader)
        data = _construct(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or str(e)
        if e.context:
            problem = f"{e.context}, {problem}"
        raise YamlSyntaxError(f"YAML syntax error: {problem}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as e:
        raise YamlSyntaxError(f"YAML error: {_short(e)}", None) from None
    except (ValueError, OverflowError, TypeError) as e:
        # e.g. an integer of 5,000 digits, or a date like 2021-13-45: YAML reads them, Python refuses them.
        raise YamlSyntaxError(f"YAML value cannot be read: {_short(e)}", None) from None
    out = LoadedYaml(data=data)
    if node is not None:
        out.lines[()] = node.start_mark.line + 1
        _walk(node, (), out)
    return out


def _short(e: Exception) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 200 else text[:200] + "…"


def _check_events(text: str) -> None:
    """Refuse aliases, deep nesting and huge node counts before anything is built.

    Aliases are refused outright rather than bounded: a manifest never needs them, and an
    alias is how a 600-byte file expands to gigabytes. Parsing is a flat event stream, so
    this pass itself cannot recurse or expand anything."""
    depth = nodes = 0
    for ev in yaml.parse(text, Loader=_Loader):
        if isinstance(ev, yaml.AliasEvent):
            raise YamlSyntaxError(
                f"YAML aliases (*{ev.anchor}) are not supported in a manifest: write the value out where it is used",
                ev.start_mark.line + 1 if ev.start_mark else None,
            )
        if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            nodes += 1
            if depth > MAX_DEPTH:
                raise YamlSyntaxError(f"YAML nested deeper than {MAX_DEPTH} levels; a manifest needs at most 5", ev.start_mark.line + 1)
        elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        elif isinstance(ev, yaml.ScalarEvent):
            nodes += 1
        if nodes > MAX_NODES:
            raise YamlSyntaxError(f"YAML has more than {MAX_NODES:,} values; a manifest needs far fewer", ev.start_mark.line + 1)


def _construct(node: yaml.Node | None) -> Any:
    if node is None:
        return None
    return yaml.constructor.SafeConstructor().construct_document(node)


def _walk(node: yaml.Node, path: Path_, out: LoadedYaml) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = _scalar_key(key_node)
            child = path + (key,)
            if key in seen:
                out.duplicates.append((child, key_node.start_mark.line + 1))
            seen.add(key)
            out.lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.lines[path + (i,)] = item.start_mark.line + 1
            _walk(item, path + (i,), out)


_KEYS = yaml.constructor.SafeConstructor()


def _scalar_key(node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        # Construct the key as the document was constructed, so paths match the loaded data's keys.
        return _KEYS.construct_object(node, deep=True)
    return f"<{node.id} key at line {node.start_mark.line + 1}>"  # a list or map as a key: never a real path
