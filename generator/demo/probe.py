"""Held-out measures of the demo pair, shared by the training report and the tests.

- `psnr`: reconstruction quality of the VQGAN on one picture (the Jax sketch).
- `ZeroShot`: the CLIP as a classifier per category (colour, object, setting) by its
  similarity to one probe prompt per class (world.PROBES); it is also the "second,
  independent measure" the semantic tests can put on a rendered image.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn

from generator.demo import world

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def to_unit(img: Image.Image, size: int) -> Tensor:
    """PIL -> (1,3,size,size) in [0,1], antialiased resize."""
    img = img.convert("RGB").resize((size, size), Image.LANCZOS)
    return torch.from_numpy(np.asarray(img, dtype=np.float32) / 255).permute(2, 0, 1)[None]


def normalize(x: Tensor) -> Tensor:
    return (x - x.new_tensor(CLIP_MEAN)[None, :, None, None]) / x.new_tensor(CLIP_STD)[None, :, None, None]


@torch.no_grad()
def reconstruct(vqgan: nn.Module, img: Image.Image, size: int) -> Image.Image:
    x = to_unit(img, size) * 2 - 1
    dec, _ = vqgan(x)
    arr = dec[0].clamp(-1, 1).add(1).div(2).mul(255).round().byte().permute(1, 2, 0).numpy()
    return Image.fromarray(arr)


def psnr(a: Image.Image, b: Image.Image) -> float:
    x = np.asarray(a.convert("RGB"), dtype=np.float64)
    y = np.asarray(b.convert("RGB").resize(a.size, Image.LANCZOS), dtype=np.float64)
    mse = ((x - y) ** 2).mean()
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


@dataclass
class ZeroShot:
    """Per-category zero-shot classifier built from a CLIP and world.PROBES."""

    clip: nn.Module
    classes: dict[str, list[str]]
    text: dict[str, Tensor]  # category -> (n_classes, D) unit vectors

    @classmethod
    @torch.no_grad()
    def build(cls, clip_model: nn.Module) -> "ZeroShot":
        import clip as openai_clip

        classes, text = {}, {}
        for cat, probes in world.PROBES.items():
            classes[cat] = list(probes)
            t = clip_model.encode_text(openai_clip.tokenize(list(probes.values()))).float()
            text[cat] = F.normalize(t, dim=-1)
        return cls(clip_model, classes, text)

    @torch.no_grad()
    def scores(self, images: Tensor, category: str) -> Tensor:
        """(N, n_classes) cosine similarities for images (N,3,H,W) in [0,1]."""
        res = self.clip.visual.input_resolution
        x = F.interpolate(images, (res, res), mode="bilinear", antialias=True, align_corners=False)
        e = F.normalize(self.clip.encode_image(normalize(x)).float(), dim=-1)
        return e @ self.text[category].T

    def predict(self, img: Image.Image, category: str) -> str:
        s = self.scores(to_unit(img, 128), category)
        return self.classes[category][int(s.argmax())]

    def accuracy(self, seed: int = 777, n: int = 360, size: int = 128) -> dict[str, float]:
        """Accuracy per category on `n` held-out scenes (a seed never used in training)."""
        rng = random.Random(seed)
        scenes = [world.sample_scene(rng) for _ in range(n)]
        imgs = torch.cat([to_unit(world.draw(s, size), size) for s in scenes])
        out = {}
        for cat, attr in (("colour", "colour"), ("object", "object"), ("setting", "setting")):
            keep = [i for i, s in enumerate(scenes) if getattr(s, attr) in self.classes[cat]]
            pred = self.scores(imgs[keep], cat).argmax(-1).tolist()
            truth = [self.classes[cat].index(getattr(scenes[i], attr)) for i in keep]
            out[cat] = sum(p == t for p, t in zip(pred, truth)) / max(1, len(keep))
        return out
