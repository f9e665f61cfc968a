"""Reading a build-directory JSON file strictly: one line naming the file and the fix, never a traceback.

Every typed reader (cids.json, publish.json, provenance.json, ...) goes through `read_fields` (`read_object` + `Fields`):
missing -> None (the caller knows what to run first); unreadable, truncated, not an object,
NaN/Infinity, or a `format` this version does not know -> `BuildFileError` with the file's path
and how to recover. Field accessors (`Fields`) name the bad field the same way.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Callable, TypeVar

from buildfiles.errors import UserError

T = TypeVar("T")


class BuildFileError(UserError):
    """A build-directory file is corrupt, truncated or of a format this version cannot read."""

    exit_code = 2


def _no_constants(name: str):
    # json.loads accepts NaN/Infinity by default; they are not JSON and no file of ours holds them.
    raise ValueError(f"{name} is not JSON")


def read_object(path: Path, *, fmt: str, recover: str, legacy_ok: bool = True) -> dict[str, Any] | None:
    """The JSON object in `path`, or None when the file does not exist.

    `fmt` is the expected "format" value; a file without "format" was written before formats were
    versioned and has the same keys, so it is read when `legacy_ok`. `recover` is the hint."""
    try:
        text = Path(path).read_text("utf-8")
    except FileNotFoundError:
        return None
    except IsADirectoryError:  # the same damage as a garbled file, with the same way back
        raise BuildFileError(f"{path} is a folder where the file should be", hint=recover) from None
    except (OSError, UnicodeDecodeError) as e:
        raise BuildFileError(f"{path} cannot be read ({getattr(e, 'strerror', None) or e})", hint=recover) from None
    try:
        raw = json.loads(text, parse_constant=_no_constants)
    except (json.JSONDecodeError, ValueError, RecursionError) as e:
        what = "empty" if not text.strip() else f"corrupt or truncated{_where(e)}"
        raise BuildFileError(f"{path} is {what}", hint=recover) from None
    if not isinstance(raw, dict):
        raise BuildFileError(f"{path} holds a JSON {type(raw).__name__}, not an object", hint=recover)
    got = raw.get("format")
    if got != fmt and not (got is None and legacy_ok):
        raise BuildFileError(f"{path} has format {got!r}; this version reads {fmt!r}",
                             hint=f"use the roboz-collection version that wrote it, or {recover[0].lower()}{recover[1:]}")
    return raw


def read_token_map(path: Path, parse: Callable[[Any], T], *, fmt: str, recover: str) -> dict[int, T]:
    """A file of per-token entries, {"tokens": {"<id>": entry}}, as {id: parse(entry)}; {} when missing.

    A bad id or an entry `parse` rejects (KeyError, TypeError, ValueError, AttributeError) is one
    BuildFileError naming the file, like every other damage."""
    raw = read_object(path, fmt=fmt, recover=recover, legacy_ok=False)
    if raw is None:
        return {}
    try:
        return {int(k): parse(v) for k, v in (raw.get("tokens") or {}).items()}
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise BuildFileError(f"{path} is malformed ({e})", hint=recover) from None


def read_fields(path: Path, *, fmt: str, recover: str, legacy_ok: bool = True) -> "Fields | None":
    """`read_object`, wrapped for typed access: the start of every typed reader."""
    raw = read_object(path, fmt=fmt, recover=recover, legacy_ok=legacy_ok)
    return None if raw is None else Fields(raw, Path(path), recover)


def _where(e: Exception) -> str:
    if isinstance(e, json.JSONDecodeError):
        return f" at line {e.lineno} column {e.colno} ({e.msg})"
    return f" ({str(e)[:100]})"


_CID = re.compile(r"b[a-z2-7]+")
_HEX64 = re.compile(r"[0-9a-f]{64}")


class Fields:
    """Typed access to one JSON object's fields; a wrong type names the file and the field."""

    def __init__(self, raw: dict[str, Any], path: Path, recover: str):
        self.raw, self.path, self.recover = raw, path, recover

    def fail(self, key: str, want: str) -> BuildFileError:
        got = self.raw.get(key)
        shown = json.dumps(got)[:60] if got is not None else "missing"
        return BuildFileError(f"{self.path}: field {key!r} should be {want}, got {shown}", hint=self.recover)

    def str(self, key: str, *, optional: bool = False, default: str | None = None) -> str | None:
        v = self.raw.get(key, default)
        if v is None and optional:
            return None
        if not isinstance(v, str):
            raise self.fail(key, "a string")
        return v

    def cid(self, key: str, *, optional: bool = False) -> str | None:
        v = self.raw.get(key)
        if v is None and optional:
            return None
        if not isinstance(v, str) or not _CID.fullmatch(v):
            raise self.fail(key, "a base32 CIDv1 ('bafy…')")
        return v

    def sha256(self, key: str) -> str:
        v = self.raw.get(key)
        if not isinstance(v, str) or not _HEX64.fullmatch(v.lower().removeprefix("0x")):
            raise self.fail(key, "a sha256 hex digest")
        return v.lower().removeprefix("0x")

    def bool(self, key: str, default: bool) -> bool:
        v = self.raw.get(key, default)
        if not isinstance(v, bool):
            raise self.fail(key, "true or false")
        return v

    def str_map(self, key: str, *, optional: bool = False) -> dict[str, str] | None:
        v = self.raw.get(key)
        if v is None:
            return None if optional else {}
        if not isinstance(v, dict) or not all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()):
            raise self.fail(key, "an object of strings")
        return dict(v)

    def str_list(self, key: str) -> tuple[str, ...]:
        v = self.raw.get(key) or []
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            raise self.fail(key, "a list of strings")
        return tuple(v)

    def list(self, key: str) -> list[Any]:
        v = self.raw.get(key) or []
        if not isinstance(v, list):
            raise self.fail(key, "a list")
        return v
