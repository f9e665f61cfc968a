"""The reference the render loop is measured against: a notebook-style z+quantize loop.

This is the loop as the 2021 VQGAN+CLIP notebooks and their command-line descendants run it,
written out plainly: one token, cutouts made one by one and resampled with a Lanczos kernel
(the notebooks' `resample`), kornia augments drawn from torch's global RNG, per-cutout noise,
spherical-distance prompt losses, an init-image MSE term, Adam on z, z clamped to the
codebook's range. It shares nothing with `generator/` but the two networks, so a change to
the tool's loop cannot change the baseline it is compared with.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def _sinc(x):
    return torch.where(x != 0, torch.sin(math.pi * x) / (math.pi * x), x.new_ones([]))


def _lanczos(x, a):
    cond = torch.logical_and(-a < x, x < a)
    out = torch.where(cond, _sinc(x) * _sinc(x / a), x.new_zeros([]))
    return out / out.sum()


def _ramp(ratio, width):
    n = math.ceil(width / ratio + 1)
    out = torch.empty([n])
    cur = 0
    for i in range(out.shape[0]):
        out[i] = cur
        cur += ratio
    return torch.cat([-out[1:].flip([0]), out])[1:-1]


def resample(x, size):
    """Lanczos-filtered downsampling where the crop is larger than `size`, then bicubic."""
    n, c, h, w = x.shape
    dh, dw = size
    x = x.reshape(n * c, 1, h, w)
    if dh < h:
        k = _lanczos(_ramp(dh / h, 2), 2).to(x.device, x.dtype)
        pad = (k.shape[0] - 1) // 2
        x = F.conv2d(F.pad(x, (0, 0, pad, pad), "reflect"), k[None, None, :, None])
    if dw < w:
        k = _lanczos(_ramp(dw / w, 2), 2).to(x.device, x.dtype)
        pad = (k.shape[0] - 1) // 2
        x = F.conv2d(F.pad(x, (pad, pad, 0, 0), "reflect"), k[None, None, None, :])
    x = x.reshape(n, c, h, w)
    return F.interpolate(x, size, mode="bicubic", align_corners=True)


class MakeCutouts(nn.Module):
    def __init__(self, cut_size: int, cutn: int, cut_pow: float = 1.0):
        import kornia.augmentation as K

        super().__init__()
        self.cut_size, self.cutn, self.cut_pow = cut_size, cutn, cut_pow
        self.augs = nn.Sequential(
            K.RandomHorizontalFlip(p=0.5),
            K.RandomAffine(degrees=15, translate=0.1, shear=5, p=0.7, padding_mode="border"),
            K.RandomPerspective(0.2, p=0.4),
            K.ColorJitter(hue=0.01, saturation=0.01, p=0.7),
        )
        self.noise_fac = 0.1

    def forward(self, x):
        side_y, side_x = x.shape[2:4]
        max_size = min(side_x, side_y)
        min_size = min(side_x, side_y, self.cut_size)
        cutouts = []
        for _ in range(self.cutn):
            size = int(torch.rand([]) ** self.cut_pow * (max_size - min_size) + min_size)
            ox = torch.randint(0, side_x - size + 1, ())
            oy = torch.randint(0, side_y - size + 1, ())
            cutouts.append(resample(x[:, :, oy:oy + size, ox:ox + size], (self.cut_size, self.cut_size)))
        batch = self.augs(torch.cat(cutouts))
        facs = batch.new_empty([self.cutn, 1, 1, 1]).uniform_(0, self.noise_fac)
        return batch + facs * torch.randn_like(batch)


class _ReplaceGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x_forward, x_backward):
        ctx.shape = x_backward.shape
        return x_forward

    @staticmethod
    def backward(ctx, grad_in):
        return None, grad_in.sum_to_size(ctx.shape)


class _ClampWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.lo, ctx.hi = lo, hi
        ctx.save_for_backward(x)
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx, grad_in):
        (x,) = ctx.saved_tensors
        return grad_in * (grad_in * (x - x.clamp(ctx.lo, ctx.hi)) >= 0), None, None


def vector_quantize(x, codebook):
    d = x.pow(2).sum(-1, keepdim=True) + codebook.pow(2).sum(1) - 2 * x @ codebook.T
    q = F.one_hot(d.argmin(-1), codebook.shape[0]).to(d.dtype) @ codebook
    return _ReplaceGrad.apply(q, x)


def spherical_dist_loss(x, y):
    x = F.normalize(x, dim=-1)
    y = F.normalize(y, dim=-1)
    return (x - y).norm(dim=-1).div(2).arcsin().pow(2).mul(2)


class BaselineLoop:
    """`step()` is one notebook iteration; the benchmark times it against the tool's Renderer."""

    def __init__(self, vqgan, clip_model, size: int, cutn: int, prompt: str, init_weight: float = 0.5,
                 step_size: float = 0.1, device="cpu"):
        import clip

        self.vqgan, self.clip = vqgan, clip_model
        self.device = torch.device(device)
        f = 2 ** (vqgan.decoder.num_resolutions - 1)
        n = size // f
        cb = vqgan.quantize.embedding.weight
        self.z_min = cb.min(0).values[None, :, None, None]
        self.z_max = cb.max(0).values[None, :, None, None]
        one_hot = F.one_hot(torch.randint(cb.shape[0], [n * n], device=self.device), cb.shape[0]).float()
        self.z = (one_hot @ cb).view(1, n, n, -1).permute(0, 3, 1, 2).contiguous().requires_grad_(True)
        self.z_orig = self.z.detach().clone()
        self.init_weight = init_weight
        self.opt = torch.optim.Adam([self.z], lr=step_size)
        self.cutouts = MakeCutouts(clip_model.visual.input_resolution, cutn).to(self.device)
        self.mean = torch.tensor(MEAN, device=self.device)[None, :, None, None]
        self.std = torch.tensor(STD, device=self.device)[None, :, None, None]
        with torch.no_grad():
            self.target = clip_model.encode_text(clip.tokenize([prompt]).to(self.device)).float()

    def step(self) -> float:
        self.opt.zero_grad(set_to_none=True)
        cb = self.vqgan.quantize.embedding.weight
        z_q = vector_quantize(self.z.movedim(1, 3), cb).movedim(3, 1)
        out = _ClampWithGrad.apply(self.vqgan.decode(z_q).add(1).div(2), 0, 1)
        embeds = self.clip.encode_image((self.cutouts(out) - self.mean) / self.std).float()
        loss = F.mse_loss(self.z, self.z_orig) * (self.init_weight / 2)
        loss = loss + spherical_dist_loss(embeds[:, None], self.target[None]).mean()
        loss.backward()
        self.opt.step()
        with torch.no_grad():
            self.z.copy_(self.z.maximum(self.z_min).minimum(self.z_max))
        return float(loss.detach())
