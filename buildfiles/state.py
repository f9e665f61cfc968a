"""build/state.sqlite: which tokens are pending, rendering or done, and where their checkpoints are.

A token's `fingerprint` (hash of prompt, seed and settings) is stored with it: if plan.json
changes a token, its old state and checkpoint no longer count and it is rendered afresh.
"""

from __future__ import annotations

import functools
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from buildfiles.errors import UserError

PENDING, RENDERING, DONE, FAILED = "pending", "rendering", "done", "failed"

SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
  id INTEGER PRIMARY KEY,
  status TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  iteration INTEGER NOT NULL DEFAULT 0,
  checkpoint TEXT,
  error TEXT,
  updated REAL NOT NULL
)
"""


@dataclass(frozen=True)
class TokenRow:
    id: int
    status: str
    fingerprint: str
    iteration: int
    checkpoint: str | None
    error: str | None


class StateError(UserError):
    """state.sqlite is garbled or unreadable."""


def _guarded(method):
    """A garbled database is one line naming the file and the fix, never a traceback."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as e:  # "file is not a database", "database disk image is malformed", ...
            raise StateError(
                f"{self.path} is not a readable render state ({e})",
                hint=f"move it away (mv {self.path} {self.path}.bad) and run again: finished tokens are recognised "
                     "from renders/*.json and images/, unfinished ones resume from checkpoints/",
            ) from None

    return call


class RenderState:
    @_guarded
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(SCHEMA)
        self.db.commit()

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "RenderState":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @_guarded
    def get(self, token_id: int) -> TokenRow | None:
        r = self.db.execute("SELECT id, status, fingerprint, iteration, checkpoint, error FROM tokens WHERE id=?", (token_id,)).fetchone()
        return TokenRow(*r) if r else None

    @_guarded
    def all(self) -> list[TokenRow]:
        return [TokenRow(*r) for r in self.db.execute("SELECT id, status, fingerprint, iteration, checkpoint, error FROM tokens ORDER BY id")]

    @_guarded
    def _upsert(self, token_id: int, fingerprint: str, status: str, iteration: int, checkpoint: str | None, error: str | None) -> None:
        self.db.execute(
            "INSERT INTO tokens (id, status, fingerprint, iteration, checkpoint, error, updated) VALUES (?,?,?,?,?,?,?) "
            "ON CONFLICT(id) DO UPDATE SET status=excluded.status, fingerprint=excluded.fingerprint, "
            "iteration=excluded.iteration, checkpoint=excluded.checkpoint, error=excluded.error, updated=excluded.updated",
            (token_id, status, fingerprint, iteration, checkpoint, error, time.time()),
        )
        self.db.commit()

    def pending(self, token_id: int, fingerprint: str) -> None:
        self._upsert(token_id, fingerprint, PENDING, 0, None, None)

    def rendering(self, token_id: int, fingerprint: str, iteration: int = 0, checkpoint: str | None = None) -> None:
        self._upsert(token_id, fingerprint, RENDERING, iteration, checkpoint, None)

    def done(self, token_id: int, fingerprint: str, iteration: int) -> None:
        self._upsert(token_id, fingerprint, DONE, iteration, None, None)

    def failed(self, token_id: int, fingerprint: str, error: str) -> None:
        row = self.get(token_id)
        self._upsert(token_id, fingerprint, FAILED, row.iteration if row else 0, row.checkpoint if row else None, error)
