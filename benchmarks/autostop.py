"""`iterations: auto` against a fixed count: iterations spent and the judge's score, per token and in total.

The bundled example's first tokens (specials left out), painted twice with the same seeds and
settings: once for a fixed number of iterations, once with `iterations: auto` (at most as many),
both through the render code a build uses (generator.loop / generator.candidates). The judge is
the one `render.judge` / generator/judges.py's rule picks for the models; the table names it
and says when it is the guide's own CLIP. Both final pictures are scored by that judge the same
way (the 8-bit image as written). The fixed run also shows its picture every `every` iterations;
those scores give the fixed run's curve, and what other windows and tolerances would have done
(the auto run paints exactly the fixed run's first iterations, so its stop can be read off that
curve; the table says whether the real auto run stopped where the curve says).

    python benchmarks/autostop.py                            # demo pair, 128², cutn 16, 3 tokens, 500 vs auto ≤ 500
    python benchmarks/autostop.py --tokens 2 --fixed 100     # a quick look

Speed is printed, never asserted. Goal (issue 22): ≥ 2× fewer iterations for a judge score within 2 %.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the project's packages, also when it is not installed
EXAMPLE = ROOT / "examples" / "rusty-roboz" / "manifest.yaml"


def parse_args(argv=None):
    from generator.autostop import AutoStop

    d = AutoStop()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manifest", type=Path, default=EXAMPLE)
    p.add_argument("--models", default="demo")
    p.add_argument("--judge", default=None, help="render.judge (default: the rule's partner of the guide's CLIP)")
    p.add_argument("--tokens", type=int, default=3)
    p.add_argument("--fixed", type=int, default=500, help="iterations of the fixed run")
    p.add_argument("--max-iterations", type=int, default=None, help="auto's cap (default: --fixed)")
    p.add_argument("--every", type=int, default=d.every)
    p.add_argument("--window", type=int, default=d.window)
    p.add_argument("--tolerance", type=float, default=d.tolerance)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--cutn", type=int, default=16)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--keep", type=Path, default=None, metavar="DIR",
                   help="keep the fixed run's pictures here and reuse them when the same run is asked again "
                        "(they do not depend on the judge: another judge re-scores them without painting)")
    return p.parse_args(argv)


def tokens_and_settings(a):
    """The example's first non-special tokens, and its render settings at the benchmark's size."""
    from collection.plan.manifest import load_manifest
    from collection.plan.planner import plan_tokens

    m = load_manifest(a.manifest)
    toks = [t for t in plan_tokens(m) if t.special is None][: a.tokens]
    base = m.render.with_overrides({"models": a.models, "size": [a.size, a.size], "cutn": a.cutn, "batch_size": a.batch,
                                    "snapshots": [], "video": None, "judge": a.judge, "iterations": a.fixed})
    from collection.plan.inputs import BUNDLED_JAX

    init = m.render.init_image
    init_path = None if init is None else (BUNDLED_JAX if init == "jax" else m.root / init)
    return m, toks, base, init_path


def kept_fixed(root: Path, fixed, toks, models: str) -> Path:
    """The folder of a fixed run's pictures: named by everything its pixels depend on (not the judge)."""
    import hashlib
    import json

    import torch

    key = {"settings": {k: v for k, v in fixed.to_dict().items() if k != "judge"}, "models": models,
           "tokens": [[t.id, t.prompt, t.seed] for t in toks], "threads": torch.get_num_threads(), "torch": torch.__version__}
    return root / hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def save_fixed(d: Path, images: dict, its: dict, seconds: float, curve: dict) -> None:
    import json

    for tid, img in images.items():
        (d / str(tid)).mkdir(parents=True, exist_ok=True)
        img.save(d / str(tid) / "final.png")
        for it, im in curve[tid]:
            im.save(d / str(tid) / f"{it:05d}.png")
    (d / "run.json").write_text(json.dumps({"seconds": seconds, "iterations": {str(k): v for k, v in its.items()}}))


def load_fixed(d: Path):
    import json

    from PIL import Image

    run = json.loads((d / "run.json").read_text())
    its = {int(k): v for k, v in run["iterations"].items()}
    images = {tid: Image.open(d / str(tid) / "final.png").convert("RGB") for tid in its}
    curve = {tid: [(int(p.stem), Image.open(p).convert("RGB")) for p in sorted((d / str(tid)).glob("[0-9]*.png"))] for tid in its}
    return images, its, run["seconds"], curve


def main(argv=None) -> int:
    a = parse_args(argv)
    from PIL import Image

    from generator import autostop
    from generator.candidates import load_judge, render
    from generator.judges import judge_choice
    from generator.loop import Callbacks, Renderer, TokenJob, to_tensor
    from generator.models import load_models

    con = Console(width=180)  # the tables are wide; a pipe would cut them to 80 columns
    m, toks, base, init_path = tokens_and_settings(a)
    init = Image.open(init_path).convert("RGB") if init_path else None
    rule = autostop.AutoStop(a.every, a.window, a.tolerance)
    top = a.max_iterations or a.fixed
    fixed = base.with_overrides({"preview_every": a.every})
    auto = base.with_overrides({"iterations": "auto", "max_iterations": top,
                                "auto_stop": {"every": a.every, "window": a.window, "tolerance": a.tolerance}})
    models = load_models(a.models, a.device)
    choice = judge_choice(base.models, base.judge)
    judge = load_judge(choice, models)

    def scores(imgs, prompts) -> list[float]:
        import torch

        x = torch.cat([to_tensor(i, i.size, models.device) for i in imgs])
        return judge.score(x, prompts)

    def jobs(s):
        return [TokenJob(t.id, t.prompt, t.seed, s, init_image=init) for t in toks]

    con.print(f"auto-stop vs fixed: {a.manifest.relative_to(ROOT) if a.manifest.is_relative_to(ROOT) else a.manifest}, "
              f"{len(toks)} tokens, models {a.models}, {a.size}², cutn {a.cutn}, batch {a.batch}, init_weight {base.init_weight}; "
              f"fixed {a.fixed} vs auto ≤ {top} (every {rule.every}, window {rule.window}, tolerance {rule.tolerance}); "
              f"judge: {judge.label}", highlight=False)
    if choice.own:
        con.print("[bold red]the judge is the guide's own CLIP[/] (no other CLIP is registered for these models): "
                  "the optimiser games its score", highlight=False)

    # the fixed run, its picture every `every` iterations kept for the curve
    curve: dict[int, list[tuple[int, Image.Image]]] = {t.id: [] for t in toks}

    def said(run: str):
        def on_progress(p) -> None:  # a line now and then on stderr, so a long run shows where it is
            if p.iteration % 50 == 0:
                print(f"{run}: tokens {list(p.token_ids)} at iteration {p.iteration} ({time.perf_counter() - t0:.0f} s)",
                      file=sys.stderr, flush=True)
        return on_progress

    cb = Callbacks(on_image=lambda tid, kind, it, img: curve[tid].append((it, img)) if kind == "preview" and it > 0 else None,
                   on_progress=said("fixed"))
    t0 = time.perf_counter()
    kept = kept_fixed(a.keep, fixed, toks, a.models) if a.keep else None
    if kept and (kept / "run.json").exists():
        fixed_img, fixed_its, fixed_s, curve = load_fixed(kept)
        con.print(f"the fixed run's pictures from {kept} (painted in {fixed_s:.0f} s; they do not depend on the judge)",
                  highlight=False)
    else:
        fixed_res = {r.id: r for r in Renderer(models).render(jobs(fixed), cb)}
        fixed_s = time.perf_counter() - t0
        fixed_img = {i: r.image for i, r in fixed_res.items()}
        fixed_its = {i: r.iterations for i, r in fixed_res.items()}
        if kept:
            save_fixed(kept, fixed_img, fixed_its, fixed_s, curve)
    t0 = time.perf_counter()
    auto_res = {r.id: r for r in render(Renderer(models), jobs(auto), Callbacks(on_progress=said("auto")), judge=judge)}
    auto_s = time.perf_counter() - t0

    prompts = {t.id: t.prompt for t in toks}
    f_score = dict(zip(prompts, scores([fixed_img[i] for i in prompts], list(prompts.values()))))
    a_score = dict(zip(prompts, scores([auto_res[i].image for i in prompts], list(prompts.values()))))
    curves = {}
    for tid, pts in curve.items():
        pts = [(it, img) for it, img in pts if it % rule.every == 0 and it < a.fixed]
        curves[tid] = (list(zip([it for it, _ in pts], scores([img for _, img in pts], [prompts[tid]] * len(pts))))
                       + [(a.fixed, f_score[tid])])

    def read_off(tid: int, r: autostop.AutoStop) -> tuple[int, float]:
        """Where the rule stops on the fixed run's curve (capped at `top`), and the score of the picture it keeps
        (the best judged so far)."""
        cv = [(it, s) for it, s in curves[tid] if it <= top]
        k = next((k for k in range(len(cv)) if autostop.converged([s for _, s in cv[: k + 1]], r)), len(cv) - 1)
        return cv[k][0], max(s for _, s in cv[: k + 1])

    tab = Table(title=f"per token: fixed {a.fixed} vs auto (judge scores: cosine, the final 8-bit picture)")
    for c in ("token", "prompt", "fixed its", "fixed score", "best on the curve (it)", "auto its", "why", "auto score",
              "its ratio", "score vs fixed", "curve says"):
        tab.add_column(c, justify="left" if c in ("prompt", "why") else "right")
    for tid in prompts:
        ar = auto_res[tid]
        best_it, best = max(curves[tid], key=lambda p: p[1])
        said = read_off(tid, rule)[0]
        tab.add_row(str(tid), prompts[tid][:48], str(fixed_its[tid]), f"{f_score[tid]:.4f}", f"{best:.4f} ({best_it})",
                    str(ar.iterations), ar.stopped.reason, f"{a_score[tid]:.4f}", f"{fixed_its[tid] / ar.iterations:.2f}×",
                    f"{100 * (a_score[tid] / f_score[tid] - 1):+.2f} %", "same" if said == ar.iterations else f"{said}")
    con.print(tab)

    f_its = sum(fixed_its.values())
    a_its = sum(r.iterations for r in auto_res.values())
    f_mean = sum(f_score.values()) / len(f_score)
    a_mean = sum(a_score.values()) / len(a_score)
    worst = min(a_score[i] / f_score[i] - 1 for i in prompts)
    ratio, delta = f_its / a_its, a_mean / f_mean - 1
    tot = Table(title="total")
    for c in ("run", "iterations", "mean judge score", "wall s (incl. judging)"):
        tot.add_column(c, justify="right")
    tot.add_row(f"fixed {a.fixed}", str(f_its), f"{f_mean:.4f}", f"{fixed_s:.0f}")
    tot.add_row(f"auto ≤ {top}", str(a_its), f"{a_mean:.4f}", f"{auto_s:.0f}")
    # auto keeps its best judged picture: picking the best of noisy scores flatters it, so also show what
    # the fixed run would score had it kept the best picture on its own curve (no fewer iterations)
    best_mean = sum(max(s for _, s in curves[tid]) for tid in prompts) / len(prompts)
    tot.add_row(f"fixed {a.fixed}, its best judged picture", str(f_its), f"{best_mean:.4f}", "-")
    con.print(tot)
    met = ratio >= 2 and delta >= -0.02
    con.print(f"auto: {ratio:.2f}× fewer iterations, mean judge score {100 * delta:+.2f} % (worst token {100 * worst:+.2f} %) "
              f"-> goal (≥2×, within 2 %): {'met' if met else 'NOT met'}; against the fixed run's best judged "
              f"pictures {100 * (a_mean / best_mean - 1):+.2f} %", highlight=False)

    # other rules on the same curves (read off, not painted)
    alt = Table(title="other windows / tolerances, read off the fixed run's curves (every "
                      f"{rule.every}; total iterations, mean score vs fixed)")
    tols = sorted({0.0, 0.001, rule.tolerance, 0.005})
    alt.add_column("window")
    for tol in tols:
        alt.add_column(f"tol {tol:g}", justify="right")
    for w in sorted({3, rule.window, 8, 10}):
        row = [str(w)]
        for tol in tols:
            got = {tid: read_off(tid, autostop.AutoStop(rule.every, w, tol)) for tid in prompts}
            its = sum(it for it, _ in got.values())
            d = sum(s for _, s in got.values()) / len(got) / f_mean - 1
            row.append(f"{its} ({f_its / its:.1f}×) {100 * d:+.1f} %")
        alt.add_row(*row)
    con.print(alt)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
