"""Render settings: the one description of how a token is painted.

The manifest's `render:` block, a special's `render:` overrides and plan.json's
`render` entries all validate against this dataclass, so the generator and the
manifest cannot drift apart. The `Field` bounds and `__pydantic_config__` (reject
unknown keys) are enforced only when pydantic validates the manifest; building the
dataclass directly (from plan.json, in tests) checks just `__post_init__`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Annotated, Any, Iterable, Literal

from pydantic import BeforeValidator, Field, Strict

from buildfiles.errors import UserError, strict_type_message
from generator.autostop import AutoStop, auto_stop_from_data
from generator.judges import judge_choice
from generator.registry import DEFAULT_CLIP, DEFAULT_VQGAN, parse_models
from generator.story import StoryStep, story_from_data, story_to_data
from generator.zoom import ZoomSettings, zoom_from_data

Optimiser = Literal["adam", "adamw", "adagrad", "adamax", "rmsprop"]
Augment = Literal["flip", "affine", "perspective", "jitter", "sharpness", "noise", "erasing", "resized_crop"]
Precision = Literal["fp32", "bf16", "fp16"]

DEFAULT_MODELS = f"{DEFAULT_VQGAN}+{DEFAULT_CLIP}"
BUNDLED_INIT = "jax"  # the stand-in sketch shipped in collection/assets/jax.png
AUTO = "auto"  # iterations: auto -- stop when the judge score stops improving (generator/autostop.py)


def _check_iterations(v: Any) -> Any:
    """A whole number of iterations, or "auto" (generator/autostop.py): one clear line for anything else."""
    if v == AUTO:
        return v
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"{strict_type_message('int_type', v)}; or `auto` with max_iterations beside it")
    if not 0 < v <= 1_000_000:
        raise ValueError(f"must be from 1 to 1000000 (or `auto`), got {v}")
    return v


def _check_models(models: Any) -> Any:
    """Names and structure of a models spec (files are checked by the manifest, hashed by the plan)."""
    try:
        parse_models(models, base="/")
    except UserError as e:
        raise ValueError(e.message + (f"; {e.hint}" if e.hint else "")) from None
    return models


@dataclass(frozen=True)
class VideoSettings:
    __pydantic_config__ = {"extra": "forbid"}

    every: Annotated[int, Strict(), Field(gt=0)] = 10
    fps: Annotated[int, Strict(), Field(gt=0, le=120)] = 24


@dataclass(frozen=True)
class RenderSettings:
    # Numbers are Strict(): a manifest's `iterations: true` or `cut_pow: "3"` is refused, not read as 1 or 3.0.
    __pydantic_config__ = {"extra": "forbid"}

    # "<vqgan>+<clip>" from the model registry, "tiny" for the random-weight test pair, or a
    # mapping naming the artist's own files (generator/registry.py; plan.json pins their sha256).
    models: Annotated[str | dict[str, Any], BeforeValidator(lambda v: _check_models(v))] = DEFAULT_MODELS
    # In a manifest: a path relative to the manifest's folder, "jax" for the bundled
    # sketch, or null to start from random codebook entries. In plan.json: a path
    # relative to the build directory (plan copies inputs into build/inputs/).
    init_image: str | None = BUNDLED_INIT
    init_weight: Annotated[float, Strict(), Field(ge=0)] = 0.0
    size: tuple[Annotated[int, Strict(), Field(ge=16, le=4096)], Annotated[int, Strict(), Field(ge=16, le=4096)]] = (384, 384)  # width, height
    # A number, or "auto" with max_iterations beside it. Once built, `iterations` is always the number
    # of iterations a token may run (max_iterations under auto) and `auto_stop` says whether it may stop
    # sooner, so everything that counts iterations reads one int; to_dict writes "auto" back.
    iterations: Annotated[int | Literal["auto"], BeforeValidator(lambda v: _check_iterations(v))] = 500
    snapshots: tuple[Annotated[int, Strict(), Field(gt=0)], ...] = ()
    step_size: Annotated[float, Strict(), Field(gt=0)] = 0.1
    cutn: Annotated[int, Strict(), Field(gt=0, le=512)] = 32
    cut_pow: Annotated[float, Strict(), Field(gt=0)] = 1.0
    optimiser: Optimiser = "adam"
    augments: tuple[Augment, ...] = ("flip", "affine", "perspective", "jitter")
    # "path:weight:stop" (path relative like init_image) and "seed:weight".
    image_prompts: tuple[str, ...] = ()
    noise_prompts: tuple[str, ...] = ()
    video: VideoSettings | None = None
    batch_size: Annotated[int, Strict(), Field(gt=0, le=256)] = 1
    checkpoint_every: Annotated[int, Strict(), Field(gt=0)] = 50
    precision: Precision = "fp32"
    # Best-of-K (generator/candidates.py): K seeds per token by successive halving, judged by
    # `judge`, a CLIP other than the guide (None: the default partner of the guide's CLIP).
    candidates: Annotated[int, Strict(), Field(gt=0, le=64)] = 1
    judge: str | None = None
    # Story mode (generator/story.py): prompts that follow the token's own at set iterations,
    # "b^c" with change_every, or [{at, prompt}]. Zoom video (generator/zoom.py): the last
    # zoom.frames × zoom.iterations iterations, each frame the one before zoomed and painted again.
    story: str | tuple[StoryStep, ...] = ()
    change_every: Annotated[int, Strict(), Field(gt=0)] | None = None
    zoom: ZoomSettings | None = None
    # The picture as it stands every N iterations (kind "preview": progress/{id}.png, paint's display).
    preview_every: Annotated[int, Strict(), Field(gt=0)] | None = None
    # iterations: auto (generator/autostop.py): at most max_iterations, judged every auto_stop.every.
    max_iterations: Annotated[int, Strict(), Field(gt=0, le=1_000_000)] | None = None
    auto_stop: AutoStop | None = None

    def __post_init__(self) -> None:
        self._resolve_auto()
        _check_models(self.models)  # also when built directly (plan.json, --models), not through pydantic
        late = [s for s in self.snapshots if s > self.iterations]
        if late:
            raise ValueError(f"snapshots {late} come after the last iteration ({self.iterations})")
        if self.judge is not None:  # the rule the halving loads its judge by (a mapping of own files included)
            try:
                judge_choice(parse_models(self.models, base="/"), self.judge)
            except UserError as e:
                raise ValueError(e.message + (f"; {e.hint}" if e.hint else "")) from None
        if self.story or self.change_every is not None:
            from generator import story

            story.check(self.story, self.change_every, self.iterations)
        if self.zoom is not None:
            from generator import zoom

            zoom.check(self.iterations, self.zoom)

    def _resolve_auto(self) -> None:
        """`iterations: auto` -> iterations = max_iterations, auto_stop set (its defaults unless given).

        The resolved form (a number equal to max_iterations, auto_stop set) is accepted as auto too,
        so dataclasses.replace() of auto settings stays auto."""
        it, top, rule = self.iterations, self.max_iterations, self.auto_stop
        if it == AUTO:
            if top is None:
                raise ValueError("iterations: auto needs max_iterations beside it (the most a token may run), "
                                 "e.g. max_iterations: 1000")
            object.__setattr__(self, "iterations", top)
            object.__setattr__(self, "auto_stop", rule or AutoStop())
        elif rule is not None and top != it:
            raise ValueError("auto_stop goes with iterations: auto (and max_iterations); "
                             "with a fixed number of iterations leave auto_stop out")
        elif rule is None and top is not None:
            raise ValueError(f"max_iterations goes with iterations: auto; with a fixed count ({it}) leave it out "
                             "(in a special's render: max_iterations: null)")
        _check_iterations(self.iterations)  # also when built directly (plan.json, tests), not through pydantic
        if self.auto_stop is not None:
            if self.zoom is not None:
                raise ValueError("iterations: auto cannot go with zoom (its frames are counted back from the last "
                                 "iteration): give a number of iterations")
            if self.story or self.change_every is not None:
                raise ValueError("iterations: auto cannot go with a story (its prompts change at set iterations): "
                                 "give a number of iterations")

    @property
    def auto(self) -> bool:
        """Whether a token may stop before `iterations` (iterations: auto)."""
        return self.auto_stop is not None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        if self.auto_stop is not None:
            d["iterations"] = AUTO  # max_iterations and auto_stop hold the rest
        # Written only when set, so plans (and render fingerprints) made before best-of-K
        # existed stay byte-identical and no finished token re-renders after an upgrade.
        for k, default in _OMIT_DEFAULT.items():
            if d[k] == default:
                del d[k]
        d["size"] = list(self.size)
        for k in ("snapshots", "augments", "image_prompts", "noise_prompts"):
            d[k] = list(d[k])
        if "story" in d:
            d["story"] = story_to_data(self.story)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RenderSettings":
        """Rebuild from plan.json (already validated when the plan was made)."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown render settings: {sorted(unknown)}")
        d = dict(d)
        if "size" in d:
            d["size"] = tuple(d["size"])
        for k in ("snapshots", "augments", "image_prompts", "noise_prompts"):
            if k in d:
                d[k] = tuple(d[k])
        if isinstance(d.get("video"), dict):
            d["video"] = VideoSettings(**d["video"])
        if "story" in d:
            d["story"] = story_from_data(d["story"])
        if "zoom" in d:
            d["zoom"] = zoom_from_data(d["zoom"])
        if "auto_stop" in d:
            d["auto_stop"] = auto_stop_from_data(d["auto_stop"])
        return cls(**d)

    def with_overrides(self, overrides: dict[str, Any]) -> "RenderSettings":
        return RenderSettings.from_dict(merge_render(self.to_dict(), overrides))


def merge_render(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Render settings `over` laid over `base` (a special's or a draft's overrides over the collection's).

    One rule for the manifest, plan.json and drafts: an override that gives `iterations` a number
    makes the count fixed, so the base's max_iterations and auto_stop do not carry over to it."""
    merged = {**base, **over}
    if "iterations" in over and over["iterations"] != AUTO:
        for k in ("max_iterations", "auto_stop"):
            if k not in over:
                merged.pop(k, None)
    return merged


_OMIT_DEFAULT = {"candidates": 1, "judge": None, "story": (), "change_every": None, "zoom": None, "preview_every": None,
                 "max_iterations": None, "auto_stop": None}

RENDER_FIELDS = tuple(f.name for f in fields(RenderSettings))


def plan_settings(defaults: dict[str, Any], overrides: Iterable[dict[str, Any]]) -> list[RenderSettings]:
    """plan.json's render entries read back once: for each token's overrides, its RenderSettings (the
    plan's defaults with the overrides laid over them). Tokens with equal overrides share one object,
    so a million-token plan builds a handful, and everything after works on the typed settings."""
    built: dict[str, RenderSettings] = {}
    out = []
    for over in overrides:
        key = json.dumps(over, sort_keys=True)
        if key not in built:
            built[key] = RenderSettings.from_dict(merge_render(defaults, over))
        out.append(built[key])
    return out
