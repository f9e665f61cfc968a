"""`variations`: one base prompt × chosen variations, painted as one build, shown as one contact sheet.

Axes, combined as a grid (every combination is a cell):

    values   texts for the base prompt's one {placeholder}          --values red,blue,green
    trait    a manifest trait's values (their prompt phrases) for it --trait manifest.yaml:colour
    styles   phrases for {style}, or appended as ", <style>"        --styles "trending on artstation" …
    seeds    seeds                                                   --seeds 1,2,3
    iterations  iteration counts (each cell its own render length)  --iterations 60,200

Cells are tokens 1…N of a plan.json in the folder, rendered by the build's render step (batched,
resumable); the sheet is variations.png, the cells' facts variations.json.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from buildfiles import atomicio
from buildfiles.errors import UserError

SHEET = "variations.png"
FACTS = "variations.json"
FACTS_FORMAT = "roboz-variations/1"
MAX_CELLS = 256


@dataclass(frozen=True)
class Axis:
    name: str                            # the placeholder it fills ("colour", "style"), or "seed" / "iterations"
    entries: tuple[tuple[str, Any], ...]  # (label, what goes in: text, seed or iteration count)


@dataclass(frozen=True)
class Cell:
    cell: int                            # 1-based, also the token id
    prompt: str
    seed: int | None                     # None: the folder's default seed
    iterations: int | None               # None: the settings' iterations
    texts: dict[str, str] = field(default_factory=dict)   # placeholder -> the text it got (what --pick writes)
    labels: dict[str, str] = field(default_factory=dict)  # axis -> the entry's label (a trait value's name)

    def caption(self, varied: Sequence[str]) -> tuple[str, ...]:
        """The tile's lines: "#cell", then the prompt, then the numbers that vary."""
        extra = []
        if "seed" in varied:
            extra.append(f"seed {self.seed}")
        if "iterations" in varied:
            extra.append(f"{self.iterations} it")
        return (f"#{self.cell}" + (f"  {' · '.join(extra)}" if extra else ""), self.prompt)


def placeholders(text: str) -> list[str]:
    from collection.plan.manifest import PLACEHOLDER

    return list(dict.fromkeys(m.group(1) for m in PLACEHOLDER.finditer(text)))


def split_list(text: str, what: str) -> list[str]:
    """"red, blue,green" -> ["red", "blue", "green"]; empty items are an error."""
    items = [t.strip() for t in text.split(",")]
    if not items or any(not t for t in items):
        raise UserError(f"{what} {text!r}: give comma-separated items, e.g. red,blue,green", exit_code=2)
    return items


def numbers(text: str, what: str, low: int) -> list[int]:
    out = []
    for t in split_list(text, what):
        try:
            n = int(t)
        except ValueError:
            raise UserError(f"{what}: {t!r} is not a whole number", exit_code=2) from None
        if n < low:
            raise UserError(f"{what}: {n} is below {low}", exit_code=2)
        out.append(n)
    return out


def trait_axis(spec: str, base: str) -> Axis:
    """--trait MANIFEST:CATEGORY: the category's values (label: the value's name; text: its prompt phrase)."""
    path, sep, cat = spec.rpartition(":")
    if not sep or not path or not cat:
        raise UserError(f"--trait {spec!r}: write MANIFEST:CATEGORY, e.g. manifest.yaml:colour", exit_code=2)
    from collection.plan.manifest import load_manifest

    m = load_manifest(Path(path))
    by_name = {c.name: c for c in m.categories}
    if cat not in by_name:
        raise UserError(f"--trait {spec}: {path} has no trait {cat!r}", hint=f"its traits: {', '.join(by_name)}", exit_code=2)
    return Axis(_slot(base, cat, "--trait"), tuple((v.name, v.phrase) for v in by_name[cat].values))


def _slot(base: str, name: str | None, flag: str) -> str:
    """The placeholder an axis fills: `name` if the base has it, else the base's only one."""
    names = placeholders(base)
    if name and name in names:
        return name
    if len(names) == 1:
        return names[0]
    if not names:
        raise UserError(f"{flag}: the base prompt has no {{placeholder}} for the values",
                        hint='write one where they go, e.g. "a {colour} robot in a volcano"', exit_code=2)
    raise UserError(f"{flag}: the base prompt has several placeholders ({', '.join(names)}) and none is {name!r}",
                    hint="keep one placeholder per text axis", exit_code=2)


def make_axes(base: str, *, values: str | None = None, trait: str | None = None, styles: Sequence[str] = (),
              seeds: str | None = None, iterations: str | None = None) -> list[Axis]:
    axes: list[Axis] = []
    if values:
        axes.append(Axis(_slot(base, None, "--values"), tuple((v, v) for v in split_list(values, "--values"))))
    if trait:
        axes.append(trait_axis(trait, base))
    if styles:
        if any(not s.strip() for s in styles):
            raise UserError("--styles: a style is empty", exit_code=2)
        axes.append(Axis("style", tuple((s.strip(), s.strip()) for s in styles)))
    if seeds:
        axes.append(Axis("seed", tuple((str(n), n) for n in numbers(seeds, "--seeds", 0))))
    if iterations:
        axes.append(Axis("iterations", tuple((str(n), n) for n in numbers(iterations, "--iterations", 1))))
    texts = [a.name for a in axes if a.name not in ("seed", "iterations")]
    if len(set(texts)) != len(texts):
        raise UserError("two axes fill the same placeholder", hint="use --values or --trait for it, not both", exit_code=2)
    if not axes:
        raise UserError("nothing varies", hint="give --values, --trait, --styles, --seeds or --iterations", exit_code=2)
    left = [n for n in placeholders(base) if n not in texts]
    if left:
        raise UserError(f"the base prompt's {{{left[0]}}} gets no values", hint="give them with --values or --trait", exit_code=2)
    return axes


def fill(base: str, texts: dict[str, str]) -> str:
    """The base with each {placeholder} replaced; a style without a {style} slot joins the first prompt's text."""
    out = base
    for name, text in texts.items():
        slot = "{" + name + "}"
        if slot in out:
            out = out.replace(slot, text)
            continue
        first, bar, rest = out.partition("|")
        if ":" in first:  # "text:weight": the style would land in the weight
            raise UserError(f"--styles: the base prompt's first part {first.strip()!r} has a weight",
                            hint="put {style} where the style goes, e.g. \"a {colour} robot, {style}:1.5 | blur:-0.5\"",
                            exit_code=2)
        out = f"{first.rstrip()}, {text}" + (f" {bar}{rest}" if bar else "")
    return out


# ---- painting --------------------------------------------------------------------------------

@dataclass(frozen=True)
class VariationsResult:
    folder: Path
    cells: tuple[Cell, ...]
    sheet: Path
    facts: Path
    report: Any             # collection.render.render_step.RenderReport
    profile: Any            # collection.studio.paint.Profile


def default_folder(base: str) -> Path:
    from collection.studio.studio_plan import slug

    return Path.cwd() / f"variations-{slug(base.replace('{', ' ').replace('}', ' '))}"


def paint_variations(base: str, axes: Sequence[Axis], req, *, out: Path | None = None, batch_size: int = 4,
                     device: str | None = None, models_dir: Path | None = None, threads: int | None = None,
                     progress: bool = True, force: bool = False, on_plan=None) -> VariationsResult:
    """Plan every cell as a token (same seed unless seeds vary), render them batched, draw the sheet.

    `req` is a collection.studio.paint.PaintRequest holding the shared settings (its prompt is ignored).
    """
    from dataclasses import replace

    from buildfiles.plan import PlannedToken
    from collection.studio.paint import choose_models, settings_for
    from collection.studio.render import render_folder
    from collection.studio.studio_plan import copy_input, prompt_seed, write_plan

    cells = grid(base, axes)
    folder = Path(out) if out else default_folder(base)
    folder.mkdir(parents=True, exist_ok=True)
    profile = choose_models(req.models, models_dir)
    inputs, init_rel = {}, None
    if req.init:
        init_rel, sha = copy_input(folder, req.init, "--init")
        inputs[init_rel] = sha
    longest = max((c.iterations or 0) for c in cells) or None
    shared = replace(req, prompt=cells[0].prompt, show_every=0, story="", change_every=None, zoom=None,
                     iterations=req.iterations or longest,
                     extra={**req.extra, "batch_size": max(1, min(batch_size, len(cells)))})
    s = settings_for(shared, profile, init_rel)
    render = s.to_dict()
    if isinstance(render.get("models"), dict):
        from generator.weights import pin_models

        render["models"] = pin_models(render["models"])
    seed = prompt_seed(base)
    tokens = [PlannedToken(id=c.cell, name=f"#{c.cell}", special=None, traits=dict(c.labels), prompt=c.prompt,
                           seed=seed if c.seed is None else c.seed,
                           render={"iterations": c.iterations} if c.iterations and c.iterations != s.iterations else {})
              for c in cells]
    cells = [replace(c, seed=t.seed, iterations=c.iterations or s.iterations) for c, t in zip(cells, tokens)]
    write_plan(folder, f"variations of {base}"[:80], render, tokens, inputs, force=force, command="variations")
    if on_plan:
        on_plan(folder, s, profile, cells)
    report = render_folder(folder, None, device=device, models_dir=models_dir, threads=threads, progress=progress)
    label = {"tiny": "test", "demo": "demo"}.get(s.models) if isinstance(s.models, str) else None
    sheet = draw_sheet(folder, base, axes, cells, label)
    facts = write_facts(folder, base, axes, cells)
    return VariationsResult(folder, tuple(cells), sheet, facts, report, profile)


def grid(base: str, axes: Sequence[Axis]) -> list[Cell]:
    """Every combination of the axes' entries, first axis slowest."""
    combos = list(itertools.product(*(a.entries for a in axes)))
    if len(combos) > MAX_CELLS:
        raise UserError(f"{len(combos)} cells is more than {MAX_CELLS}", hint="fewer values, styles, seeds or iterations",
                        exit_code=2)
    cells = []
    for i, combo in enumerate(combos, start=1):
        texts, labels, seed, its = {}, {}, None, None
        for axis, (label, value) in zip(axes, combo):
            labels[axis.name] = label
            if axis.name == "seed":
                seed = value
            elif axis.name == "iterations":
                its = value
            else:
                texts[axis.name] = value
        cells.append(Cell(i, fill(base, texts), seed, its, texts, labels))
    return cells


def columns_for(axes: Sequence[Axis], n: int) -> int:
    """The last axis across (when it is short enough), so each row varies one thing."""
    last = len(axes[-1].entries) if axes else n
    return last if 1 < last <= 8 else min(n, max(1, math.ceil(math.sqrt(n))))


# ---- files ------------------------------------------------------------------------------------

def write_facts(folder: Path, base: str, axes: Sequence[Axis], cells: Sequence[Cell]) -> Path:
    data = {
        "format": FACTS_FORMAT,
        "base": base,
        "axes": [{"name": a.name, "entries": [label for label, _ in a.entries]} for a in axes],
        "cells": [{**asdict(c), "image": f"images/{c.cell}.png"} for c in cells],
    }
    return atomicio.write_text(folder / FACTS, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def read_facts(folder: Path) -> dict[str, Any]:
    path = Path(folder) / FACTS
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path} not found", hint="paint the variations first (same --out), then --pick", exit_code=2) from None
    except ValueError as e:
        raise UserError(f"{path} is not valid JSON ({e})", hint="paint the variations again", exit_code=2) from None
    if not isinstance(data, dict) or data.get("format") != FACTS_FORMAT:
        raise UserError(f"{path}: not a variations file of format {FACTS_FORMAT}", exit_code=2)
    return data


def draw_sheet(folder: Path, base: str, axes: Sequence[Axis], cells: Sequence[Cell], label: str | None,
               thumb: int = 256) -> Path:
    """variations.png: one tile per cell, captioned with its prompt (preview's contact-sheet drawing)."""
    from preview.contact_sheet import SheetJob, Tile, render_sheet

    varied = [a.name for a in axes]
    tiles = tuple(Tile(f"images/{c.cell}.png" if (folder / "images" / f"{c.cell}.png").is_file() else None,
                       c.caption(varied), label) for c in cells)
    job = SheetJob(out=SHEET, title=f"variations of: {base}", tiles=tiles, columns=columns_for(axes, len(cells)),
                   thumb_size=thumb, caption_lines=4)
    return render_sheet(folder, job).path
