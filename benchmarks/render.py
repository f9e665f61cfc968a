"""Render speed and memory: iterations/s and peak memory per configuration, printed as a table.

    .venv/bin/python benchmarks/render.py                 # tiny + full-size on CPU (full size is slow: ~5 s/it)
    .venv/bin/python benchmarks/render.py --only tiny --iterations 20
    .venv/bin/python benchmarks/render.py --device cuda   # adds 512², cutn 32/64, fp32 vs bf16, batch 1..8

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
                       cutn=cfg["cutn"], batch_size=cfg["batch"], precision=cfg["precision"], checkpoint_every=10**6)
    jobs = [TokenJob(i, "a rusty robot", i, s) for i in range(cfg["batch"])]
    marks = []

    def on_progress(p):
        if dev.startswith("cuda"):
            torch.cuda.synchronize()
        marks.append(time.perf_counter())

    if dev.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    Renderer(models).render(jobs, Callbacks(on_progress=on_progress))
    # marks[i] = end of iteration i+1; the first `warmup` iterations pay one-time costs (allocator, oneDNN primitives)
    its = cfg["iterations"] / (marks[-1] - marks[cfg["warmup"] - 1])
    out = {**cfg, "it_s": its, "token_it_s": its * cfg["batch"],
           "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if dev.startswith("cuda"):
        out["peak_gpu_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def configs(args) -> list[dict]:
    base = dict(device=args.device, precision="fp32", iterations=args.iterations, warmup=1)
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
    args = ap.parse_args()
    if args.child:
        print("RESULT " + json.dumps(run_one(json.loads(args.child))))
        return

    from rich.console import Console
    from rich.table import Table

    import torch

    console = Console(width=140)  # a table, not prose: never fold its columns
    t = Table(title=f"render speed on {args.device} ({torch.get_num_threads()} CPU threads, torch {torch.__version__})")
    for c in ("models", "size", "cutn", "precision", "batch", "it/s", "token-it/s", "s/token-it", "peak RSS MiB", "peak GPU MiB"):
        t.add_column(c, justify="right")
    for cfg in configs(args):
        r = subprocess.run([sys.executable, __file__, "--child", json.dumps(cfg)], capture_output=True, text=True)
        line = next((l for l in r.stdout.splitlines() if l.startswith("RESULT ")), None)
        if line is None:
            console.print(f"[red]failed[/red] {cfg}: {r.stderr.strip().splitlines()[-1:]}")
            continue
        x = json.loads(line[7:])
        row = [x["models"], f"{x['size']}²", str(x["cutn"]), x["precision"], str(x["batch"]), f"{x['it_s']:.3f}",
               f"{x['token_it_s']:.3f}", f"{1 / x['token_it_s']:.2f}", f"{x['peak_rss_mib']:.0f}",
               f"{x['peak_gpu_mib']:.0f}" if "peak_gpu_mib" in x else "-"]
        t.add_row(*row)
        console.print(" ".join(row) + f"   (load {__import__('os').getloadavg()[0]:.1f})")  # streamed, for long runs
    console.print(t)
    # Other processes on a small machine slow every figure down; say how busy it was.
    console.print(f"load average at the end: {__import__('os').getloadavg()[0]:.1f} on {__import__('os').cpu_count()} cores")


if __name__ == "__main__":
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    main()
