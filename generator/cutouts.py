"""Cutouts and augmentations: how CLIP sees the image each iteration.

Every random draw here takes the token's own generators, never torch's global RNG, so a
token's result does not depend on which other tokens share its batch, and the generators'
states can be checkpointed and restored exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
NOISE_FAC = 0.1


@dataclass
class TokenRng:
    """A token's private randomness: `cpu` for sizes, offsets and kornia's parameters, `dev` for noise."""

    cpu: torch.Generator
    dev: torch.Generator

    @classmethod
    def from_seed(cls, seed: int, device: torch.device) -> "TokenRng":
        cpu = torch.Generator().manual_seed(seed)
        dev = cpu if device.type == "cpu" else torch.Generator(device=device).manual_seed(seed)
        return cls(cpu, dev)

    def state(self) -> dict[str, Tensor]:
        return {"cpu": self.cpu.get_state(), "dev": self.dev.get_state()}

    def load_state(self, s: dict[str, Tensor]) -> None:
        self.cpu.set_state(s["cpu"])
        if self.dev is not self.cpu:
            self.dev.set_state(s["dev"])


def build_augments(names: Sequence[str], cut_size: int) -> nn.Module:
    """The kornia augmentation list named in settings.augments ("noise" is applied separately)."""
    import kornia.augmentation as K

    table = {
        "flip": lambda: K.RandomHorizontalFlip(p=0.5),
        "affine": lambda: K.RandomAffine(degrees=15, translate=0.1, shear=5, p=0.7, padding_mode="border"),
        "perspective": lambda: K.RandomPerspective(0.2, p=0.4),
        "jitter": lambda: K.ColorJitter(hue=0.01, saturation=0.01, p=0.7),
        "sharpness": lambda: K.RandomSharpness(0.3, p=0.4),
        "erasing": lambda: K.RandomErasing(scale=(0.1, 0.4), ratio=(0.3, 1 / 0.3), same_on_batch=True, p=0.7),
        "resized_crop": lambda: K.RandomResizedCrop(size=(cut_size, cut_size), scale=(0.1, 1), ratio=(0.75, 1.333), p=0.5),
    }
    return nn.Sequential(*[table[n]() for n in names if n != "noise"])


def with_rng(gen: torch.Generator, fn, *args):
    """Run `fn` with torch's global CPU RNG temporarily replaced by `gen` (kornia draws from the global RNG)."""
    with torch.random.fork_rng(devices=[]):
        torch.set_rng_state(gen.get_state())
        out = fn(*args)
        gen.set_state(torch.get_rng_state())
    return out


def random_crops(image: Tensor, cut_size: int, cutn: int, cut_pow: float, gen: torch.Generator) -> Tensor:
    """`cutn` square crops of a (1,3,H,W) image, sides drawn as rand**cut_pow between cut_size and the image, resampled to cut_size."""
    side_y, side_x = image.shape[2:4]
    max_size = min(side_x, side_y)
    min_size = min(side_x, side_y, cut_size)
    crops = []
    for _ in range(cutn):
        size = int(torch.rand([], generator=gen) ** cut_pow * (max_size - min_size) + min_size)
        ox = int(torch.randint(0, side_x - size + 1, (), generator=gen))
        oy = int(torch.randint(0, side_y - size + 1, (), generator=gen))
        crop = image[:, :, oy : oy + size, ox : ox + size]
        crops.append(F.interpolate(crop, (cut_size, cut_size), mode="bilinear", align_corners=False, antialias=size > cut_size))
    return torch.cat(crops)


def make_cutouts(image: Tensor, *, cut_size: int, cutn: int, cut_pow: float, augments: nn.Module,
                 noise: bool, rng: TokenRng) -> Tensor:
    """Crops -> kornia augments -> optional per-cutout gaussian noise -> CLIP normalisation. (cutn,3,S,S)."""
    batch = random_crops(image, cut_size, cutn, cut_pow, rng.cpu)
    if len(augments):
        batch = with_rng(rng.cpu, augments, batch)
    if noise:
        facs = torch.rand([cutn, 1, 1, 1], generator=rng.dev, device=batch.device, dtype=batch.dtype) * NOISE_FAC
        batch = batch + facs * torch.randn(batch.shape, generator=rng.dev, device=batch.device, dtype=batch.dtype)
    return normalize(batch)


def normalize(x: Tensor) -> Tensor:
    mean = x.new_tensor(CLIP_MEAN)[None, :, None, None]
    std = x.new_tensor(CLIP_STD)[None, :, None, None]
    return (x - mean) / std
