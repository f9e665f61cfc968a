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


def load_yaml_with_lines(text: str) -> LoadedYaml:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        problem = e.problem or str(e)
        if e.context:
            problem = f"{e.context}, {problem}"
        raise YamlSyntaxError(f"YAML syntax error: {problem}", mark.line + 1 if mark else None) from None
    except yaml.YAMLError as e:
        raise YamlSyntaxError(f"YAML error: {e}", None) from None
    out = LoadedYaml(data=data)
    if node is not None:
        out.lines[()] = node.start_mark.line + 1
        _walk(node, (), out)
    return out


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


def _scalar_key(node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        # Construct the key as safe_load would, so paths match the loaded data's keys.
        return _construct_scalar(node)
    return repr(node)


def _construct_scalar(node: yaml.ScalarNode) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()
