"""`paint`: one picture from one prompt, as a one-token build in its own folder.

    plan.json    the one token: prompt, seed, render settings, in the build's format
    inputs/      the init picture, copied in
    images/1.png the picture; progress.png (terminal) or an inline output (notebook) as it forms
    checkpoints/1.pt while unfinished: run the same command again to go on from it

The render settings are the build's `RenderSettings`, so whatever paints well here paints the
same in a collection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buildfiles.errors import UserError
from buildfiles.plan import PlannedToken

AUTO = "auto"
AUTO_CAP = 2  # `--iterations auto` paints at most twice the fixed default unless --max-iterations says


@dataclass(frozen=True)
class PaintRequest:
    prompt: str
    out: Path | None = None
    init: str | None = None             # a picture's path, or "jax" for the bundled sketch
    init_weight: float | None = None
    iterations: int | str | None = None  # None: the profile's (500 real, 60 demo); "auto": stop when done
    max_iterations: int | None = None   # with iterations "auto" (None: AUTO_CAP x the profile's count)
    size: tuple[int, int] | None = None
    seed: int | None = None             # None: from the prompt
    snapshots: tuple[int, ...] = ()
    video: int | None = None            # frame every N iterations
    models: str | dict | None = None    # None: the real default pair if cached, else the demo pair
    show_every: int | None = 10
    story: str = ""                     # "b^c": prompts after the first (generator/story.py)
    change_every: int | None = None
    zoom: dict[str, Any] | None = None  # generator.zoom.ZoomSettings fields
    cutn: int | None = None
    step_size: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # any other RenderSettings field


@dataclass(frozen=True)
class Profile:
    """Defaults that depend on the models: the demo pair paints at its trained size."""

    models: str | dict
    size: tuple[int, int] | None = None
    iterations: int | None = None
    cutn: int | None = None
    demo_because: str | None = None     # why the demo pair stands in (None: it was asked for, or not used)


def choose_models(models: str | dict | None, models_dir: Path | None) -> Profile:
    """The models asked for; without a choice, the real default pair if its weights are here, else the demo pair."""
    from collection.plan.draft import DEMO_MAX_CUTN, DEMO_MAX_ITERATIONS, DEMO_MAX_SIZE, DEMO_MODELS
    from generator.registry import parse_models
    from generator.settings import DEFAULT_MODELS
    from generator.weights import require_files

    demo = Profile(DEMO_MODELS, (DEMO_MAX_SIZE, DEMO_MAX_SIZE), DEMO_MAX_ITERATIONS, DEMO_MAX_CUTN)
    if models == DEMO_MODELS:
        return demo
    if models is not None:
        return Profile(models)
    try:
        require_files(parse_models(DEFAULT_MODELS), models_dir)
    except UserError as e:
        return Profile(demo.models, demo.size, demo.iterations, demo.cutn, demo_because=e.message)
    return Profile(DEFAULT_MODELS)


def split_prompt(prompt: str, story: str) -> tuple[str, str]:
    """nerdyrodent's form: "a^b^c" paints a, then b, then c. Returns (first prompt, the story after it)."""
    from generator.story import SEPARATOR, split_story

    try:
        parts = split_story(prompt) if prompt else ()
    except ValueError as e:
        raise UserError(f"PROMPT: {e}", exit_code=2) from None
    if not parts:
        if not story:
            raise UserError("give a PROMPT (or --story \"a^b^c\")", hint='roboz-collection paint "a red robot in a volcano"',
                            exit_code=2)
        first, *rest = split_story(story)
        return first, SEPARATOR.join(rest)
    return parts[0], SEPARATOR.join([*parts[1:], *([story] if story else [])])


def iterations_for(req: PaintRequest, profile: Profile) -> dict[str, Any]:
    """`iterations` (and max_iterations under auto) as RenderSettings takes them."""
    from generator.settings import RenderSettings

    fixed = profile.iterations or RenderSettings.iterations
    if req.iterations == AUTO:
        return {"iterations": AUTO, "max_iterations": req.max_iterations or AUTO_CAP * fixed}
    if req.max_iterations is not None:
        raise UserError("--max-iterations goes with --iterations auto", hint="add --iterations auto, or leave --max-iterations out",
                        exit_code=2)
    return {"iterations": req.iterations or fixed}


def settings_for(req: PaintRequest, profile: Profile, init_rel: str | None):
    """The RenderSettings of the request: the build's defaults, the profile's, then the flags."""
    from generator.settings import RenderSettings, VideoSettings

    data: dict[str, Any] = {
        "models": profile.models,
        "init_image": init_rel,
        "size": tuple(req.size or profile.size or RenderSettings.size),
        **iterations_for(req, profile),
        "snapshots": tuple(req.snapshots),
        "preview_every": req.show_every or None,
        **({"init_weight": req.init_weight} if req.init_weight is not None else {}),
        **({"cutn": req.cutn or profile.cutn} if (req.cutn or profile.cutn) else {}),
        **({"step_size": req.step_size} if req.step_size is not None else {}),
        **({"video": VideoSettings(every=req.video)} if req.video else {}),
        **req.extra,
    }
    _, story = split_prompt(req.prompt, req.story)
    if story:
        data["story"], data["change_every"] = story, req.change_every
    elif req.change_every:
        raise UserError("--change-every needs a story: PROMPT \"a^b^c\" or --story \"b^c\"", exit_code=2)
    if req.zoom:
        from generator.zoom import ZoomSettings

        data["zoom"] = ZoomSettings(**req.zoom)
    try:
        return RenderSettings(**data)
    except (ValueError, TypeError) as e:
        raise UserError(f"paint: {e}", hint="see `roboz-collection paint --help`", exit_code=2) from None


def default_folder(prompt: str) -> Path:
    from collection.studio.studio_plan import slug

    return Path.cwd() / f"paint-{slug(prompt)}"


@dataclass(frozen=True)
class PaintPlan:
    folder: Path
    prompt: str
    seed: int
    settings: Any       # generator.settings.RenderSettings
    profile: Profile
    changed: bool


def plan_paint(req: PaintRequest, *, models_dir: Path | None = None, force: bool = False) -> PaintPlan:
    """Write the one-token plan.json into the paint folder (creating it)."""
    from collection.studio.studio_plan import copy_input, prompt_seed, write_plan

    first, _ = split_prompt(req.prompt, req.story)
    folder = Path(req.out) if req.out else default_folder(first)
    folder.mkdir(parents=True, exist_ok=True)
    profile = choose_models(req.models, models_dir)
    inputs = {}
    init_rel = None
    if req.init:
        init_rel, sha = copy_input(folder, req.init, "--init")
        inputs[init_rel] = sha
    s = settings_for(req, profile, init_rel)
    render = s.to_dict()
    if isinstance(render.get("models"), dict):
        from generator.weights import pin_models

        render["models"] = pin_models(render["models"])
    seed = prompt_seed(req.prompt) if req.seed is None else req.seed
    token = PlannedToken(id=1, name=first[:80], special=None, traits={}, prompt=first, seed=seed, render={})
    changed = write_plan(folder, first[:80], render, [token], inputs, force=force, command="paint")
    return PaintPlan(folder, first, seed, s, profile, changed)


def paint(req: PaintRequest, *, show: str = "auto", device: str | None = None, models_dir: Path | None = None,
          threads: int | None = None, progress: bool = True, force: bool = False, on_plan=None):
    """Plan and render one picture; returns (PaintPlan, RenderReport). Resumes what a stopped run left.

    show: "auto" (inline under a notebook kernel, else folder/progress.png), "inline", "file" or "none".
    """
    from collection.studio.render import render_folder
    from collection.studio.show import make_show

    p = plan_paint(req, models_dir=models_dir, force=force)
    if on_plan:
        on_plan(p)
    report = render_folder(p.folder, make_show(p.folder, show), device=device, models_dir=models_dir, threads=threads,
                           progress=progress)
    return p, report
