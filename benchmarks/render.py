"""Render speed and memory: iterations/s and peak memory per configuration, printed as a table.

    .venv/bin/python benchmarks/render.py                 # tiny + full-size on CPU (full size is slow: ~5 s/it)
    .venv/bin/python benchmarks/render.py --only tiny --iterations 20
    .venv/bin/python benchmarks/render.py --device cuda   # adds 512², cutn 32/64, fp32 vs bf16, batch 1..8
    .venv/bin/python benchmarks/render.py --compare       # the tool's loop against the notebook-style baseline
    .venv/bin/python benchmarks/render.py --candidates 4 --only tiny   # best-of-4 against one render (wall time)

`--candidates K` times best-of-K (successive halving + judge scoring, generator/candidates.py)
against a plain render of the same token, alternating rounds in one process, and prints the
median wall times and their ratio, at batch 1 and with all candidates in one batch (`--only
full` uses full-size random-weight models and a ViT-B/16-shaped judge).

`--compare` runs the tool's loop and the notebook-style reference (benchmarks/baseline_loop.py)
with the same full-size models in one process, alternating, and prints the median seconds per
iteration of each and their ratio.

Levers: a configuration that names no precision and no lever (`--precision`, `--lever`, or the
"precision"/"levers" keys of a `--child` JSON) paints with what a build on this machine would:
generator.calibrate times the variants the device supports on that configuration first (weighed
against a build of `--calibrate-for` iterations) and prints its choice and the times. Naming
`--precision fp32` (or `--lever ...`) measures exactly that instead.

"Full size" is the real architecture of vqgan_imagenet_f16_16384 and CLIP ViT-B/32 with
random weights (no weights can be downloaded here): the arithmetic per iteration is the
same as with trained weights, so the speed is too. Each configuration runs in a fresh
subprocess so peak RSS belongs to it alone.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

FULL_VQGAN = {
    "model": {"target": "taming.models.vqgan.VQModel", "params": {
        "embed_dim": 256, "n_embed": 16384,
        "ddconfig": {"double_z": False, "z_channels": 256, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128,
                     "ch_mult": [1, 1, 2, 2, 4], "num_res_blocks": 2, "attn_resolutions": [16], "dropout": 0.0},
        "lossconfig": {"target": "taming.modules.losses.vqperceptual.DummyLoss"}}}}
VIT_B32 = dict(embed_dim=512, image_resolution=224, vision_layers=12, vision_width=768, vision_patch_size=32,
               context_length=77, vocab_size=49408, transformer_width=512, transformer_heads=8, transformer_layers=12)


def peak_rss_mib() -> float:
    """This process's own peak RSS. getrusage's ru_maxrss survives fork and exec on Linux, so a child
    started by a big parent (a long pytest run) reports at least the parent's size; VmHWM belongs
    to the address space exec made, so it counts only what this render used."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def full_models(device: str):
    import torch
    from clip.model import CLIP
    from omegaconf import OmegaConf

    from generator.models import Models, vqgan_from_config

    torch.manual_seed(0)
    vq = vqgan_from_config(OmegaConf.create(FULL_VQGAN))
    del vq.loss
    vq.quantize.embedding.weight.data.normal_()
    cl = CLIP(**VIT_B32).float()
    return Models("random f16-16384 + ViT-B/32", False, vq.eval().requires_grad_(False).to(device),
                  cl.eval().requires_grad_(False).to(device), torch.device(device))


def run_one(cfg: dict) -> dict:
    """Runs in a child process: load, warm up 1 iteration, time the rest."""
    import torch

    from generator.loop import Callbacks, Renderer, TokenJob
    from generator.settings import RenderSettings

    dev = cfg["device"]
    if cfg["models"] == "tiny":
        from generator.models import load_models

        models = load_models("tiny", dev)
    else:
        models = full_models(dev)
    s = RenderSettings(models="tiny", init_image=None, size=(cfg["size"], cfg["size"]), iterations=cfg["iterations"] + cfg["warmup"],
                       cutn=cfg["cutn"], batch_size=cfg["batch"], precision=cfg.get("precision", "fp32"), checkpoint_every=10**6)
    jobs = [TokenJob(i, "a rusty robot", i, s) for i in range(cfg["batch"])]
    levers = levers_for(cfg, models, jobs, log=lambda line: print(line, file=sys.stderr, flush=True))
    marks = []

    def on_progress(p):
        if dev.startswith("cuda"):
            torch.cuda.synchronize()
        marks.append(time.perf_counter())

    if dev.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    Renderer(models, levers).render(jobs, Callbacks(on_progress=on_progress))
    # marks[i] = end of iteration i+1; the first `warmup` iterations pay one-time costs (allocator, oneDNN primitives)
    its = cfg["iterations"] / (marks[-1] - marks[cfg["warmup"] - 1])
    out = {**cfg, "it_s": its, "token_it_s": its * cfg["batch"], "levers": levers.label,
           "peak_rss_mib": peak_rss_mib()}
    if dev.startswith("cuda"):
        out["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return out


CALIBRATE_FOR = 500  # iterations of the build a calibration here is weighed against: one token at the default count


def levers_for(cfg: dict, models, jobs, log=print):
    """The levers a configuration names ("levers" and/or "precision" keys), else the calibrated choice for these jobs."""
    from generator.loop import Levers

    if "levers" in cfg or "precision" in cfg:
        return Levers.from_dict(cfg.get("levers") or {})
    from generator.calibrate import calibrate

    cal = calibrate(models, jobs, build_iterations=cfg.get("calibrate_for", CALIBRATE_FOR), log=log)
    log(cal.summary())
    return cal.levers


def _compare_settings(size: int, cutn: int, iterations: int, precision: str):
    from generator.settings import RenderSettings

    return RenderSettings(models="tiny", init_image=None, size=(size, size), iterations=iterations, cutn=cutn,
                          augments=("flip", "affine", "perspective", "jitter", "noise"), precision=precision,
                          checkpoint_every=10**6)


def _our_seconds_per_it(models, size: int, cutn: int, iterations: int, warmup: int, precision: str, dev: str,
                        levers=None) -> float:
    import torch

    from generator.loop import Callbacks, Levers, Renderer, TokenJob

    s = _compare_settings(size, cutn, iterations + warmup, precision)
    marks = []

    def on_progress(p):
        if dev.startswith("cuda"):
            torch.cuda.synchronize()
        marks.append(time.perf_counter())

    Renderer(models, levers or Levers()).render([TokenJob(1, "a rusty robot", 1, s)], Callbacks(on_progress=on_progress))
    return (marks[-1] - marks[warmup - 1]) / iterations


def _baseline_seconds_per_it(models, size: int, cutn: int, iterations: int, warmup: int, dev: str) -> float:
    import torch

    from benchmarks.baseline_loop import BaselineLoop

    torch.manual_seed(1)
    loop = BaselineLoop(models.vqgan, models.clip, size, cutn, "a rusty robot", device=dev)
    for _ in range(warmup):
        loop.step()
    sync = torch.cuda.synchronize if dev.startswith("cuda") else (lambda: None)
    sync()
    t = time.perf_counter()
    for _ in range(iterations):
        loop.step()
    sync()
    return (time.perf_counter() - t) / iterations


def compare(args) -> None:
    """Ours vs the notebook-style baseline, same models, same process, alternating rounds; medians."""
    import statistics

    import torch

    from generator.loop import TokenJob

    dev = args.device
    models = full_models(dev)
    sizes = [int(x) for x in args.sizes.split(",")]
    precision = args.precision or "fp32"
    named = args.precision is not None or bool(args.lever)
    print(f"compare on {dev}: torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.rounds} rounds x {args.iterations} iterations (+{args.warmup} warm-up), cutn {args.cutn}, "
          f"precision {precision}, levers {sorted(args.lever) if named else 'calibrated per size'}", flush=True)
    for size in sizes:
        cfg = {"levers": {name: True for name in args.lever}} if named else {"calibrate_for": args.calibrate_for}
        job = TokenJob(1, "a rusty robot", 1, _compare_settings(size, args.cutn, 1, precision))
        levers = levers_for(cfg, models, [job], log=lambda line: print(line, flush=True))
        warmup = max(args.warmup, 2) if levers.compile else args.warmup  # the backward graph compiles on the first step too
        ours, base = [], []
        for r in range(args.rounds):
            base.append(_baseline_seconds_per_it(models, size, args.cutn, args.iterations, warmup, dev))
            ours.append(_our_seconds_per_it(models, size, args.cutn, args.iterations, warmup, precision, dev, levers))
            print(f"  {size}² round {r + 1}: baseline {base[-1]:.3f} s/it, ours {ours[-1]:.3f} s/it", flush=True)
        mb, mo = statistics.median(base), statistics.median(ours)
        print(f"RESULT {size}² cutn {args.cutn} {precision}: baseline {mb:.3f} s/it, ours {mo:.3f} s/it, "
              f"ours/baseline {mo / mb:.2f}x (levers {levers.label}{'' if named else ', calibrated'})", flush=True)


VIT_B16 = {**VIT_B32, "vision_patch_size": 16}


def candidates_cost(args) -> None:
    """Best-of-K vs one render of the same token: wall time of Renderer.render, judge included."""
    import statistics

    import torch
    from clip.model import CLIP

    from generator.candidates import Judge, schedule_cost
    from generator.candidates import render as best_of_render
    from generator.loop import Renderer, TokenJob
    from generator.settings import RenderSettings

    dev, k, n = args.device, args.candidates, args.iterations
    if args.only == "full":
        models = full_models(dev)
        torch.manual_seed(1)
        judge = Judge(CLIP(**VIT_B16).float().eval().requires_grad_(False).to(dev), "random ViT-B/16", dev)
        size = int(args.sizes.split(",")[0])
    else:
        from generator.models import load_models

        models = load_models("tiny", dev)
        judge = Judge(models.clip, "tiny (own CLIP)", dev)
        size = 64
    sync = torch.cuda.synchronize if dev.startswith("cuda") else (lambda: None)

    def timed(candidates: int, batch: int) -> tuple[float, float]:
        """(wall seconds, CPU seconds of this process): on a shared machine CPU time is the steadier cost."""
        s = RenderSettings(models="tiny", init_image=None, size=(size, size), iterations=n, cutn=args.cutn,
                           candidates=candidates, batch_size=batch, checkpoint_every=10**6)
        sync()
        t, c = time.perf_counter(), time.process_time()
        best_of_render(Renderer(models), [TokenJob(1, "a rusty robot:1 | blurry:-0.3", 1, s)], judge=judge)
        sync()
        return time.perf_counter() - t, time.process_time() - c

    timed(1, 1)  # warm-up: allocator, oneDNN/cuDNN primitives
    timed(k, k)
    print(f"best-of-{k} on {dev} ({models.name}, {size}², cutn {args.cutn}, {n} iterations): torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; schedule spends {schedule_cost(n, k)} token-iterations "
          f"({schedule_cost(n, k) / n:.2f}x of one render)")
    runs: dict[str, list[tuple[float, float]]] = {"K=1": [], f"K={k} batch 1": [], f"K={k} batch {k}": []}
    for r in range(args.rounds):
        runs["K=1"].append(timed(1, 1))
        runs[f"K={k} batch 1"].append(timed(k, 1))
        runs[f"K={k} batch {k}"].append(timed(k, k))
        print(f"  round {r + 1}: " + ", ".join(f"{name} {v[-1][0]:.2f} s wall / {v[-1][1]:.2f} s CPU" for name, v in runs.items()),
              flush=True)
    med = {name: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for name, v in runs.items()}
    w1, c1 = med["K=1"]
    for name, (w, c) in med.items():
        print(f"RESULT best-of-{k} {size}² {n} it on {dev}, {name}: {w:.2f} s wall ({w / w1:.2f}x), {c:.2f} s CPU ({c / c1:.2f}x)",
              flush=True)
    print(f"load average at the end: {__import__('os').getloadavg()[0]:.1f} on {__import__('os').cpu_count()} cores")


def configs(args) -> list[dict]:
    # No precision and no lever named: each row paints with what calibration picks for it (its levers are shown).
    base = dict(device=args.device, iterations=args.iterations, warmup=1, calibrate_for=args.calibrate_for)
    out = []
    if args.only in (None, "tiny"):
        out += [dict(base, models="tiny", size=64, cutn=32, batch=b, iterations=max(args.iterations, 20), warmup=3) for b in (1, 2, 4)]
    if args.only in (None, "full"):
        if args.device == "cpu":
            out += [dict(base, models="full", size=sz, cutn=32, batch=b) for sz in (128, 256) for b in (1, 2, 4)]
        else:
            out += [dict(base, models="full", size=512, cutn=c, batch=b, precision=p)
                    for c in (32, 64) for p in ("fp32", "bf16") for b in (1, 2, 4, 8)]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--iterations", type=int, default=3, help="timed iterations per configuration (after 1 warm-up)")
    ap.add_argument("--only", choices=("tiny", "full"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--compare", action="store_true", help="ours vs the notebook-style baseline (full-size models)")
    ap.add_argument("--sizes", default="128,256", help="--compare: image sides")
    ap.add_argument("--cutn", type=int, default=32, help="--compare: cutouts")
    ap.add_argument("--rounds", type=int, default=3, help="--compare: alternating rounds (median reported)")
    ap.add_argument("--precision", default=None, help="--compare: the tool's precision; named (or with --lever), "
                    "exactly that is measured; neither: the levers calibration picks on this machine")
    ap.add_argument("--lever", action="append", default=[], choices=("channels_last", "compile"),
                    help="--compare: an opt-in lever of the tool's loop (repeatable)")
    ap.add_argument("--warmup", type=int, default=1, help="--compare: untimed iterations per round (2 at least with compile)")
    ap.add_argument("--calibrate-for", type=int, default=CALIBRATE_FOR, metavar="N",
                    help="the build length (iterations) a calibration weighs one-time costs such as compiling against")
    ap.add_argument("--candidates", type=int, default=0, metavar="K",
                    help="best-of-K against one render (--iterations per render, --rounds, --cutn; --only full for full size)")
    args = ap.parse_args()
    if args.candidates:
        candidates_cost(args)
        return
    if args.compare:
        compare(args)
        return
    if args.child:
        print("RESULT " + json.dumps(run_one(json.loads(args.child))))
        return

    from rich.console import Console
    from rich.table import Table

    import torch

    console = Console(width=140)  # a table, not prose: never fold its columns
    t = Table(title=f"render speed on {args.device} ({torch.get_num_threads()} CPU threads, torch {torch.__version__})")
    for c in ("models", "size", "cutn", "levers", "batch", "it/s", "token-it/s", "s/token-it", "peak RSS MiB", "peak GPU MiB"):
        t.add_column(c, justify="right")
    for cfg in configs(args):
        r = subprocess.run([sys.executable, __file__, "--child", json.dumps(cfg)], capture_output=True, text=True)
        line = next((l for l in r.stdout.splitlines() if l.startswith("RESULT ")), None)
        if line is None:
            console.print(f"[red]failed[/red] {cfg}: {r.stderr.strip().splitlines()[-1:]}")
            continue
        x = json.loads(line[7:])
        lv = x["levers"] if x.get("precision", "fp32") == "fp32" else f"{x['precision']} (named)"
        row = [x["models"], f"{x['size']}²", str(x["cutn"]), lv, str(x["batch"]), f"{x['it_s']:.3f}",
               f"{x['token_it_s']:.3f}", f"{1 / x['token_it_s']:.2f}", f"{x['peak_rss_mib']:.0f}",
               f"{x['peak_gpu_mib']:.0f}" if "peak_gpu_mib" in x else "-"]
        t.add_row(*row)
        console.print(" ".join(row) + f"   (load {__import__('os').getloadavg()[0]:.1f})")  # streamed, for long runs
    console.print(t)
    # Other processes on a small machine slow every figure down; say how busy it was.
    console.print(f"load average at the end: {__import__('os').getloadavg()[0]:.1f} on {__import__('os').cpu_count()} cores")


if __name__ == "__main__":
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    from collection.render.threads import quiet_openmp

    quiet_openmp()  # torch as the CLI runs it (idle OpenMP threads sleep), for the tool's loop and the reference alike
    main()
