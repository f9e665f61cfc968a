"""renders/{id}.json: what the render step says about each finished image.

One record per token, written by the render step once the image is on disk, read by
metadata, publish, mint and preview. Layout (keys sorted on disk):

    {
      "format": "roboz-render/1",
      "id": 7, "seed": 1234, "prompt": "text:weight | ...",
      "models": "vqgan_imagenet_f16_16384+ViT-B/32",   # or "tiny"; older files: a list or {vqgan, clip}
      "tiny": false,                                   # random-weight test models: never a real render
      "test_models": null,                             # or the test pair's label ("demo models ..."): never a real render
      "iterations": 500, "size": [384, 384], "final_loss": 0.71 (null if not finite),
      "seconds": 812.4, "device": "cuda",
      "settings": {<RenderSettings.to_dict()>},
      "image_sha256": "<sha256 of images/{id}.png as the renderer wrote it>",
      ... any other keys a later step adds are kept as they are
    }

`image_sha256` lets every later step tell the image the renderer wrote from one edited or
truncated since. Records written before it existed (no "format" key) still read; their
`image_sha256` is None.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from buildfiles import atomicio
from buildfiles.errors import UserError
from buildfiles.hashing import sha256_file

RECORD_FORMAT = "roboz-render/1"
RECORDS_DIR = "renders"
ANIMATION_KEY = "animation_sha256"  # optional extra key: sha256 of animations/{id}.mp4 as written


class RecordError(UserError):
    """A render record is missing, unreadable, or of an unknown format."""


@dataclass(frozen=True)
class RenderRecord:
    id: int
    seed: int
    models: Any                       # a string; older records may hold a list or a {vqgan, clip} dict
    tiny: bool
    iterations: int
    size: tuple[int, int]             # (width, height) of the final image
    final_loss: float | None
    seconds: float
    device: str
    settings: dict[str, Any]
    prompt: str | None = None
    image_sha256: str | None = None   # None only in records written before it existed
    test_models: str | None = None    # the label of the test pair that made it (tiny, demo); None: real weights
    extra: dict[str, Any] = field(default_factory=dict)  # keys this module does not know, kept on rewrite

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        d["size"] = list(self.size)
        loss = self.final_loss
        d["final_loss"] = float(loss) if loss is not None and math.isfinite(loss) else None  # strict JSON, no NaN
        return {**self.extra, **d, "format": RECORD_FORMAT}

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "render record", token_id: int | None = None) -> "RenderRecord":
        hint = rerender_hint(token_id)
        if not isinstance(d, dict):
            raise RecordError(f"{where} is not a JSON object", hint=hint)
        fmt = d.get("format")
        if fmt is not None and fmt != RECORD_FORMAT:
            raise RecordError(f"{where}: unknown render record format {fmt!r}, expected {RECORD_FORMAT!r}",
                              hint=f"use the roboz-collection version that rendered it, or {hint}")
        known = {f.name for f in fields(cls)} - {"extra"}
        try:
            return cls(
                id=int(d["id"]), seed=int(d["seed"]), models=d.get("models"), tiny=bool(d.get("tiny", False)),
                iterations=int(d["iterations"]), size=tuple(int(v) for v in d.get("size") or (0, 0)),
                final_loss=None if d.get("final_loss") is None else float(d["final_loss"]),
                seconds=float(d.get("seconds", 0.0)), device=str(d.get("device", "")),
                settings=dict(d.get("settings") or {}), prompt=d.get("prompt"), image_sha256=d.get("image_sha256"),
                test_models=d.get("test_models"),
                extra={k: v for k, v in d.items() if k not in known and k != "format"},
            )
        except KeyError as e:
            raise RecordError(f"{where} has no {e.args[0]!r}", hint=hint) from None
        except (TypeError, ValueError) as e:
            raise RecordError(f"{where} is malformed ({e})", hint=hint) from None


def rerender_hint(token_id: int | None = None) -> str:
    """How to re-render one token: deleting its image always does (same seed and settings, so the same
    picture and a fresh record). The render step also re-renders a done token whose record is gone."""
    image = f"images/{token_id}.png" if token_id is not None else "images/<id>.png"
    return f"re-render that token: delete {image} and run `roboz-collection render BUILD_DIR` again"



def record_path(build_dir: Path | str, token_id: int) -> Path:
    return Path(build_dir) / RECORDS_DIR / f"{token_id}.json"


def image_path(build_dir: Path | str, token_id: int) -> Path:
    """The final image a record describes."""
    return Path(build_dir) / "images" / f"{token_id}.png"


def write_record(build_dir: Path | str, record: RenderRecord) -> Path:
    """Atomically write renders/{id}.json (strict JSON: a non-finite loss is written as null)."""
    path = record_path(build_dir, record.id)
    text = json.dumps(record.to_dict(), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
    return atomicio.write_text(path, text)


def read_record(build_dir: Path | str, token_id: int) -> RenderRecord:
    """renders/{id}.json as a RenderRecord; a missing or garbled file is one RecordError naming it."""
    path = record_path(build_dir, token_id)
    rel = f"{RECORDS_DIR}/{token_id}.json"
    try:
        raw = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        # With its image there, the token counts as rendered and `render` would skip it.
        hint = rerender_hint(token_id) if image_path(build_dir, token_id).exists() else "render first: `roboz-collection render BUILD_DIR`"
        raise RecordError(f"{rel} not found in {build_dir}", hint=hint) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RecordError(f"{path} is not valid JSON ({e})", hint=rerender_hint(token_id)) from None
    except OSError as e:
        raise RecordError(f"{path} cannot be read ({e.strerror})") from None
    rec = RenderRecord.from_dict(raw, where=str(path), token_id=token_id)
    if rec.id != token_id:
        raise RecordError(f"{path} describes token {rec.id}, not {token_id}", hint=rerender_hint(token_id))
    return rec


def image_matches(build_dir: Path | str, record: RenderRecord) -> bool | None:
    """Whether images/{id}.png still has the bytes the renderer wrote: True, False (edited, truncated or
    missing), or None when the record predates image_sha256 and cannot tell."""
    if record.image_sha256 is None:
        return None
    p = image_path(build_dir, record.id)
    try:
        return sha256_file(p) == record.image_sha256
    except OSError:
        return False
