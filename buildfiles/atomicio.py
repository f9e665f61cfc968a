"""Atomic file writes: every step's output appears whole or not at all.

A crash or Ctrl-C mid-write must never leave a half-written plan.json or PNG that a
later step would trust, so each write goes to a temp file in the same directory,
is fsynced, then renamed over the target (rename is atomic on POSIX).

A SIGKILL between mkstemp and rename leaves the temp file (`.NAME.xxxxxxxx.tmp`) behind.
The next process that writes into that folder removes such leftovers once: only names of
this module's own pattern, and only files last written before that process started (a
concurrent writer's temp file is younger), never anything else.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any, Iterable, Iterator


@contextlib.contextmanager
def atomic_open(path: Path | str, mode: str = "wb") -> Iterator[IO]:
    """Open a temp file beside `path`; on clean exit it replaces `path`, on error it vanishes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_once(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    # mkstemp makes 0600 files; outputs are ordinary files a user shares, so honour the umask.
    os.fchmod(fd, 0o666 & ~_UMASK)
    kwargs = {} if "b" in mode else {"encoding": "utf-8", "newline": "\n"}
    try:
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


# mkstemp(prefix=".NAME.", suffix=".tmp"): 8 characters of tempfile's alphabet in between.
TEMP_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")
PROCESS_START = time.time()       # module import: before this process wrote anything
_cleaned: set[str] = set()
_cleaned_lock = threading.Lock()


def stale_temps(directory: Path | str, before: float = PROCESS_START) -> list[Path]:
    """Temp files of interrupted atomic writes in `directory` (not below it), last modified before `before`."""
    out = []
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return out
    for e in entries:
        if not TEMP_NAME.fullmatch(e.name):
            continue
        try:
            if e.is_file(follow_symlinks=False) and e.stat(follow_symlinks=False).st_mtime < before:
                out.append(Path(e.path))
        except OSError:
            continue
    return out


def clean_stale_temps(directory: Path | str, before: float = PROCESS_START) -> list[Path]:
    """Remove what stale_temps finds; returns the files removed."""
    removed = []
    for p in stale_temps(directory, before):
        with contextlib.suppress(OSError):
            p.unlink()
            removed.append(p)
    return removed


def clean_step_folders(build_dir: Path | str, folders: Iterable[str]) -> list[Path]:
    """At the start of a step: its folders' leftovers, whether or not it will write there this time
    (a re-run that finds every file unchanged writes nothing). "name/*" also takes name's subfolders."""
    removed: list[Path] = []
    for name in folders:
        base = Path(build_dir) / name.removesuffix("/*")
        dirs = [base]
        if name.endswith("/*"):
            with contextlib.suppress(OSError):
                dirs += sorted(Path(e.path) for e in os.scandir(base) if e.is_dir(follow_symlinks=False))
        for d in dirs:
            with _cleaned_lock:
                _cleaned.add(os.path.abspath(d))
            removed += clean_stale_temps(d)
    return removed


def clean_once(directory: Path) -> None:
    """clean_stale_temps the first time this process writes into `directory`."""
    key = os.path.abspath(directory)
    with _cleaned_lock:
        if key in _cleaned:
            return
        _cleaned.add(key)
    clean_stale_temps(directory)


def write_bytes(path: Path | str, data: bytes) -> Path:
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def write_text(path: Path | str, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_chunks(path: Path | str, chunks: Iterable[str]) -> Path:
    """Stream text to a file atomically, for outputs too large to hold as one string."""
    with atomic_open(path, "w") as fh:
        for chunk in chunks:
            fh.write(chunk)
    return Path(path)


def dumps_json(obj: Any) -> str:
    """The one JSON style the build directory uses: sorted keys, 2-space indent, UTF-8, final newline.

    Sorted keys make files byte-identical across runs and Python versions. NaN and Infinity are
    refused (ValueError): they are not JSON, and other tools reading the file would fail on them.
    """
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def write_json(path: Path | str, obj: Any) -> Path:
    return write_text(path, dumps_json(obj))


def _read_umask() -> int:
    # os.umask can only be read by setting it; do it once at import, before any threads.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _fsync_dir(directory: Path) -> None:
    # The rename itself must reach the disk, or a power cut can resurrect the old file.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
