"""Peak memory of a render configuration, estimated before anything is loaded.

A render holds the two models once, plus per token in a batch the cutouts' CLIP activations
(∝ cutn), the VQGAN decoder's activations (∝ pixels) and its mid-block attention map, which
is square in the number of latent positions (pixels / f², f the VQGAN's downsampling):

    peak ≈ base + batch × (cutn × per_cut + pixels × per_pixel + (pixels / f²)² × per_entry)

Full-size VQGAN f16-16384 + CLIP ViT-B/32, CPU RSS at cutn 32, fitted by least squares to
the peaks `benchmarks/render.py` measured (README, "Measured"): 3.6 GiB at 128² batch 1,
4.6 GiB at 256² b1, 8.0 GiB at 480² b1, 10.3 GiB at 128² b4, 14.3 GiB at 256² b4. The
largest error against those five points is 0.012 GiB (0.2 %); leaving each point out in turn
and predicting it from the other four, the largest error is 0.037 GiB (0.5 %).
The tiny test pair (f = 2, so its attention dominates early): measured 1.11 GiB at 64² b1
and 5.66 GiB at 256² b1 (`benchmarks/render.py --child`, cutn 32); base and per_entry are
solved from those two points. per_entry (18 bytes: the fp32 map, its softmax and their
gradients) is shared by both pairs; at f16 it only matters above ~1024². Checked where it
was not fitted (tests/test_memory.py, peak RSS of a fresh process): tiny 128² b1 1.27 GiB
measured vs 1.38 estimated, 128² b3 2.11 vs 1.95, 192² b1 2.48 vs 2.54 (within 9 %).
Assumptions, not measured: cutn was not varied (the per-token term is put on the cuts), other
CLIPs scale the per-cut term by their activation size relative to ViT-B/32, and on CUDA the
base is the weights and context alone (no GPU figures yet).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable

from generator.registry import DEFAULT_CLIP

if TYPE_CHECKING:
    from generator.settings import RenderSettings

GIB = 1 << 30

# Full-size fit (CPU RSS, fp32), see the module docstring.
FULL_BASE_GIB = 1.374          # interpreter, torch, both models' weights
FULL_PER_CUT_GIB = 1.894 / 32  # per cutout per token in the batch (ViT-B/32, 224², fwd + bwd)
FULL_PER_PIXEL_GIB = 2.0428e-5 # per output pixel per token (VQGAN decoder fwd + bwd)
FULL_GPU_BASE_GIB = 0.9        # the two models' fp32 weights and CUDA context (not measured)

# Tiny pair (ch 32, ch_mult [1, 2]: f = 2; CLIP width 64): solved from its two measured peaks.
TINY_BASE_GIB = 1.096
ATTENTION_ENTRY_GIB = 1.694e-8  # per attention-map entry per token (≈18 bytes)

# Per-cut activation size relative to ViT-B/32 (tokens × width × layers); an assumption.
CLIP_SCALE = {"ViT-B/32": 1.0, "ViT-B/16": 3.9, "ViT-L/14": 10.0, "ViT-L/14@336px": 23.0, "RN50": 1.5, "RN101": 2.0}


def models_name(models: Any) -> str:
    """"vqgan+clip" for a registry string, or for an artist's own files given as a mapping (or its JSON)."""
    if isinstance(models, str) and models.strip().startswith("{"):
        import json

        try:
            models = json.loads(models)
        except ValueError:
            return models
    if isinstance(models, dict):
        def name(x: Any) -> str:
            return str(x.get("name", "")) if isinstance(x, dict) else str(x)

        return f"{name(models.get('vqgan'))}+{name(models.get('clip'))}"
    return str(models)


def downsampling(models: str) -> int:
    """The VQGAN's f: 2 for the tiny pair, else read from the name (f16 / f8), default 16."""
    if models == "tiny":
        return 2
    if models == "demo":  # generator/demo/train.py: ch_mult [1, 2, 2]
        return 4
    m = re.search(r"f(\d+)", models.split("+", 1)[0])
    return int(m.group(1)) if m else 16


@dataclass(frozen=True)
class Estimate:
    gib: float
    base_gib: float
    per_token_gib: float
    batch: int

    def __str__(self) -> str:
        return f"{self.gib:.1f} GiB"


def estimate_peak_gib(size: tuple[int, int] | list[int], cutn: int, batch: int, models: Any, device: str = "cpu") -> Estimate:
    """Estimated peak memory (GiB) of rendering one batch: RSS on CPU, allocated memory on CUDA."""
    models = models_name(models)
    w, h = int(size[0]), int(size[1])
    latent = (w * h) / downsampling(models) ** 2
    attention = latent * latent * ATTENTION_ENTRY_GIB
    if models in ("tiny", "demo"):  # small models: the tiny pair's base is the right order
        base, per_cut, per_px = TINY_BASE_GIB, 0.0, 0.0
    else:
        clip = models.split("+", 1)[1] if "+" in models else DEFAULT_CLIP
        base, per_cut, per_px = FULL_BASE_GIB, FULL_PER_CUT_GIB * CLIP_SCALE.get(clip, 1.0), FULL_PER_PIXEL_GIB
        if str(device).startswith("cuda"):
            base = FULL_GPU_BASE_GIB
    per_token = cutn * per_cut + w * h * per_px + attention
    return Estimate(base + batch * per_token, base, per_token, batch)


def estimate_settings(s: RenderSettings, device: str = "cpu", models: Any = None) -> Estimate:
    return estimate_peak_gib(s.size, s.cutn, s.batch_size, models or s.models, device)


def describe(s: RenderSettings) -> str:
    """The settings memory depends on, as the lines below name them."""
    return f"{s.size[0]}x{s.size[1]}, cutn {s.cutn}, batch {s.batch_size}"


def machine_memory_gib(device: str = "cpu") -> float | None:
    """Physical memory of the machine (CPU) or of the card (CUDA, only if torch is already imported)."""
    if str(device).startswith("cuda"):
        import sys

        torch = sys.modules.get("torch")
        if torch is None or not torch.cuda.is_available():
            return None
        index = int(str(device).split(":", 1)[1]) if ":" in str(device) else 0
        return torch.cuda.get_device_properties(index).total_memory / GIB
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    except (ValueError, OSError, AttributeError):
        return None


def advice(s: RenderSettings, limit_gib: float, device: str = "cpu", models: Any = None) -> str:
    """Which settings to lower, with values that would fit `limit_gib`."""
    models = models or s.models
    w, h = s.size
    cutn, batch = s.cutn, s.batch_size
    tips = []
    if batch > 1:
        for b in range(batch - 1, 0, -1):
            if estimate_peak_gib((w, h), cutn, b, models, device).gib <= limit_gib:
                tips.append(f"batch_size: {b}")
                break
    scale = 1.0
    while scale > 0.05 and estimate_peak_gib((int(w * scale), int(h * scale)), cutn, batch, models, device).gib > limit_gib:
        scale -= 0.05
    if scale > 0.05 and scale < 1.0:
        # VQGAN sizes are multiples of 16 in practice
        tips.append(f"size: [{max(16, int(w * scale) // 16 * 16)}, {max(16, int(h * scale) // 16 * 16)}]")
    for c in (cutn // 2, cutn // 4, 8):
        if 0 < c < cutn and estimate_peak_gib((w, h), c, batch, models, device).gib <= limit_gib:
            tips.append(f"cutn: {c}")
            break
    if not tips:
        return "lower size, cutn and batch_size together (no one of them alone fits)"
    return "set " + " or ".join(tips) + (" (each alone fits)" if len(tips) > 1 else "")


def check(configs: list[tuple[str, RenderSettings]], device: str = "cpu", models: Any = None,
          limit_gib: float | None = None) -> list[str]:
    """One line per configuration (label, render settings) whose estimate exceeds the machine."""
    limit = limit_gib if limit_gib is not None else machine_memory_gib(device)
    if limit is None:
        return []
    out = []
    for label, s in configs:
        est = estimate_settings(s, device, models)
        if est.gib > limit:
            out.append(f"{label}: {describe(s)} on {device} needs about {est} at peak, more than the {limit:.1f} GiB "
                       f"this machine has; {advice(s, limit, device, models)}")
    return out


def distinct_configs(configs: Iterable[tuple[str, RenderSettings]]) -> list[tuple[str, RenderSettings]]:
    """The configurations a build renders that differ in memory: the first of each (the defaults first)."""
    out, seen = [], set()
    for label, s in configs:
        key = (tuple(s.size), s.cutn, s.batch_size, models_name(s.models))
        if key not in seen:
            seen.add(key)
            out.append((label, s))
    return out


def check_build(build_dir, *, device: str | None, models: str | None, force: bool) -> None:
    """Refuse (UserError) a planned build whose configuration cannot fit this machine, unless `force`.
    Called by `build` after planning, before any model is loaded."""
    import sys

    from buildfiles.errors import UserError
    from buildfiles.plan import load_plan
    from generator.settings import plan_settings

    plan = load_plan(build_dir)
    if device is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    defaults, *per_token = plan_settings(plan.render, [{}, *(t.render for t in plan.tokens)])
    configs = distinct_configs([("render", defaults), *((f"token {t.id} ({t.name})", s) for t, s in zip(plan.tokens, per_token))])
    problems = check(configs, device, models)
    if not problems:
        return
    if force:
        for p in problems:
            print(f"warning: {p} (--force: trying anyway)", file=sys.stderr)
        return
    raise UserError(problems[0] + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""),
                    hint="lower the settings in the manifest's render block, or pass --force to try anyway", exit_code=2)


def oom_message(s: RenderSettings, device: str, models: Any = None, limit_gib: float | None = None) -> str:
    """One line for an out-of-memory error caught during a render (e.g. torch.cuda.OutOfMemoryError):
    the configuration, the estimate, and the settings to lower. For the render driver to raise as a UserError."""
    limit = limit_gib if limit_gib is not None else machine_memory_gib(device)
    est = estimate_settings(s, device, models)
    have = f" of the {limit:.1f} GiB there" if limit else ""
    target = limit * 0.8 if limit else est.gib / 2
    return f"out of memory on {device}: {describe(s)} (estimated peak {est}{have}); {advice(s, target, device, models)}"
