"""Which CLIP judges best-of-K candidates: one rule, read by the settings and by the halving.

Torch-free, so `RenderSettings` can refuse a bad `judge` when the manifest is validated, and
`generator/candidates.py` loads exactly the CLIP the same rule names at render time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from buildfiles.errors import UserError
from generator.registry import CLIPS, DEFAULT_CLIP, DEMO_JUDGE, TINY, ModelChoice, parse_models

# Model pairs whose CLIP is the only one there is (the tiny test pair, an artist's own pairs named
# demo*): they judge with it, labelled so. The bundled demo pair has a judge of its own (DEMO_JUDGE).
OWN_JUDGE_PAIRS = (TINY, "demo")
DEFAULT_JUDGE = {DEFAULT_CLIP: "ViT-B/16"}  # the guide's CLIP -> its judge; any other guide -> DEFAULT_CLIP


@dataclass(frozen=True)
class JudgeChoice:
    clip: str    # a CLIP name from the registry, or the guide pair's name when `own`
    own: bool    # the guide's own CLIP (test/demo pairs only)

    @property
    def label(self) -> str:
        return f"{self.clip} (the guide's own CLIP: this pair has no other)" if self.own else self.clip


def judge_choice(guide_models: Any, judge: str | None) -> JudgeChoice:
    """Which CLIP judges candidates painted by `guide_models` (a models spec as render settings hold
    it, or its parsed ModelChoice). render.judge when given, else the default partner of the guide's
    CLIP (a CLIP file of one's own is judged by DEFAULT_CLIP). The tiny and demo pairs have only
    their own CLIP; the bundled demo pair is judged by DEMO_JUDGE. A judge that cannot be used is a UserError naming `judge`."""
    guide = guide_models if isinstance(guide_models, ModelChoice) else parse_models(guide_models)
    if guide.demo:  # the bundled demo pair: judged by its second CLIP, trained on the same world
        if judge not in (None, DEMO_JUDGE):
            raise UserError(f"judge {judge!r} cannot judge the 'demo' models (it never saw their toy world)",
                            hint=f"leave render.judge out: the demo pair is judged by {DEMO_JUDGE}", exit_code=2)
        return JudgeChoice(DEMO_JUDGE, False)
    if judge == DEMO_JUDGE:
        raise UserError(f"judge {DEMO_JUDGE!r} judges only the 'demo' models (it knows nothing but their toy world)",
                        hint="leave render.judge out, or name a CLIP of the registry", exit_code=2)
    vq_name = getattr(guide.vqgan, "name", guide.vqgan)
    if guide.tiny or vq_name.startswith(OWN_JUDGE_PAIRS):
        pair = TINY if guide.tiny else vq_name
        if judge is not None:
            raise UserError(f"judge {judge!r} cannot judge the {pair!r} models",
                            hint=f"leave render.judge out: the {pair} pair judges with its own CLIP", exit_code=2)
        return JudgeChoice(pair, True)
    guide_clip = guide.clip if isinstance(guide.clip, str) else None  # None: a CLIP file of one's own
    partner = DEFAULT_JUDGE.get(guide_clip, DEFAULT_CLIP)
    if judge is None:
        return JudgeChoice(partner, False)
    if judge not in CLIPS:
        raise UserError(f"judge {judge!r}: unknown CLIP", hint=f"choose one of: {', '.join(CLIPS)}", exit_code=2)
    if judge == guide_clip:
        raise UserError(f"judge {judge} is the guide's own CLIP (the optimiser games its score)",
                        hint=f"choose another CLIP, e.g. {partner}", exit_code=2)
    return JudgeChoice(judge, False)
