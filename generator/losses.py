"""Loss terms for one token. Each returns a scalar (shape ()); the loop calls them per token and
stacks the results, so tokens in a batch stay independent."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from generator.ops import replace_grad


def spherical_dist_sq(x: Tensor, y: Tensor) -> Tensor:
    """Squared great-circle distance between directions of x and y (last dim), up to a factor 2."""
    x = F.normalize(x, dim=-1)
    y = F.normalize(y, dim=-1)
    return (x - y).norm(dim=-1).div(2).arcsin().pow(2).mul(2)


def prompt_loss(image_embeds: Tensor, targets: Tensor, weight: float, stop: float) -> Tensor:
    """One prompt's loss for one token: |w| * mean over cutouts and targets of sign(w)*dist^2.

    image_embeds: (cutn, D); targets: (K, D) (K > 1 for an image prompt's own cutouts).
    Where a distance is already below `stop` its gradient is cut, so that prompt stops
    pulling while the reported value stays honest (the straight-through max of the 2021 notebooks).
    """
    sign = 1.0 if weight >= 0 else -1.0
    dists = spherical_dist_sq(image_embeds[:, None], targets[None]) * sign
    dists = replace_grad(dists, torch.maximum(dists, dists.new_tensor(stop)))
    return abs(weight) * dists.mean()


def init_loss(z: Tensor, z_init: Tensor, weight: float) -> Tensor:
    """Keep z near the init image's latent: weight/2 * MSE (the `init_weight` term)."""
    return F.mse_loss(z, z_init) * (weight / 2)
