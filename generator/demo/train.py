"""Train the demo pair from a seed, offline, on a CPU: `python -m generator.demo.train`.

1. Draw the world (generator.demo.world): robots in colours, with objects, in settings,
   in styles, with the Jax sketch among them, and a caption per picture.
2. VQGAN: taming's VQModel (yaml below), trained with L1 + L2 + codebook loss on random
   crops (no LPIPS, no discriminator: nothing to download). Codes left unused are
   restarted on encoder outputs so the small codebook stays in use.
3. CLIP (the guide): OpenAI's CLIP class with the real tokenizer (vocab 49408), trained
   contrastively on (picture, caption) pairs with random crops, flips, small rotations,
   colour jitter and noise, as the render loop's cutouts see pictures. Pictures that share a
   caption are all positives of each other. So that optimising a picture against it moves
   colours, settings and objects rather than textures, it also sees the VQGAN's own
   reconstructions of the pictures (its textures, with the caption of the clean picture) and
   adversarial pictures (one signed-gradient step away from their caption, FGSM): a model
   trained that way has gradients that look like the thing named.
4. The judge: a second CLIP with its own seed and its own architecture (wider, shallower,
   another patch size and embedding), trained on clean pictures only. It scores best-of-K
   candidates and the painting tests; the loop never sees it.
5. Write the files in the real formats: vqgan.yaml + Lightning-style vqgan.ckpt, clip.pt and
   judge.pt (state dicts in fp16, as OpenAI ships CLIP), sha256.json and report.json (timings,
   PSNR of the Jax reconstruction, zero-shot accuracy per category on held-out pictures).

`--quick` runs a few steps of each into --out, to keep the script alive in the tests.

`--from DIR` starts from a pair already trained (its files checked against DIR/sha256.json
before unpickling): the VQGAN continues for --vq-steps (with the Jax sketch as often as
--set jax_every says), the CLIPs are trained afresh (or, with --keep-clip, DIR's CLIP and
judge are copied byte for byte), and report.json keeps DIR's report under "previous". The
committed pair was made so: the first pair on a GPU, then on this CPU the VQGAN continued
and both CLIPs trained (weights/report.json holds the command and the figures).
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

# The guide (what the loop pays for every cutout, every iteration: `make demo` must stay cheap).
CLIP_ARGS = dict(embed_dim=128, image_resolution=48, vision_layers=4, vision_width=128, vision_patch_size=6,
                 context_length=77, vocab_size=49408, transformer_width=64, transformer_heads=1, transformer_layers=3)
# The judge: its own choices (a larger input in larger patches, fewer layers, another embedding
# size, a shorter text tower), so it does not share the guide's blind spots.
JUDGE_ARGS = dict(embed_dim=96, image_resolution=64, vision_layers=3, vision_width=128, vision_patch_size=8,
                  context_length=77, vocab_size=49408, transformer_width=64, transformer_heads=1, transformer_layers=2)


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
    clip_data_size: int = 96      # pictures downsampled once for the CLIPs (crops go to their input size)
    recon_frac: float = 0.4       # share of the guide's batch shown as the VQGAN's reconstruction
    recon_n: int = 800            # pictures reconstructed (at clip_data_size: the VQGAN is the slow part on a CPU)
    adv_frac: float = 0.5         # share of the guide's batch replaced by its FGSM picture
    adv_eps: float = 0.03         # FGSM step, in [0, 1] pixel units
    clip_ft_lr: float = 2e-4      # with --from: the guide continues from the earlier pair's CLIP at this rate
    judge_seed: int = 4049
    judge_steps: int = 1500
    judge_batch: int = 64
    heldout_seed: int = 777
    heldout_n: int = 360
    device: str = "cpu"           # the default, and what the 60-minute budget is for; the committed files came from --device cuda (weights/sha256.json)

    @classmethod
    def quick(cls) -> "TrainConfig":
        return cls(n_pictures=64, vq_steps=3, vq_batch=4, clip_steps=3, clip_batch=16, heldout_n=24, judge_steps=3, judge_batch=16)


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


def jax_psnr(vqgan: nn.Module, size: int) -> float:
    jax = files.jax_png()
    return psnr(reconstruct(vqgan, jax, size), jax.resize((size, size), Image.LANCZOS))


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
                f"{(time.perf_counter() - t0) / step:.2f} s/step  Jax {jax_psnr(model.eval(), cfg.size):.2f} dB")
            model.train()
    return model.eval().requires_grad_(False).cpu(), {"vq_seconds": time.perf_counter() - t0,
                                                      "vq_final_rec": float(np.mean(hist[-100:])) if hist else None}


# ---- CLIP -------------------------------------------------------------------------------------

def build_clip(args: dict | None = None) -> nn.Module:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from clip.model import CLIP

    return CLIP(**(args or CLIP_ARGS))


def small_pictures(pictures: Tensor, size: int) -> Tensor:
    """uint8 pictures downsampled once to size x size."""
    return torch.cat([F.interpolate(pictures[i : i + 500].float(), (size, size), mode="bilinear", antialias=True,
                                    align_corners=False).round().clamp(0, 255).byte() for i in range(0, len(pictures), 500)])


@torch.no_grad()
def reconstructions(vqgan: nn.Module, pictures: Tensor, size: int) -> Tensor:
    """The VQGAN's reconstruction of each picture (uint8, size x size): its textures on the world's content."""
    out = []
    for i in range(0, len(pictures), 50):
        dec, _ = vqgan(pictures[i : i + 50].float().div(127.5).sub(1))
        out.append(small_pictures(dec.clamp(-1, 1).add(1).mul(127.5), size))
    return torch.cat(out)


def fgsm(model: nn.Module, x: Tensor, te: Tensor, target: Tensor, scale: Tensor, eps: float) -> Tensor:
    """x (N,3,H,W in [0,1]) moved one signed-gradient step of size eps away from its captions."""
    x = x.detach().requires_grad_(True)
    logits = scale * F.normalize(model.encode_image(normalize(x)), dim=-1) @ te.T
    (grad,) = torch.autograd.grad(-(target * logits.log_softmax(1)).sum(1).mean(), x)
    return (x + eps * grad.sign()).clamp(0, 1).detach()


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


def train_clip(cfg: TrainConfig, scenes: list[world.Scene], pictures: Tensor, g: torch.Generator, *, args: dict | None = None,
               recon: Tensor | None = None, steps: int | None = None, seed: int | None = None, name: str = "clip",
               adversarial: bool = True, batch: int | None = None, start: nn.Module | None = None,
               lr: float | None = None) -> tuple[nn.Module, dict]:
    """A CLIP of `args` (or `start` continued) trained on the pictures (and, for the guide, on `recon` and FGSM pictures)."""
    import clip as openai_clip

    args, steps, seed = args or CLIP_ARGS, steps or cfg.clip_steps, cfg.seed if seed is None else seed
    batch, lr = batch or cfg.clip_batch, lr or cfg.clip_lr
    dev = torch.device(cfg.device)
    torch.manual_seed(seed)
    model = (start.float().requires_grad_(True) if start is not None else build_clip(args)).train().to(dev)
    res = args["image_resolution"]
    small = small_pictures(pictures, cfg.clip_data_size)
    decay = [p for n_, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n_]
    other = [p for n_, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n_)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.98), eps=1e-6)
    mask = model.build_attention_mask().to(dev)
    crng = random.Random(seed + 1)
    n = len(scenes)
    t0, hist = time.perf_counter(), []
    warm = max(1, min(150, steps // 10))
    for step in range(1, steps + 1):
        for pg in opt.param_groups:
            pg["lr"] = lr * min(1.0, step / warm) * 0.5 * (1 + math.cos(math.pi * step / steps))
        idx = torch.randint(n, (batch,), generator=g).tolist()
        src = small[idx]
        if recon is not None:  # a share of the batch: pictures as the VQGAN paints them, captions unchanged
            kr = int(round(cfg.recon_frac * len(idx)))
            ridx = torch.randint(len(recon), (kr,), generator=g).tolist()
            idx[:kr] = ridx
            src = torch.cat([recon[ridx], src[kr:]])
        caps = [world.caption(scenes[i], crng) for i in idx]
        tokens = openai_clip.tokenize(caps).to(dev)
        x = augment(src.float().div(255), res, g, min_scale=0.4).to(dev)
        te = F.normalize(encode_text_short(model, tokens, mask), dim=-1)
        scale = model.logit_scale.exp().clamp(max=100)
        same = torch.tensor([[a == b for b in caps] for a in caps], dtype=torch.float32, device=dev)
        target = same / same.sum(1, keepdim=True)  # equal captions are all positives
        k = int(round(cfg.adv_frac * len(idx))) if adversarial else 0
        if k:
            x = torch.cat([fgsm(model, x[:k], te.detach(), target[:k], scale.detach(), cfg.adv_eps), x[k:]])
        ie = F.normalize(model.encode_image(normalize(x)), dim=-1)
        logits = scale * ie @ te.T
        loss = (-(target * logits.log_softmax(1)).sum(1).mean() - (target * logits.log_softmax(0).T).sum(1).mean()) / 2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        hist.append(float(loss.detach()))
        if step % 100 == 0 or step == steps:
            log(f"{name} step {step}/{steps}  loss {np.mean(hist[-100:]):.3f}  scale {float(model.logit_scale.detach().exp()):.1f}  "
                f"{(time.perf_counter() - t0) / step:.2f} s/step")
        if step % 500 == 0 and step < steps:  # a glance at held-out accuracy on the way
            acc = ZeroShot.build(model.eval().cpu()).accuracy(cfg.heldout_seed + 1, 120, cfg.size)
            model.train().to(dev)
            log(f"{name} step {step}: zero-shot on 120 held-out pictures {acc}")
    return model.eval().requires_grad_(False).cpu(), {f"{name}_seconds": time.perf_counter() - t0,
                                                      f"{name}_final_loss": float(np.mean(hist[-100:]))}


# ---- files ------------------------------------------------------------------------------------

CLIP_FILES = (files.CLIP_FILE, files.JUDGE_FILE)


def load_pair(src: Path) -> tuple[nn.Module, dict[str, bytes], dict]:
    """(VQGAN, {CLIP file: bytes}, report) of a trained pair, every file checked against src/sha256.json
    first (a pair from before the judge has no judge.pt)."""
    from generator.demo.files import demo_files, judge_file
    from generator.models import load_vqgan

    recorded = json.loads((src / files.HASH_FILE).read_text())["sha256"]
    yaml, ckpt, clip_file = demo_files(src, recorded)
    if yaml.read_text() != VQGAN_YAML:
        raise SystemExit(f"{yaml} is not this script's VQGAN config: train from scratch instead")
    clips = {files.CLIP_FILE: clip_file.read_bytes()}
    if files.JUDGE_FILE in recorded:
        clips[files.JUDGE_FILE] = judge_file(src, recorded).read_bytes()
    report = json.loads((src / files.REPORT_FILE).read_text())
    return load_vqgan(yaml, ckpt), clips, report


def clip_bytes(model: nn.Module) -> bytes:
    """A CLIP as OpenAI ships it: the state dict in fp16."""
    buf = io.BytesIO()
    torch.save({k: v.detach().half().clone() if v.is_floating_point() else v.clone() for k, v in model.state_dict().items()}, buf)
    return buf.getvalue()


def save(out: Path, vqgan: nn.Module, clips: dict[str, bytes], report: dict) -> dict[str, str]:
    """Write the pair and its judge in the real formats and return their sha256s."""
    from buildfiles.atomicio import write_bytes, write_json, write_text
    from buildfiles.hashing import sha256_file

    out.mkdir(parents=True, exist_ok=True)
    sd = {k: v.detach().clone().contiguous() for k, v in vqgan.state_dict().items() if not k.startswith("loss.")}
    buf = io.BytesIO()
    torch.save({"state_dict": sd, "epoch": 0, "global_step": report["vq_total_steps"],
                "pytorch-lightning_version": "1.9.5"}, buf)
    write_text(out / files.VQGAN_CONFIG, VQGAN_YAML)
    write_bytes(out / files.VQGAN_CKPT, buf.getvalue())
    for name, data in clips.items():
        write_bytes(out / name, data)
    hashes = {f: sha256_file(out / f) for f in files.ALL_FILES}
    write_json(out / files.HASH_FILE, {"sha256": hashes, "source": report["command"]})
    write_json(out / files.REPORT_FILE, report)
    return hashes


def evaluate(out: Path, cfg: TrainConfig) -> dict:
    """Reload the written files through the real loaders and measure them."""
    from generator.models import load_clip, load_vqgan

    vq = load_vqgan(out / files.VQGAN_CONFIG, out / files.VQGAN_CKPT)
    jax = files.jax_png()
    rec = reconstruct(vq, jax, cfg.size)
    # the whole world too, on pictures it never saw: a VQGAN that only learnt Jax would show here
    held = [world.draw(sc, cfg.size) for sc in world.scenes(cfg.heldout_seed, 48)]
    world_db = float(np.mean([psnr(reconstruct(vq, pic, cfg.size), pic) for pic in held]))
    acc = {name: {k: round(v, 3) for k, v in ZeroShot.build(load_clip(out / name)).accuracy(cfg.heldout_seed, cfg.heldout_n, cfg.size).items()}
           for name in CLIP_FILES}
    return {"jax_psnr_db": round(psnr(rec, jax.convert("RGB").resize((cfg.size, cfg.size), Image.LANCZOS)), 2),
            "heldout_world_psnr_db": round(world_db, 2),
            "zero_shot_accuracy": acc[files.CLIP_FILE], "judge_zero_shot_accuracy": acc[files.JUDGE_FILE],
            "sizes_bytes": {f: (out / f).stat().st_size for f in files.ALL_FILES}}


def assemble(vq_dir: Path, clip_dir: Path, judge_dir: Path, out: Path, cfg: TrainConfig) -> dict[str, str]:
    """One pair from stages trained side by side (each folder checked against its sha256.json): the VQGAN
    of vq_dir, the guide of clip_dir, the judge of judge_dir; their reports kept under "stages"."""
    from generator.models import load_vqgan

    dirs = {"vqgan": vq_dir, "clip": clip_dir, "judge": judge_dir}
    for d in dirs.values():
        recorded = json.loads((d / files.HASH_FILE).read_text())["sha256"]
        files.demo_files(d, recorded)
        files.judge_file(d, recorded)
    reps = {k: json.loads((d / files.REPORT_FILE).read_text()) for k, d in dirs.items()}
    report = {"command": f"python -m generator.demo.train --assemble {vq_dir} {clip_dir} {judge_dir} --out {out}",
              "vq_total_steps": reps["vqgan"]["vq_total_steps"],
              "stages": {k: {m: v for m, v in r.items() if m != "previous"} for k, r in reps.items()},
              "vq_seconds": reps["vqgan"]["vq_seconds"], "clip_seconds": reps["clip"]["clip_seconds"],
              "judge_seconds": reps["judge"]["judge_seconds"],
              "clip_args": CLIP_ARGS, "judge_args": JUDGE_ARGS, "torch": torch.__version__, "previous": reps["vqgan"].get("previous")}
    vq = load_vqgan(vq_dir / files.VQGAN_CONFIG, vq_dir / files.VQGAN_CKPT)
    clips = {files.CLIP_FILE: (clip_dir / files.CLIP_FILE).read_bytes(), files.JUDGE_FILE: (judge_dir / files.JUDGE_FILE).read_bytes()}
    save(out, vq, clips, report)
    report.update(evaluate(out, cfg))
    return save(out, vq, clips, report)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m generator.demo.train", description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=files.DIR, help=f"output folder (default: {files.DIR})")
    p.add_argument("--seed", type=int, default=TrainConfig.seed)
    p.add_argument("--quick", action="store_true", help="a few steps of each (a smoke test, not usable models)")
    p.add_argument("--vq-steps", type=int)
    p.add_argument("--clip-steps", type=int)
    p.add_argument("--threads", type=int, default=TrainConfig.threads)
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda (same script, faster)")
    p.add_argument("--from", dest="start", type=Path, metavar="DIR",
                   help="continue the VQGAN of a trained pair in DIR (see above)")
    p.add_argument("--keep", action="append", default=[], choices=("clip", "judge"),
                   help="with --from: copy DIR's CLIP (or judge) byte for byte instead of training it")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a TrainConfig field (experiments)")
    p.add_argument("--assemble", nargs=3, type=Path, metavar=("VQGAN_DIR", "CLIP_DIR", "JUDGE_DIR"),
                   help="no training: one pair from three stage runs (how the committed pair was put together)")
    a = p.parse_args(argv)
    if a.assemble:
        for f, h in assemble(*a.assemble, a.out, TrainConfig()).items():
            log(f"sha256 {h}  {f}")
        return 0
    if a.keep and not a.start:
        p.error("--keep needs --from DIR")
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
    t0 = time.perf_counter()
    log(f"drawing {cfg.n_pictures} pictures of the world at {cfg.size}px")
    scenes, pictures = draw_world(cfg)
    draw_s = time.perf_counter() - t0
    previous, before, kept = None, 0, {}
    if a.start:
        start_vq, kept, previous = load_pair(a.start)
        before = previous.get("vq_total_steps", previous["config"]["vq_steps"])  # reports before --from have no total
        keep = {"clip": files.CLIP_FILE, "judge": files.JUDGE_FILE}
        missing = [k for k in a.keep if keep[k] not in kept]
        if missing:
            raise SystemExit(f"--keep {missing[0]}: {a.start} has no {keep[missing[0]]}")
        kept = {keep[k]: kept[keep[k]] for k in a.keep}
        log(f"continuing the VQGAN of {a.start} (trained {before} steps); kept: {', '.join(kept) or 'nothing'}")
    # each stage draws from its own generator, so a stage kept from an earlier run equals the one this run would train
    vq, rep = train_vqgan(cfg, pictures, torch.Generator().manual_seed(cfg.seed), start_vq if a.start else None)
    jax = files.jax_png()
    log(f"vqgan: Jax reconstruction at {cfg.size}px: {psnr(reconstruct(vq, jax, cfg.size), jax.resize((cfg.size,) * 2, Image.LANCZOS)):.2f} dB")
    clips = dict(kept)
    for name, k in ((files.CLIP_FILE, "clip"), (files.JUDGE_FILE, "judge")):
        if name in kept:
            rep.update({f"{k}_{m}": previous[f"{k}_{m}"] for m in ("seconds", "final_loss") if f"{k}_{m}" in previous})
            continue
        if k == "clip":
            log("the VQGAN's reconstructions of the pictures, for the guide")
            recon = reconstructions(vq, small_pictures(pictures[: cfg.recon_n], cfg.clip_data_size), cfg.clip_data_size)
            start = None
            if previous is not None:  # the earlier guide goes on, now against the VQGAN's textures and FGSM
                from generator.models import load_clip

                start = load_clip(a.start / files.CLIP_FILE)  # checked against its sha256 by load_pair
            model, r = train_clip(cfg, scenes, pictures, torch.Generator().manual_seed(cfg.seed + 1), recon=recon, name="clip",
                                  start=start, lr=cfg.clip_ft_lr if start is not None else None)
        else:
            model, r = train_clip(cfg, scenes, pictures, torch.Generator().manual_seed(cfg.judge_seed), args=JUDGE_ARGS,
                                  steps=cfg.judge_steps, seed=cfg.judge_seed, name="judge", adversarial=False,
                                  batch=cfg.judge_batch)
        clips[name] = clip_bytes(model)
        rep.update(r)
    report = {"command": "python -m generator.demo.train " + " ".join(argv if argv is not None else sys.argv[1:]),
              "config": asdict(cfg), "clip_args": CLIP_ARGS, "judge_args": JUDGE_ARGS, "draw_seconds": draw_s, **rep,
              "vq_total_steps": before + cfg.vq_steps, "torch": torch.__version__, "python": sys.version.split()[0]}
    if previous:
        report["previous"] = previous
    save(a.out, vq, clips, report)
    report.update(evaluate(a.out, cfg))
    report["total_seconds"] = round(time.perf_counter() - t0, 1)
    hashes = save(a.out, vq, clips, report)
    log(f"done in {report['total_seconds']:.0f} s: Jax PSNR {report['jax_psnr_db']} dB, held-out world {report['heldout_world_psnr_db']} dB, "
        f"zero-shot {report['zero_shot_accuracy']}, judge {report['judge_zero_shot_accuracy']}")
    for f, h in hashes.items():
        log(f"sha256 {h}  {f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
