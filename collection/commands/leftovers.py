"""What a killed run left in a build folder, removed when the step that writes there runs again."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable


def clean_leftovers(build_dir: Path, folders: Iterable[str], command: str) -> None:
    """Temp files of interrupted atomic writes (`.NAME.*.tmp`, older than this process) in the
    step's folders. Under the build lock: no other step can be writing there meanwhile."""
    from buildfiles.atomicio import clean_step_folders
    from buildfiles.lock import build_lock

    if not Path(build_dir).is_dir():
        return   # the step itself says what is missing
    with build_lock(build_dir, command):
        clean_step_folders(build_dir, folders)
