"""Atomic file writes: every step's output appears whole or not at all.

A crash or Ctrl-C mid-write must never leave a half-written plan.json or PNG that a
later step would trust, so each write goes to a temp file in the same directory,
is fsynced, then renamed over the target (rename is atomic on POSIX).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Iterable, Iterator


@contextlib.contextmanager
def atomic_open(path: Path | str, mode: str = "wb") -> Iterator[IO]:
    """Open a temp file beside `path`; on clean exit it replaces `path`, on error it vanishes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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
