"""The render step's side of best-of-K: which judge to load, and what a result adds to the build.

    candidates/{id}/{seed}.png    every candidate's last image (the winner's is images/{id}.png too)
    renders/{id}.json             + "candidates": [{seed, score, stop_iteration}], "judge": label

The halving itself is generator/candidates.py; this module only turns its results into files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from buildfiles import atomicio

CANDIDATES_DIR = "candidates"


class Judges:
    """Loads each judge CLIP once per render, only when a batch asks for candidates or auto-stop."""

    def __init__(self, models_dir: Path | None = None):
        self.models_dir = models_dir
        self._cache: dict[tuple[str, str | None], Any] = {}

    def for_batch(self, models, jobs: Sequence) -> Any | None:
        s = jobs[0].settings
        if s.candidates <= 1 and not s.auto_stop:  # iterations: auto judges too (generator/autostop.py)
            return None
        from generator.candidates import load_judge
        from generator.judges import judge_choice

        # the settings' models spec round-trips through parse_models; models.name is only a label
        key = (str(s.models), s.judge)
        if key not in self._cache:
            self._cache[key] = load_judge(judge_choice(s.models, s.judge), models, self.models_dir)
        return self._cache[key]


def candidate_image_path(build_dir: Path | str, token_id: int, seed: int) -> Path:
    return Path(build_dir) / CANDIDATES_DIR / str(token_id) / f"{seed}.png"


def write_candidates(build_dir: Path, result, tiny: bool, test_models: str | None = None) -> dict[str, Any]:
    """Write a best-of-K result's candidate images; the keys its render record gains ({} for K = 1)."""
    if not result.candidates:
        return {}
    from generator.outputs import png_bytes

    for c in result.candidates:
        if c.image is not None:
            atomicio.write_bytes(candidate_image_path(build_dir, result.id, c.seed), png_bytes(c.image, tiny=tiny, test_models=test_models))
    return {"candidates": [c.to_dict() for c in result.candidates], "judge": result.judge}
