"""Autograd tricks of the z+quantize method: straight-through quantisation and clamping.

Each is a small function whose forward does one thing and whose backward does another.
"""

from __future__ import annotations

import torch
from torch import Tensor


class _ReplaceGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x_forward, x_backward):
        ctx.shape = x_backward.shape
        return x_forward

    @staticmethod
    def backward(ctx, grad_in):
        return None, grad_in.sum_to_size(ctx.shape)


def replace_grad(x_forward: Tensor, x_backward: Tensor) -> Tensor:
    """Value of `x_forward`, gradient routed to `x_backward` (the straight-through estimator)."""
    return _ReplaceGrad.apply(x_forward, x_backward)


class _ClampWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.lo, ctx.hi = lo, hi
        ctx.save_for_backward(x)
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx, grad_in):
        (x,) = ctx.saved_tensors
        # Gradient descent moves x by -grad. Below the range only a negative grad (pushing x up,
        # back into range) survives; above it only a positive one. Inside, everything passes.
        below, above = x < ctx.lo, x > ctx.hi
        keep = ~((below & (grad_in > 0)) | (above & (grad_in < 0)))
        return grad_in * keep, None, None


def clamp_with_grad(x: Tensor, lo: float, hi: float) -> Tensor:
    """Clamp to [lo, hi]; out of range, pass only the gradients that point back into range."""
    return _ClampWithGrad.apply(x, lo, hi)


def vector_quantize(z: Tensor, codebook: Tensor) -> Tensor:
    """Snap each latent vector (B, C, H, W) to its nearest codebook row; gradient goes straight through."""
    x = z.movedim(1, -1)  # B H W C
    d = x.pow(2).sum(-1, keepdim=True) + codebook.pow(2).sum(1) - 2 * x @ codebook.T
    idx = d.argmin(-1)
    q = codebook[idx].movedim(-1, 1)
    return replace_grad(q, z)
