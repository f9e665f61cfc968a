"""One process per build directory: an exclusive lock every writing command takes.

    with build_lock(build_dir, "mint"):
        ...

The lock is an fcntl (flock) lock on `BUILD_DIR/.roboz.lock`, so the kernel drops it when its
process dies, however it dies: a lock left by a killed process is simply taken over. The same
file holds a small JSON note (pid, command, host, start time) that a second process reads to
say who holds the lock, and refuses at once instead of waiting.

Nested use in one process (`build` runs render, metadata and preview) re-enters the lock
the process already holds. The lock file is never deleted (deleting a flock file lets two
processes lock two different files); on release its note is emptied. Descriptors are not
inherited by child processes (Python's default), so a detached anvil never keeps a build locked.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from buildfiles.errors import UserError

LOCK_FILE = ".roboz.lock"


class BuildLocked(UserError):
    """Another live process holds the build directory."""


@dataclass(frozen=True)
class LockInfo:
    pid: int
    command: str
    host: str
    since: float          # time.time() when the lock was taken (argv is not kept: it may hold credentials)

    def describe(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.since))
        gone = " (it has exited, but a process it started still holds the lock)" if not self.alive() else ""
        return f"pid {self.pid} on {self.host} running `{self.command}` since {when} ({_ago(time.time() - self.since)}){gone}"

    def alive(self) -> bool:
        if self.host != socket.gethostname():
            return True  # cannot tell from here
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True


@dataclass
class _Held:
    fd: int
    info: LockInfo
    depth: int = 1
    took_over: LockInfo | None = None


_held: dict[str, _Held] = {}   # resolved lock path -> the lock this process holds


def _ago(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 120:
        return f"{s} s ago"
    if s < 7200:
        return f"{s // 60} min ago"
    return f"{s // 3600} h ago"


def lock_path(build_dir: Path | str) -> Path:
    return Path(build_dir) / LOCK_FILE


def read_info(build_dir: Path | str) -> LockInfo | None:
    """The note in the lock file (the holder's, or a dead process's left behind), or None."""
    try:
        raw = json.loads(lock_path(build_dir).read_text("utf-8") or "null")
        return LockInfo(int(raw["pid"]), str(raw["command"]), str(raw.get("host", "")), float(raw["since"]))
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _write_info(fd: int, info: LockInfo) -> None:
    data = json.dumps({"pid": info.pid, "command": info.command, "host": info.host, "since": info.since},
                      sort_keys=True).encode() + b"\n"
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    os.fsync(fd)


def acquire(build_dir: Path | str, command: str, create: bool = False) -> _Held:
    """Take the lock or raise BuildLocked naming the holder. Re-entrant within one process.
    `create` makes a missing build directory (build, plan); otherwise a missing one is a UserError."""
    build_dir = Path(build_dir)
    if create:
        build_dir.mkdir(parents=True, exist_ok=True)
    elif not build_dir.is_dir():
        raise UserError(f"build directory {build_dir} not found",
                        hint="give the folder holding plan.json (run `roboz-collection plan MANIFEST` first)")
    path = lock_path(build_dir)
    key = str(path.resolve())
    held = _held.get(key)
    if held is not None:
        held.depth += 1
        return held
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except IsADirectoryError:
        raise UserError(f"{path} is a folder where the lock file should be",
                        hint=f"remove it (rmdir {path}); the lock is a small file each command makes itself", exit_code=2) from None
    except OSError as e:
        raise UserError(f"cannot create the lock file {path}: {e.strerror}",
                        hint="the build directory must be writable by you", exit_code=2) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        os.close(fd)
        if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise UserError(f"cannot lock {path}: {e.strerror}",
                            hint="the build directory must be on a file system that supports file locks") from None
        raise BuildLocked(_busy_message(build_dir, command),
                          hint="wait for it to finish (or stop it), then run this command again") from None
    previous = read_info(build_dir)  # a note left by a process that died holding the lock
    info = LockInfo(os.getpid(), command, socket.gethostname(), time.time())
    _write_info(fd, info)
    held = _Held(fd, info, took_over=previous if previous and previous.pid != os.getpid() else None)
    _held[key] = held
    return held


def _busy_message(build_dir: Path, command: str) -> str:
    info = None
    for _ in range(20):  # the holder writes its note right after locking: give it a moment
        info = read_info(build_dir)
        if info:
            break
        time.sleep(0.025)
    who = info.describe() if info else "another process (it left no note)"
    return f"{build_dir} is in use by {who}; `{command}` needs it alone"


def release(build_dir: Path | str) -> None:
    key = str(lock_path(build_dir).resolve())
    held = _held.get(key)
    if held is None:
        return
    held.depth -= 1
    if held.depth > 0:
        return
    del _held[key]
    with contextlib.suppress(OSError):
        os.ftruncate(held.fd, 0)  # the note goes; the file stays (see the module docstring)
    os.close(held.fd)             # closing drops the flock


@contextlib.contextmanager
def build_lock(build_dir: Path | str, command: str, create: bool = False) -> Iterator[_Held]:
    """`with build_lock(build_dir, "mint"):` holds the build directory for this process, or raises BuildLocked."""
    held = acquire(build_dir, command, create)
    try:
        yield held
    finally:
        release(build_dir)
