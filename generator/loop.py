"""The z+quantize optimisation loop, batched over tokens.

One iteration, for a batch of tokens that share size and settings:

    z_q  = vector_quantize(z)                      straight-through to z
    img  = clamp_with_grad(decode(z_q)/2 + 1/2)    in [0, 1]
    for each token: cutouts -> augments -> CLIP image embeddings
    loss = sum over prompts of |w| * mean(sign(w) * spherical_dist^2)  (+ init-weight MSE)
    step each token's own optimiser; clamp z into the codebook's range

Tokens in a batch share only the forward passes. Each has its own z, optimiser, prompt
embeddings and random generators, and its loss is a separate scalar, so its gradients
(and therefore its image) are the same whatever else is in the batch, up to the float
rounding of batched matmuls. The Renderer writes no files: it reports images, checkpoints
and progress through callbacks, so a remote worker can run it and hand back data.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from generator.cutouts import TokenRng, build_augments, make_cutouts, random_crops, normalize
from generator.losses import init_loss, prompt_loss
from generator.models import Models
from generator.ops import clamp_with_grad, vector_quantize
from generator.prompts import parse_noise_prompt, split_prompts
from generator.settings import RenderSettings
from generator.story import prompt_at, schedule
from generator.zoom import zoom_image, zoom_points

CHECKPOINT_FORMAT = "roboz-ckpt/1"
OPTIMISERS = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "adagrad": torch.optim.Adagrad,
    "adamax": torch.optim.Adamax,
    "rmsprop": torch.optim.RMSprop,
}


# ---- data in and out ------------------------------------------------------------------------

@dataclass(frozen=True)
class ImagePrompt:
    image: Image.Image
    weight: float = 1.0
    stop: float = float("-inf")


@dataclass
class TokenJob:
    """One token to paint. Images are already loaded, so the job is plain data a worker can receive."""

    id: int
    prompt: str
    seed: int
    settings: RenderSettings
    init_image: Image.Image | None = None
    image_prompts: tuple[ImagePrompt, ...] = ()
    checkpoint: dict[str, Any] | None = None  # from an earlier, interrupted run


def checkpoint_threads(ck: dict[str, Any] | None) -> int | None:
    """The CPU thread count a checkpoint was painted with (None: a CUDA run, or a checkpoint from before it was recorded)."""
    n = ck.get("threads") if ck else None
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else None


@dataclass
class TokenResult:
    id: int
    image: Image.Image
    final_loss: float
    iterations: int
    seconds: float
    device: str
    seed: int | None = None     # the seed of the image (best-of-K: the chosen candidate's)
    # best-of-K only: every candidate, chosen one included (generator.candidates.Candidate)
    candidates: tuple = ()
    judge: str | None = None    # label of the CLIP that scored the candidates
    threads: int | None = None  # CPU threads the pixels were computed with (None on CUDA): part of "same picture"
    stopped: Any = None         # iterations: auto only: where and why it stopped (generator.autostop.Stopped)


@dataclass(frozen=True)
class Progress:
    token_ids: tuple[int, ...]
    iteration: int  # optimiser steps done
    total: int
    losses: tuple[float, ...]


@dataclass
class Callbacks:
    on_progress: Callable[[Progress], None] = lambda p: None
    on_checkpoint: Callable[[int, dict[str, Any]], None] = lambda token_id, ckpt: None
    # kind is "snapshot" (settings.snapshots) or "frame" (every video.every iterations)
    on_image: Callable[[int, str, int, Image.Image], None] = lambda token_id, kind, it, img: None
    on_result: Callable[[TokenResult], None] = lambda r: None
    should_stop: Callable[[], bool] = lambda: False


class Interrupted(Exception):
    """Raised after a stop request, once every token of the running batch was checkpointed."""


# ---- small pure helpers -------------------------------------------------------------------

def latent_size(size: tuple[int, int], factor: int) -> tuple[int, int]:
    """(width, height) in latent cells: the render size rounded down to the model's factor (at least 1 cell)."""
    return max(1, size[0] // factor), max(1, size[1] // factor)


def batch_key(job: TokenJob) -> tuple:
    """Tokens may share a batch when everything but their prompts, seeds and init images agree."""
    d = job.settings.to_dict()
    for k in ("init_image", "image_prompts", "noise_prompts", "init_weight", "batch_size"):
        d.pop(k)
    start = int(job.checkpoint["iteration"]) if job.checkpoint else 0
    return (repr(sorted(d.items())), start, checkpoint_threads(job.checkpoint))


def make_batches(jobs: Sequence[TokenJob]) -> list[list[TokenJob]]:
    """Group compatible jobs, in order, into batches of at most settings.batch_size."""
    groups: dict[tuple, list[TokenJob]] = {}
    for j in jobs:
        groups.setdefault(batch_key(j), []).append(j)
    out = []
    for g in groups.values():
        n = g[0].settings.batch_size
        out.extend(g[i : i + n] for i in range(0, len(g), n))
    return out


def to_tensor(img: Image.Image, size: tuple[int, int], device: torch.device) -> Tensor:
    """PIL -> (1,3,H,W) in [0,1], resized (Lanczos) to `size` = (width, height)."""
    img = img.convert("RGB").resize(size, Image.LANCZOS)
    arr = np.asarray(img, dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1)[None].to(device)


def to_pil(x: Tensor) -> Image.Image:
    """(3,H,W) in [0,1] -> 8-bit RGB PIL image."""
    arr = x.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(arr)


def make_optimiser(name: str, params: list[Tensor], lr: float) -> torch.optim.Optimizer:
    return OPTIMISERS[name](params, lr=lr)


# ---- per-token state ----------------------------------------------------------------------

@dataclass
class TokenState:
    job: TokenJob
    z: Tensor               # (1, C, h, w) leaf being optimised
    z_init: Tensor | None   # latent of the init image, for the init-weight term
    targets: list[tuple[Tensor, float, float]]  # (embeddings (K,D), weight, stop)
    opt: torch.optim.Optimizer
    rng: TokenRng
    iteration: int = 0
    last_loss: float = float("nan")
    prior_seconds: float = 0.0  # time spent in earlier, interrupted runs
    started: float = field(default_factory=time.perf_counter)
    batch_size: int = 1  # tokens sharing this one's batch (for its share of the time)
    prompt: str = ""     # the prompt in force (story mode changes it); its embeddings lead `targets`
    n_text: int = 0      # how many of `targets` come from `prompt`
    scores: list[float] = field(default_factory=list)  # iterations: auto: the judge's, every auto_stop.every iterations
    best_z: Tensor | None = None  # iterations: auto: z at the best of `scores` (the picture a stopped token keeps)
    kept: int | None = None       # iterations: auto: the iteration whose picture z now holds, once stopped

    def seconds(self, batch_size: int) -> float:
        """This token's share of the batch's wall time, plus earlier runs'."""
        return self.prior_seconds + (time.perf_counter() - self.started) / batch_size

    def checkpoint(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "id": self.job.id,
            "iteration": self.iteration,
            "z": self.z.detach().cpu().clone(),
            "optimiser": _to_cpu(self.opt.state_dict()),
            "rng": {k: v.clone() for k, v in self.rng.state().items()},
            "loss": self.last_loss,
            "seconds": self.seconds(self.batch_size),
            # a zoom frame holds the init term to its own zoomed start, which a resume cannot recompute
            **({"z_init": self.z_init.detach().cpu().clone()} if self.job.settings.zoom and self.z_init is not None else {}),
            "threads": cpu_threads(self.z.device),
            # iterations: auto decides on every score so far: a resumed token stops where it would have
            **({"scores": list(self.scores)} if self.job.settings.auto_stop else {}),
            **({"best_z": self.best_z.detach().cpu().clone()} if self.best_z is not None else {}),
        }


def cpu_threads(device: torch.device) -> int | None:
    """torch's CPU thread count when painting on the CPU (None on CUDA, where it does not touch the pixels)."""
    return torch.get_num_threads() if device.type == "cpu" else None


def _compiled(fn):
    """torch.compile(fn), or fn itself once compiling fails (no compiler, unsupported op): a lever, never a failure."""
    state = {"fn": torch.compile(fn, dynamic=False)}

    def call(*args):
        try:
            return state["fn"](*args)
        except Exception as e:  # inductor raises many types; any of them means "run eagerly"
            if state["fn"] is fn:
                raise
            import warnings

            warnings.warn(f"torch.compile failed ({type(e).__name__}); running eagerly")
            state["fn"] = fn
            return fn(*args)

    return call


def _to_cpu(obj):
    if isinstance(obj, Tensor):
        return obj.detach().cpu().clone()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_cpu(v) for v in obj]
    return obj


@dataclass(frozen=True)
class Levers:
    """Speed levers: the same models, cutouts and steps, computed faster. Each changes float rounding,
    so images differ from the default's in the last bits: a build records the levers it painted with
    (chosen per machine by generator.calibrate) and a resumed build reuses them.

    channels_last: the VQGAN's convolutions in NHWC, the layout oneDNN and cuDNN prefer.
    compile: torch.compile the VQGAN decoder and CLIP's image encoder (falls back to eager if it fails).
    precision: autocast dtype ("bf16", "fp16") for tokens whose settings say fp32; None keeps fp32.
      A precision named in the settings always wins: the lever only fills in the default.
    """

    channels_last: bool = False
    compile: bool = False
    precision: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"channels_last": self.channels_last, "compile": self.compile, "precision": self.precision}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Levers":
        return cls(bool(d.get("channels_last", False)), bool(d.get("compile", False)), d.get("precision"))

    @property
    def label(self) -> str:
        """"fp32" for none, else the levers joined by "+" ("channels_last+compile", "bf16+channels_last")."""
        parts = ([self.precision] if self.precision else []) + [n for n in ("channels_last", "compile") if getattr(self, n)]
        return "+".join(parts) or "fp32"


class Renderer:
    """`Renderer(models).render(jobs, callbacks) -> [TokenResult]`: paints tokens, writes nothing."""

    def __init__(self, models: Models, levers: Levers = Levers()):
        self.m = models
        self.device = models.device
        self.levers = levers
        # CPU sums are split by thread, so the count is part of what a picture depends on: a fresh
        # batch paints with the count the executor set up (--threads, the CPUs, a Ray actor's
        # share), a resumed one with the count its checkpoint was painted with.
        self.threads = cpu_threads(self.device)
        self._z_min = models.codebook.min(0).values[None, :, None, None]
        self._z_max = models.codebook.max(0).values[None, :, None, None]
        # Layout is a property of the shared weights: set it either way, so a Renderer made after
        # another one's channels_last (a calibration's trials) paints as its own levers say.
        models.vqgan.to(memory_format=torch.channels_last if levers.channels_last else torch.contiguous_format)
        self._vq_decode = _compiled(models.vqgan.decode) if levers.compile else models.vqgan.decode
        self._encode_image = _compiled(models.clip.encode_image) if levers.compile else models.clip.encode_image

    # -- setup --

    def _autocast(self, settings: RenderSettings):
        precision = settings.precision if settings.precision != "fp32" else (self.levers.precision or "fp32")
        if precision == "fp32":
            return torch.autocast(self.device.type, enabled=False)
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    @torch.no_grad()
    def encode_text(self, text: str) -> Tensor:
        import clip

        return self.m.clip.encode_text(clip.tokenize([text], truncate=True).to(self.device)).float()

    @torch.no_grad()
    def encode_image_prompt(self, p: ImagePrompt, s: RenderSettings, seed: int) -> Tensor:
        """CLIP embeddings of `cutn` plain crops of an image prompt (own generator: setup never consumes the loop's RNG)."""
        w, h = s.size
        x = to_tensor(p.image, (w, h), self.device)
        g = torch.Generator().manual_seed(seed ^ 0x5EED)
        crops = random_crops(x, self.m.cut_size, s.cutn, s.cut_pow, g)
        return self.m.clip.encode_image(normalize(crops)).float()

    @torch.no_grad()
    def initial_z(self, job: TokenJob, rng: TokenRng) -> tuple[Tensor, Tensor | None]:
        f = self.m.factor
        tw, th = latent_size(job.settings.size, f)
        if job.init_image is not None:
            z = self.encode_picture(job.init_image, job.settings)
            return z, z.clone()
        cb = self.m.codebook
        idx = torch.randint(cb.shape[0], (th * tw,), generator=rng.cpu).to(self.device)
        z = cb[idx].view(1, th, tw, cb.shape[1]).permute(0, 3, 1, 2)
        return z.contiguous(), None

    @torch.no_grad()
    def encode_picture(self, image: Image.Image, s: RenderSettings) -> Tensor:
        """The latent of a picture at the render's size (an init image, a zoomed frame)."""
        f = self.m.factor
        tw, th = latent_size(s.size, f)
        z, *_ = self.m.vqgan.encode(to_tensor(image, (tw * f, th * f), self.device) * 2 - 1)
        return z

    def _story(self, st: TokenState) -> None:
        """Story mode: the text targets of the prompt in force at the state's iteration."""
        s = st.job.settings
        p = prompt_at(schedule(st.job.prompt, s.story, s.change_every), st.iteration) if s.story else st.job.prompt
        if p != st.prompt:
            text = [(self.encode_text(t.text), t.weight, t.stop) for t in split_prompts(p)]
            st.targets, st.prompt, st.n_text = text + st.targets[st.n_text :], p, len(text)

    @torch.no_grad()
    def _zoom(self, states: list[TokenState], cb: Callbacks) -> None:
        """A zoom frame: emit each picture, then start its latent again from the picture zoomed in."""
        s = states[0].job.settings
        images = self.current_images(states)
        for i, st in enumerate(states):
            frame = to_pil(images[i])
            cb.on_image(st.job.id, "frame", st.iteration, frame)
            # from the 8-bit frame, as the video shows it: a resume (or a test) can redo this exactly
            z = self.encode_picture(zoom_image(frame, s.zoom.scale), s)
            st.z = z.detach().clone().requires_grad_(True)
            st.opt = make_optimiser(s.optimiser, [st.z], s.step_size)
            if st.z_init is not None:
                st.z_init = z.clone()

    def setup(self, job: TokenJob) -> TokenState:
        s = job.settings
        rng = TokenRng.from_seed(job.seed, self.device)
        z, z_init = self.initial_z(job, rng)
        targets = [(self.encode_text(p.text), p.weight, p.stop) for p in split_prompts(job.prompt)]
        n_text = len(targets)
        targets += [(self.encode_image_prompt(p, s, job.seed), p.weight, p.stop) for p in job.image_prompts]
        dim = targets[0][0].shape[-1] if targets else self.m.clip.text_projection.shape[1]
        for item in s.noise_prompts:
            nseed, weight = parse_noise_prompt(item)
            emb = torch.empty(1, dim).normal_(generator=torch.Generator().manual_seed(nseed)).to(self.device)
            targets.append((emb, weight, float("-inf")))
        z = z.detach().clone().requires_grad_(True)
        opt = make_optimiser(s.optimiser, [z], s.step_size)
        st = TokenState(job, z, z_init, targets, opt, rng, prompt=job.prompt, n_text=n_text)
        if job.checkpoint:
            ck = job.checkpoint
            if tuple(ck["z"].shape) != tuple(z.shape):
                raise ValueError(f"checkpoint of token {job.id} has z of shape {tuple(ck['z'].shape)}, expected {tuple(z.shape)}")
            with torch.no_grad():
                z.copy_(ck["z"].to(self.device))
            opt.load_state_dict(ck["optimiser"])
            rng.load_state(ck["rng"])
            st.iteration = int(ck["iteration"])
            st.last_loss = float(ck.get("loss", float("nan")))
            st.prior_seconds = float(ck.get("seconds", 0.0))
            if ck.get("z_init") is not None:
                st.z_init = ck["z_init"].to(self.device)
            st.scores = [float(x) for x in ck.get("scores", ())]
            if ck.get("best_z") is not None:
                st.best_z = ck["best_z"].to(self.device)
        self._story(st)
        return st

    # -- the loop --

    def decode(self, z: Tensor, s: RenderSettings) -> Tensor:
        """Latents -> images in [0,1], quantised on the way (gradients straight through to z).

        The nearest-code search stays fp32 even under autocast: bf16 distances pick other codes.
        """
        z_q = vector_quantize(z, self.m.codebook)
        if self.levers.channels_last:
            z_q = z_q.contiguous(memory_format=torch.channels_last)
        with self._autocast(s):
            x = self._vq_decode(z_q)
        return clamp_with_grad(x.float().add(1).div(2), 0, 1)

    def losses(self, states: list[TokenState], images: Tensor) -> Tensor:
        """One loss per token (B,), each depending only on that token's image, z and targets."""
        s = states[0].job.settings
        augs = self._augments(s)
        noise = "noise" in s.augments
        cuts = [make_cutouts(images[i : i + 1], cut_size=self.m.cut_size, cutn=s.cutn, cut_pow=s.cut_pow,
                             augments=augs, noise=noise, rng=st.rng) for i, st in enumerate(states)]
        with self._autocast(s):
            embeds = self._encode_image(torch.cat(cuts)).float()
        out = []
        for i, st in enumerate(states):
            e = embeds[i * s.cutn : (i + 1) * s.cutn]
            loss = sum((prompt_loss(e, t, w, stop) for t, w, stop in st.targets), e.new_zeros(()))
            if st.z_init is not None and st.job.settings.init_weight:
                loss = loss + init_loss(st.z, st.z_init, st.job.settings.init_weight)
            out.append(loss)
        return torch.stack(out)

    def _augments(self, s: RenderSettings):
        key = (tuple(s.augments), self.m.cut_size)
        if getattr(self, "_aug_key", None) != key:
            self._aug_key, self._aug = key, build_augments(s.augments, self.m.cut_size).to(self.device)
        return self._aug

    def _emit_images(self, states: list[TokenState], images: Tensor, cb: Callbacks, final: bool = False) -> None:
        s = states[0].job.settings
        it = states[0].iteration
        last = final or it == s.iterations  # final: the picture a token ends with (iterations: auto may end sooner)
        kinds = []
        if it in s.snapshots:
            kinds.append("snapshot")
        if s.zoom:  # the zoom points emit their own frames (Renderer._zoom); the last one comes here
            if last:
                kinds.append("frame")
        elif s.video and (it % s.video.every == 0 or last):
            kinds.append("frame")
        if s.preview_every and (it % s.preview_every == 0 or last):
            kinds.append("preview")
        for kind in kinds:
            for i, st in enumerate(states):
                cb.on_image(st.job.id, kind, it, to_pil(images[i]))

    def use_threads(self, jobs: Sequence[TokenJob]) -> int | None:
        """Set torch's CPU thread count for a batch (see __init__); returns it (None on CUDA)."""
        if self.threads is None:
            return None
        n = checkpoint_threads(jobs[0].checkpoint) or self.threads
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
        return n

    def render_batch(self, jobs: Sequence[TokenJob], cb: Callbacks) -> list[TokenResult]:
        self.use_threads(jobs)
        states = [self.setup(j) for j in jobs]
        for st in states:
            st.batch_size = len(states)
        self.advance(states, jobs[0].settings.iterations, cb)
        return self.finish(states, cb)

    def advance(self, states: list[TokenState], until: int, cb: Callbacks) -> None:
        """Optimise every state (all at the same iteration, same settings) up to iteration `until`.

        Checkpoints go out every `checkpoint_every` iterations and on a stop request (then
        Interrupted is raised); best-of-K (generator/candidates.py) runs its stages through this.
        """
        s = states[0].job.settings
        ids = tuple(st.job.id for st in states)
        zooms = set(zoom_points(s.iterations, s.zoom)) if s.zoom else set()
        while states[0].iteration < until:
            if cb.should_stop():
                for st in states:
                    cb.on_checkpoint(st.job.id, st.checkpoint())
                raise Interrupted(f"stopped at iteration {states[0].iteration}")
            if states[0].iteration in zooms:
                self._zoom(states, cb)
            if s.story:
                for st in states:
                    self._story(st)
            for st in states:
                st.opt.zero_grad(set_to_none=True)
            images = self.decode(torch.cat([st.z for st in states]), s)
            self._emit_images(states, images.detach(), cb)
            losses = self.losses(states, images)
            losses.sum().backward()  # sum of independent terms: each z gets only its own gradient
            with torch.no_grad():
                for i, st in enumerate(states):
                    st.opt.step()
                    st.z.copy_(st.z.maximum(self._z_min).minimum(self._z_max))
                    st.iteration += 1
                    st.last_loss = float(losses[i])
            cb.on_progress(Progress(ids, states[0].iteration, s.iterations, tuple(st.last_loss for st in states)))
            if states[0].iteration % s.checkpoint_every == 0 and states[0].iteration < s.iterations:
                for st in states:
                    cb.on_checkpoint(st.job.id, st.checkpoint())

    @torch.no_grad()
    def current_images(self, states: list[TokenState]) -> Tensor:
        """The images of the states' z as they stand, (B,3,H,W) in [0,1]."""
        return self.decode(torch.cat([st.z for st in states]), states[0].job.settings)

    def finish(self, states: list[TokenState], cb: Callbacks) -> list[TokenResult]:
        """The image of z after the last step, emitted as results."""
        images = self.current_images(states)
        self._emit_images(states, images, cb, final=True)
        results = [TokenResult(st.job.id, to_pil(images[i]), st.last_loss, st.iteration, st.seconds(len(states)), str(self.device),
                               seed=st.job.seed, threads=cpu_threads(self.device))
                   for i, st in enumerate(states)]
        for r in results:
            cb.on_result(r)
        return results

    def render(self, jobs: Iterable[TokenJob], callbacks: Callbacks | None = None) -> list[TokenResult]:
        """Paint `jobs`, a batch at a time. Best-of-K jobs go through generator.candidates.render instead."""
        cb = callbacks or Callbacks()
        out: list[TokenResult] = []
        for batch in make_batches(list(jobs)):
            out.extend(self.run_batch(batch, cb))
        return out

    def run_batch(self, jobs: Sequence[TokenJob], cb: Callbacks) -> list[TokenResult]:
        """One batch from make_batches, painted once per token."""
        if jobs[0].settings.candidates > 1:
            # The loop knows nothing of judging; best-of-K sits on top of it (generator.candidates).
            raise ValueError("best-of-K jobs (settings.candidates > 1) go through generator.candidates.run_batch")
        if jobs[0].settings.auto_stop:  # so does the judge that auto-stop needs
            raise ValueError("iterations: auto jobs go through generator.candidates.run_batch (they need a judge)")
        return self.render_batch(jobs, cb)
