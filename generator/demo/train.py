"""Train the demo pair from a seed, offline, on a CPU: `python -m generator.demo.train`.

1. Draw the world (generator.demo.world): robots in colours, with objects, in settings,
   in styles, with the Jax sketch among them, and a caption per picture.
2. VQGAN: taming's VQModel (yaml below), trained with L1 + L2 + codebook loss on random
   crops (no LPIPS, no discriminator: nothing to download). Codes left unused are
   restarted on encoder outputs so the small codebook stays in use.
3. CLIP: OpenAI's CLIP class with the real tokenizer (vocab 49408), trained contrastively
   on (picture, caption) pairs with random crops, flips, small rotations, colour jitter
   and noise, as the render loop's cutouts see pictures. Pictures that share a caption are
   all positives of each other.
4. Write the files in the real formats: vqgan.yaml + Lightning-style vqgan.ckpt, clip.pt
   (a state dict in fp16, as OpenAI ships CLIP), sha256.json and report.json (timings,
   PSNR of the Jax reconstruction, zero-shot accuracy per category on held-out pictures).

`--quick` runs a few steps of each into --out, to keep the script alive in the tests.

`--from DIR` starts from a pair already trained (its files checked against DIR/sha256.json
before unpickling): the VQGAN continues for --vq-steps, the CLIP is copied byte for byte,
and report.json keeps DIR's report under "previous". The committed pair was made so:
a first run on a GPU, then a VQGAN fine-tune on this CPU (weights/report.json says which).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import random
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from generator.demo import files, world
from generator.demo.probe import ZeroShot, normalize, psnr, reconstruct

VQGAN_YAML = """\
# The demo VQGAN: taming's VQModel, small enough to train on a CPU (generator/demo/train.py).
model:
  base_learning_rate: 4.5e-06
  target: taming.models.vqgan.VQModel
  params:
    embed_dim: 32
    n_embed: 512
    ddconfig:
      double_z: false
      z_channels: 32
      resolution: 128
      in_channels: 3
      out_ch: 3
      ch: 32
      ch_mult: [1, 2, 2]
      num_res_blocks: 1
      attn_resolutions: []
      dropout: 0.0
    lossconfig:
      target: taming.modules.losses.vqperceptual.DummyLoss
"""

CLIP_ARGS = dict(embed_dim=128, image_resolution=48, vision_layers=4, vision_width=128, vision_patch_size=6,
                 context_length=77, vocab_size=49408, transformer_width=64, transformer_heads=1, transformer_layers=3)


@dataclass
class TrainConfig:
    seed: int = 2021
    threads: int = 2
    size: int = 128               # world pictures (the demo render size)
    n_pictures: int = 8000
    jax_every: int = 40           # every 40th training picture is the Jax sketch
    vq_steps: int = 1200
    vq_batch: int = 10
    vq_crop: int = 64
    vq_lr: float = 4e-4
    clip_steps: int = 2000
    clip_batch: int = 128
    clip_lr: float = 1e-3
    clip_data_size: int = 96      # pictures downsampled once for the CLIP (crops go to 48)
    heldout_seed: int = 777
    heldout_n: int = 360
    device: str = "cpu"           # the default, and what the 60-minute budget is for; the committed files came from --device cuda (weights/sha256.json)

    @classmethod
    def quick(cls) -> "TrainConfig":
        return cls(n_pictures=64, vq_steps=3, vq_batch=4, clip_steps=3, clip_batch=16, heldout_n=24)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ---- data -------------------------------------------------------------------------------------

def draw_world(cfg: TrainConfig) -> tuple[list[world.Scene], Tensor]:
    """The training scenes and their pictures as uint8 (N,3,size,size)."""
    scenes = world.scenes(cfg.seed, cfg.n_pictures, jax_every=cfg.jax_every)
    arr = np.stack([np.asarray(world.draw(s, cfg.size)) for s in scenes])
    return scenes, torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()


def augment(x: Tensor, out: int, g: torch.Generator, *, min_scale: float = 0.5) -> Tensor:
    """Per-picture random crop (side min_scale..1), flip, small rotation, colour jitter, noise -> (N,3,out,out) in [0,1]."""
    n = x.shape[0]
    r = lambda *s: torch.rand(*s, generator=g)  # noqa: E731
    side = min_scale + (1 - min_scale) * r(n)
    ang = (r(n) - 0.5) * math.radians(16)
    flip = torch.where(r(n) < 0.5, -1.0, 1.0)
    tx, ty = (r(n) * 2 - 1) * (1 - side), (r(n) * 2 - 1) * (1 - side)
    cos, sin = torch.cos(ang) * side, torch.sin(ang) * side
    theta = torch.stack([torch.stack([cos * flip, -sin, tx], -1), torch.stack([sin * flip, cos, ty], -1)], 1)
    grid = F.affine_grid(theta, (n, 3, out, out), align_corners=False)
    y = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    bright = 0.8 + 0.4 * r(n, 1, 1, 1)
    contrast = 0.8 + 0.4 * r(n, 1, 1, 1)
    sat = 0.85 + 0.3 * r(n, 1, 1, 1)
    mean = y.mean((1, 2, 3), keepdim=True)
    y = (y - mean) * contrast + mean
    grey = y.mean(1, keepdim=True)
    y = (y - grey) * sat + grey
    y = y * bright
    y = y + torch.randn(y.shape, generator=g) * (r(n, 1, 1, 1) * 0.05)
    return y.clamp(0, 1)


# ---- VQGAN ------------------------------------------------------------------------------------

def build_vqgan() -> nn.Module:
    from omegaconf import OmegaConf

    from generator.models import vqgan_from_config

    return vqgan_from_config(OmegaConf.create(VQGAN_YAML))


def train_vqgan(cfg: TrainConfig, pictures: Tensor, g: torch.Generator, start: nn.Module | None = None) -> tuple[nn.Module, dict]:
    """Train a fresh VQGAN, or continue `start` (a loaded one) on the same objective."""
    dev = torch.device(cfg.device)
    if start is None:
        model = build_vqgan().train().to(dev)
        del model.loss
    else:
        model = start.train().requires_grad_(True).to(dev)
    q = model.quantize
    opt = torch.optim.Adam([p for p in model.parameters()], lr=cfg.vq_lr, betas=(0.5, 0.9))
    n, c = pictures.shape[0], cfg.vq_crop
    usage = torch.zeros(q.n_e)
    t0, hist = time.perf_counter(), []
    for step in range(1, cfg.vq_steps + 1):
        lr = cfg.vq_lr * min(1.0, step / 100) * (0.5 * (1 + math.cos(math.pi * step / cfg.vq_steps)) * 0.9 + 0.1)
        for pg in opt.param_groups:
            pg["lr"] = lr
        idx = torch.randint(n, (cfg.vq_batch,), generator=g)
        ox, oy = torch.randint(0, cfg.size - c + 1, (2,), generator=g).tolist()
        x = pictures[idx, :, oy : oy + c, ox : ox + c].float().div(127.5).sub(1)
        flip = torch.rand(cfg.vq_batch, generator=g) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x).to(dev)
        h = model.quant_conv(model.encoder(x))
        zq, qloss, (_, _, codes) = q(h)
        xrec = model.decode(zq)
        rec = (xrec - x).abs().mean() + F.mse_loss(xrec, x)
        loss = rec + qloss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        usage.mul_(0.98).index_add_(0, codes.flatten().cpu(), torch.ones(codes.numel()))
        if step % 50 == 0 and step < 0.8 * cfg.vq_steps:
            dead = (usage < 0.05).nonzero().flatten()
            if len(dead):  # restart unused codes on encoder outputs, so the codebook stays in use
                with torch.no_grad():
                    flat = h.detach().permute(0, 2, 3, 1).reshape(-1, h.shape[1])
                    pick = torch.randint(flat.shape[0], (len(dead),), generator=g)
                    q.embedding.weight.data[dead.to(dev)] = flat[pick.to(dev)] + 0.01 * torch.randn(len(dead), flat.shape[1], generator=g).to(dev)
                    usage[dead] = 1.0
        hist.append(float(rec.detach()))
        if step % 100 == 0 or step == cfg.vq_steps:
            used = int((usage > 0.05).sum())
            log(f"vqgan step {step}/{cfg.vq_steps}  rec {np.mean(hist[-100:]):.4f}  q {float(qloss.detach()):.4f}  codes in use {used}  "
                f"{(time.perf_counter() - t0) / step:.2f} s/step")
    return model.eval().requires_grad_(False).cpu(), {"vq_seconds": time.perf_counter() - t0, "vq_final_rec": float(np.mean(hist[-100:]))}


# ---- CLIP -------------------------------------------------------------------------------------

def build_clip() -> nn.Module:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from clip.model import CLIP

    return CLIP(**CLIP_ARGS)


def encode_text_short(m: nn.Module, tokens: Tensor, mask: Tensor) -> Tensor:
    """CLIP.encode_text, cut to the longest caption: causal attention makes the EOT feature exact."""
    eot = tokens.argmax(-1)
    L = int(eot.max()) + 1
    x = (m.token_embedding(tokens[:, :L]) + m.positional_embedding[:L]).permute(1, 0, 2)
    mk = mask[:L, :L]
    for blk in m.transformer.resblocks:
        h = blk.ln_1(x)
        x = x + blk.attn(h, h, h, need_weights=False, attn_mask=mk)[0]
        x = x + blk.mlp(blk.ln_2(x))
    x = m.ln_final(x.permute(1, 0, 2))
    return x[torch.arange(x.shape[0]), eot] @ m.text_projection


def train_clip(cfg: TrainConfig, scenes: list[world.Scene], pictures: Tensor, g: torch.Generator) -> tuple[nn.Module, dict]:
    import clip as openai_clip

    dev = torch.device(cfg.device)
    model = build_clip().train().to(dev)
    res = CLIP_ARGS["image_resolution"]
    small = torch.cat([F.interpolate(pictures[i : i + 500].float(), (cfg.clip_data_size,) * 2, mode="bilinear", antialias=True,
                                     align_corners=False).round().clamp(0, 255).byte() for i in range(0, len(pictures), 500)])
    decay = [p for n_, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n_]
    other = [p for n_, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n_)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=cfg.clip_lr, betas=(0.9, 0.98), eps=1e-6)
    mask = model.build_attention_mask().to(dev)
    crng = random.Random(cfg.seed + 1)
    n = len(scenes)
    t0, hist = time.perf_counter(), []
    warm = max(1, min(150, cfg.clip_steps // 10))
    for step in range(1, cfg.clip_steps + 1):
        lr = cfg.clip_lr * min(1.0, step / warm) * 0.5 * (1 + math.cos(math.pi * step / cfg.clip_steps))
        for pg in opt.param_groups:
            pg["lr"] = lr
        idx = torch.randint(n, (cfg.clip_batch,), generator=g).tolist()
        caps = [world.caption(scenes[i], crng) for i in idx]
        tokens = openai_clip.tokenize(caps).to(dev)
        imgs = normalize(augment(small[idx].float().div(255), res, g, min_scale=0.4)).to(dev)
        ie = F.normalize(model.encode_image(imgs), dim=-1)
        te = F.normalize(encode_text_short(model, tokens, mask), dim=-1)
        logits = model.logit_scale.exp().clamp(max=100) * ie @ te.T
        same = torch.tensor([[a == b for b in caps] for a in caps], dtype=torch.float32, device=dev)
        target = same / same.sum(1, keepdim=True)  # equal captions are all positives
        loss = (-(target * logits.log_softmax(1)).sum(1).mean() - (target * logits.log_softmax(0).T).sum(1).mean()) / 2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        hist.append(float(loss.detach()))
        if step % 100 == 0 or step == cfg.clip_steps:
            log(f"clip step {step}/{cfg.clip_steps}  loss {np.mean(hist[-100:]):.3f}  scale {float(model.logit_scale.detach().exp()):.1f}  "
                f"{(time.perf_counter() - t0) / step:.2f} s/step")
        if step % 500 == 0 and step < cfg.clip_steps:  # a glance at held-out accuracy on the way
            acc = ZeroShot.build(model.eval().cpu()).accuracy(cfg.heldout_seed + 1, 120, cfg.size)
            model.train().to(dev)
            log(f"clip step {step}: zero-shot on 120 held-out pictures {acc}")
    return model.eval().requires_grad_(False).cpu(), {"clip_seconds": time.perf_counter() - t0, "clip_final_loss": float(np.mean(hist[-100:]))}


# ---- files ------------------------------------------------------------------------------------

def load_pair(src: Path) -> tuple[nn.Module, bytes, dict]:
    """(VQGAN, CLIP file bytes, report) of a trained pair, every file checked against src/sha256.json first."""
    from generator.demo.files import demo_files
    from generator.models import load_vqgan

    recorded = json.loads((src / files.HASH_FILE).read_text())["sha256"]
    yaml, ckpt, clip_file = demo_files(src, recorded)
    if yaml.read_text() != VQGAN_YAML:
        raise SystemExit(f"{yaml} is not this script's VQGAN config: train from scratch instead")
    report = json.loads((src / files.REPORT_FILE).read_text())
    return load_vqgan(yaml, ckpt), clip_file.read_bytes(), report


def save(out: Path, vqgan: nn.Module, clip_model: nn.Module | bytes, report: dict) -> dict[str, str]:
    """Write the pair in the real formats and return their sha256s (a CLIP given as bytes is written as is)."""
    from buildfiles.atomicio import write_bytes, write_json, write_text
    from buildfiles.hashing import sha256_file

    out.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().clone().contiguous() for k, v in vqgan.state_dict().items() if not k.startswith("loss.")}
    buf = io.BytesIO()
    torch.save({"state_dict": sd, "epoch": 0, "global_step": report["vq_total_steps"],
                "pytorch-lightning_version": "1.9.5"}, buf)
    write_text(out / files.VQGAN_CONFIG, VQGAN_YAML)
    write_bytes(out / files.VQGAN_CKPT, buf.getvalue())
    if isinstance(clip_model, bytes):
        write_bytes(out / files.CLIP_FILE, clip_model)
    else:
        buf = io.BytesIO()
        torch.save({k: v.detach().half().clone() if v.is_floating_point() else v.clone() for k, v in clip_model.state_dict().items()}, buf)
        write_bytes(out / files.CLIP_FILE, buf.getvalue())
    hashes = {f: sha256_file(out / f) for f in files.FILES}
    write_json(out / files.HASH_FILE, {"sha256": hashes, "source": report["command"]})
    write_json(out / files.REPORT_FILE, report)
    return hashes


def evaluate(out: Path, cfg: TrainConfig) -> dict:
    """Reload the written files through the real loaders and measure them."""
    from generator.models import load_clip, load_vqgan

    vq = load_vqgan(out / files.VQGAN_CONFIG, out / files.VQGAN_CKPT)
    cl = load_clip(out / files.CLIP_FILE)
    jax = files.jax_png()
    rec = reconstruct(vq, jax, cfg.size)
    zs = ZeroShot.build(cl)
    # the whole world too, on pictures it never saw: a VQGAN that only learnt Jax would show here
    held = [world.draw(sc, cfg.size) for sc in world.scenes(cfg.heldout_seed, 48)]
    world_db = float(np.mean([psnr(reconstruct(vq, pic, cfg.size), pic) for pic in held]))
    return {"jax_psnr_db": round(psnr(rec, jax.convert("RGB").resize((cfg.size, cfg.size), Image.LANCZOS)), 2),
            "heldout_world_psnr_db": round(world_db, 2),
            "zero_shot_accuracy": {k: round(v, 3) for k, v in zs.accuracy(cfg.heldout_seed, cfg.heldout_n, cfg.size).items()}}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m generator.demo.train", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=files.DIR, help=f"output folder (default: {files.DIR})")
    p.add_argument("--seed", type=int, default=TrainConfig.seed)
    p.add_argument("--quick", action="store_true", help="a few steps of each (a smoke test, not usable models)")
    p.add_argument("--vq-steps", type=int)
    p.add_argument("--clip-steps", type=int)
    p.add_argument("--threads", type=int, default=TrainConfig.threads)
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda (same script, faster; the committed files came from a cuda run)")
    p.add_argument("--from", dest="start", type=Path, metavar="DIR",
                   help="continue the VQGAN of a trained pair in DIR and keep its CLIP (see above)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a TrainConfig field (experiments)")
    a = p.parse_args(argv)
    cfg = TrainConfig.quick() if a.quick else TrainConfig()
    cfg.seed, cfg.threads, cfg.device = a.seed, a.threads, a.device
    for kv in a.set:
        k, _, v = kv.partition("=")
        setattr(cfg, k, type(getattr(cfg, k))(v))
    if a.vq_steps is not None:
        cfg.vq_steps = a.vq_steps
    if a.clip_steps is not None:
        cfg.clip_steps = a.clip_steps
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed)
    t0 = time.perf_counter()
    log(f"drawing {cfg.n_pictures} pictures of the world at {cfg.size}px")
    scenes, pictures = draw_world(cfg)
    draw_s = time.perf_counter() - t0
    previous, before = None, 0
    if a.start:
        start_vq, clip_bytes, previous = load_pair(a.start)
        before = previous.get("vq_total_steps", previous["config"]["vq_steps"])  # reports before --from have no total
        log(f"continuing the VQGAN of {a.start} (trained {before} steps); its CLIP is kept")
    vq, vq_rep = train_vqgan(cfg, pictures, g, start_vq if a.start else None)
    jax = files.jax_png()
    log(f"vqgan: Jax reconstruction at {cfg.size}px: {psnr(reconstruct(vq, jax, cfg.size), jax.resize((cfg.size,) * 2, Image.LANCZOS)):.2f} dB")
    if a.start:
        cl, clip_rep = clip_bytes, {k: previous[k] for k in ("clip_seconds", "clip_final_loss") if k in previous}
    else:
        cl, clip_rep = train_clip(cfg, scenes, pictures, g)
    report = {"command": "python -m generator.demo.train " + " ".join(argv if argv is not None else sys.argv[1:]),
              "config": asdict(cfg), "draw_seconds": draw_s, **vq_rep, **clip_rep, "vq_total_steps": before + cfg.vq_steps,
              "torch": torch.__version__, "python": sys.version.split()[0]}
    if previous:
        report["previous"] = previous
    save(a.out, vq, cl, report)
    report.update(evaluate(a.out, cfg))
    report["total_seconds"] = round(time.perf_counter() - t0, 1)
    hashes = save(a.out, vq, cl, report)
    log(f"done in {report['total_seconds']:.0f} s: Jax PSNR {report['jax_psnr_db']} dB, held-out world {report['heldout_world_psnr_db']} dB, "
        f"zero-shot {report['zero_shot_accuracy']}")
    for f, h in hashes.items():
        log(f"sha256 {h}  {f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
