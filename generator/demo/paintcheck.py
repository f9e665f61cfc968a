"""Does the demo pair paint what a person would call right? The measures of tests/test_demo_painting.py.

`python -m generator.demo.paintcheck --iterations 300 --early 60` renders the trials and prints every
figure with its negative control (the tests run the same code at fewer iterations).

A trial is one render from the Jax sketch at 128 px (its own start: the sketch with noise from the
trial's seed) of "a {colour} robot {object} {setting}", the colour, setting and object turning
through the world's words so that each colour meets several settings. Every picture is measured
without the guide:
- colour, on the robot (Jax's silhouette): each pixel counts for the nearest of the world's nine
  colours; the asked colour must gain more of the robot's pixels from the start than any other;
- setting, on the background (outside the silhouette): nearest centroid of plain pixel statistics
  (mean colour of the upper and lower background, spread), the centroids drawn from the world;
- object: the judge CLIP (never the guide) names one of the world's objects;
- Jax kept: correlation of the picture's edges with the sketch's;
- the judge's score of the picture against its prompt, early and late in the same run.
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from generator.demo import files, world

SIZE = 128
ASKED_COLOURS = ("red", "blue", "green", "golden", "purple")
ASKED_SETTINGS = ("sea", "volcano", "space", "forest", "desert")
ASKED_OBJECTS = ("lightsaber", "surfboard", "pirate", "balloon", "guitar")
START_NOISE = 0.06  # std of the per-trial noise on the start picture, in [0, 1] pixel units
INIT_WEIGHT = 0.5   # the starter manifest's and the bundled example's (collection/plan/templates.py)


@dataclass(frozen=True)
class Trial:
    seed: int
    colour: str
    setting: str
    object: str

    @property
    def prompt(self) -> str:
        return f"a {self.colour} robot {world.OBJECTS[self.object][0]} {world.SETTINGS[self.setting][0]}"


def trials(n: int = 20) -> list[Trial]:
    """n trials: colours turn every trial, settings every trial and every five (20 distinct colour-setting pairs)."""
    out = []
    for i in range(n):
        c, s, o = i % 5, (i + i // 5) % 5, (2 * i + i // 5 + 1) % 5
        out.append(Trial(i + 1, ASKED_COLOURS[c], ASKED_SETTINGS[s], ASKED_OBJECTS[o]))
    return out


def arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB").resize((SIZE, SIZE), Image.LANCZOS), dtype=np.float64) / 255


def sketch() -> np.ndarray:
    return arr(files.jax_png())


def start(seed: int) -> Image.Image:
    """The trial's start: the Jax sketch with noise drawn from the seed."""
    noisy = sketch() + np.random.default_rng(seed).normal(0, START_NOISE, (SIZE, SIZE, 3))
    return Image.fromarray((noisy.clip(0, 1) * 255).round().astype(np.uint8))


def silhouette() -> np.ndarray:
    """(SIZE, SIZE) bool: where Jax is (the sketch's robot drawn on an empty canvas), one pixel in from its edge."""
    key = (255, 0, 255)
    big = Image.new("RGB", (4 * SIZE, 4 * SIZE), key)
    world._robot(big, replace(world.JAX_SCENE, setting="space"))  # no ground line: that is not the robot
    m = np.any(np.asarray(big) != key, axis=-1).astype(np.float32)
    m = m.reshape(SIZE, 4, SIZE, 4).mean((1, 3)) > 0.5
    return _erode(m)


def background() -> np.ndarray:
    """(SIZE, SIZE) bool: away from Jax by a few pixels."""
    m = silhouette()
    for _ in range(4):
        m = ~_erode(~m)
    return ~m


def _erode(m: np.ndarray) -> np.ndarray:
    p = np.pad(m, 1, constant_values=False)
    return p[1:-1, 1:-1] & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]


# ---- colour, on the robot ---------------------------------------------------------------------

def colour_shares(img: Image.Image) -> dict[str, float]:
    """Share of the robot's pixels (Jax's silhouette) nearest to each of the world's nine colours."""
    px = arr(img)[silhouette()] * 255
    fills = np.array([fill for fill, _ in world.COLOURS.values()], dtype=np.float64)
    near = ((px[:, None, :] - fills[None]) ** 2).sum(-1).argmin(1)
    return {name: float((near == i).mean()) for i, name in enumerate(world.COLOURS)}


def colour_moves(img: Image.Image, start_img: Image.Image) -> dict[str, float]:
    """For each world colour: the share of the robot's pixels it gained from the start (the sketch's paper is
    "white" and its ink "black" before anything is painted)."""
    now, was = colour_shares(img), colour_shares(start_img)
    return {k: now[k] - was[k] for k in now}


def colour_wins(img: Image.Image, start_img: Image.Image, asked: str) -> bool:
    moves = colour_moves(img, start_img)
    return all(moves[asked] > v for k, v in moves.items() if k != asked)


# ---- setting, on the background ---------------------------------------------------------------

def background_stats(img: Image.Image) -> np.ndarray:
    """Mean colour of the upper and of the lower background, and the spread of its colours: 9 numbers."""
    a, bg = arr(img), background()
    top, bottom = bg.copy(), bg.copy()
    top[SIZE // 2 :] = False
    bottom[: SIZE // 2] = False
    return np.concatenate([a[top].mean(0), a[bottom].mean(0), a[bg].std(0)])


@dataclass(frozen=True)
class SettingCentroids:
    names: tuple[str, ...]
    centres: np.ndarray   # (n, 9)
    scale: np.ndarray     # (9,)

    @classmethod
    def from_world(cls, seed: int = 9090, per_setting: int = 16) -> "SettingCentroids":
        """Centroids of the world's own pictures of each asked setting (coloured robots, any style but sketch)."""
        rng = random.Random(seed)
        feats = {}
        for s in ASKED_SETTINGS:
            pics = []
            for _ in range(per_setting):
                sc = world.sample_scene(rng)
                sc = replace(sc, setting=s, style=rng.choice(("flat", "artstation", "unreal")),
                             colour=rng.choice(list(world.COLOURS)), dx=0.0, dy=0.0, scale=1.0)
                pics.append(background_stats(world.draw(sc, SIZE)))
            feats[s] = np.stack(pics)
        allf = np.concatenate(list(feats.values()))
        return cls(ASKED_SETTINGS, np.stack([feats[s].mean(0) for s in ASKED_SETTINGS]), allf.std(0) + 1e-3)

    def predict(self, img: Image.Image) -> str:
        d = (((background_stats(img) - self.centres) / self.scale) ** 2).sum(1)
        return self.names[int(d.argmin())]


# ---- Jax kept ------------------------------------------------------------------------------------

def edges(a: np.ndarray) -> np.ndarray:
    g = a.mean(-1)
    gy, gx = np.gradient(g)
    return np.hypot(gx, gy)


def edge_correlation(img: Image.Image, reference: np.ndarray | None = None) -> float:
    """Pearson correlation of the picture's edge strength with the sketch's (or `reference`'s)."""
    e, r = edges(arr(img)).ravel(), edges(sketch() if reference is None else reference).ravel()
    return float(np.corrcoef(e, r)[0, 1])


# ---- the judge ------------------------------------------------------------------------------------

def load_judge(folder: Path | None = None):
    """The demo pair's judge, as best-of-K loads it (generator.candidates.load_judge), or the one trained into `folder`."""
    from generator.candidates import Judge
    from generator.judges import judge_choice
    from generator.models import load_clip

    choice = judge_choice("demo", None)
    if folder is None:
        path = files.judge_file()
    else:
        import json

        path = files.judge_file(folder, json.loads((folder / files.HASH_FILE).read_text())["sha256"])
    return Judge(load_clip(path), choice.label, "cpu")


def to_batch(images: list[Image.Image]) -> torch.Tensor:
    return torch.from_numpy(np.stack([arr(i) for i in images])).permute(0, 3, 1, 2).float()


def judge_scores(judge, images: list[Image.Image], prompts: list[str]) -> list[float]:
    return judge.score(to_batch(images), prompts)


def judge_objects(judge, images: list[Image.Image]) -> list[str]:
    """The world object the judge names for each picture (among ASKED_OBJECTS, by their probe prompts)."""
    probes = [world.PROBES["object"][o] for o in ASKED_OBJECTS]
    x = to_batch(images)
    s = np.array([judge.score(x, [p] * len(images)) for p in probes])  # (objects, images)
    return [ASKED_OBJECTS[i] for i in s.argmax(0)]


# ---- rendering -------------------------------------------------------------------------------------

def pair_from(folder: Path):
    """A demo pair trained into `folder` (python -m generator.demo.train --out), checked against its sha256.json."""
    import json

    from generator.models import Models, load_clip, load_vqgan
    from generator.registry import DEMO

    recorded = json.loads((folder / files.HASH_FILE).read_text())["sha256"]
    config, ckpt, clip_path = files.demo_files(folder, recorded)
    return Models(DEMO, False, load_vqgan(config, ckpt), load_clip(clip_path), torch.device("cpu"))


def render(models, ts: list[Trial], iterations: int, early: int, *, cutn: int = 16, init_weight: float = INIT_WEIGHT,
           cut_pow: float = 1.0,
           prompts: list[str] | None = None, image_prompts: list[tuple] | None = None,
           batch: int = 20) -> tuple[list[Image.Image], list[Image.Image]]:
    """(early pictures, final pictures) of every trial, rendered in batches (a token's picture does not depend on its batch)."""
    from generator.loop import Callbacks, Renderer, TokenJob
    from generator.models import load_models
    from generator.settings import RenderSettings

    name = models if isinstance(models, str) else models.name
    s = RenderSettings(models=name, size=(SIZE, SIZE), iterations=iterations, cutn=cutn, init_weight=init_weight,
                       snapshots=(early,), checkpoint_every=10**6, batch_size=batch, cut_pow=cut_pow)
    prompts = prompts or [t.prompt for t in ts]
    ips = image_prompts or [()] * len(ts)
    jobs = [TokenJob(i, p, t.seed, s, init_image=start(t.seed), image_prompts=ip)
            for i, (t, p, ip) in enumerate(zip(ts, prompts, ips))]
    snaps: dict[int, Image.Image] = {}
    cb = Callbacks(on_image=lambda tid, kind, it, img: snaps.__setitem__(tid, img) if kind == "snapshot" else None)
    loaded = load_models(models, "cpu") if isinstance(models, str) else models
    out = {r.id: r.image for r in Renderer(loaded).render(jobs, cb)}
    return [snaps[i] for i in range(len(jobs))], [out[i] for i in range(len(jobs))]


@dataclass
class Figures:
    """Per check: trials that passed (or the value) for one set of pictures."""

    colour: int
    setting: int
    object: int
    edges: int
    edge_min: float
    judge_mean: float
    n: int

    def row(self) -> str:
        return (f"colour {self.colour}/{self.n}  setting {self.setting}/{self.n}  object {self.object}/{self.n}  "
                f"edges>=0.3 {self.edges}/{self.n} (min {self.edge_min:.2f})  judge mean {self.judge_mean:.4f}")


def measure(ts: list[Trial], images: list[Image.Image], judge, centroids: SettingCentroids,
            asked: list[Trial] | None = None) -> Figures:
    """The figures of `images` against what `asked` (default: the trials themselves) asked for."""
    asked = asked or ts
    corr = [edge_correlation(i) for i in images]
    objs = judge_objects(judge, images)
    return Figures(
        colour=sum(colour_wins(i, start(t.seed), a.colour) for i, t, a in zip(images, ts, asked)),
        setting=sum(centroids.predict(i) == a.setting for i, a in zip(images, asked)),
        object=sum(o == a.object for o, a in zip(objs, asked)),
        edges=sum(c >= 0.3 for c in corr), edge_min=min(corr),
        judge_mean=float(np.mean(judge_scores(judge, images, [a.prompt for a in asked]))), n=len(images))


# ---- image prompts ---------------------------------------------------------------------------------

IMAGE_PROMPT_TEXT = "a robot"  # names no setting: where the background goes is the image prompt's doing


def setting_picture(t: Trial) -> Image.Image:
    """The trial's image prompt: a world picture of its setting, another robot (a flat one of a colour drawn
    from the seed) standing in it, so that only the setting is shared with the render."""
    rng = random.Random(t.seed)
    sc = replace(world.sample_scene(rng), setting=t.setting, style="flat", colour=rng.choice(list(world.COLOURS)))
    return world.draw(sc, SIZE)


def render_image_prompts(models, ts: list[Trial], iterations: int, *, cutn: int = 16) -> list[Image.Image]:
    """Each trial painted as IMAGE_PROMPT_TEXT with its setting picture as an image prompt (weight 1)."""
    from generator.loop import ImagePrompt

    _, final = render(models, ts, iterations, iterations, cutn=cutn, prompts=[IMAGE_PROMPT_TEXT] * len(ts),
                      image_prompts=[(ImagePrompt(setting_picture(t)),) for t in ts])
    return final


def settings_followed(ts: list[Trial], images: list[Image.Image], centroids: SettingCentroids,
                      asked: list[Trial] | None = None) -> int:
    """How many pictures' backgrounds read as the setting of their image prompt (or of `asked`'s)."""
    return sum(centroids.predict(i) == a.setting for i, a in zip(images, asked or ts))


def shifted(ts: list[Trial]) -> list[Trial]:
    """The wrong prompt of each trial: every word moved one along its list (never the asked one)."""
    nxt = lambda xs, x: xs[(xs.index(x) + 1) % len(xs)]  # noqa: E731
    return [Trial(t.seed, nxt(ASKED_COLOURS, t.colour), nxt(ASKED_SETTINGS, t.setting), nxt(ASKED_OBJECTS, t.object)) for t in ts]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m generator.demo.paintcheck", description=__doc__.splitlines()[0])
    p.add_argument("--iterations", type=int, default=300)
    p.add_argument("--early", type=int, default=60)
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--cutn", type=int, default=16)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cut-pow", type=float, default=1.0, help="render.cut_pow (below 1: cutouts nearer the whole picture)")
    p.add_argument("--models", default="demo", help="demo (the installed pair) or tiny (the negative control)")
    p.add_argument("--pair", type=Path, metavar="DIR", help="a demo pair trained into DIR instead (its sha256.json checked)")
    p.add_argument("--save", type=Path, metavar="DIR", help="write every picture there (early_N.png, final_N.png)")
    p.add_argument("--judge", type=Path, metavar="DIR", help="the judge trained into DIR instead of the installed one")
    p.add_argument("--load", type=Path, metavar="DIR", help="measure the pictures --save wrote there instead of rendering")
    p.add_argument("--image-prompts", action="store_true",
                   help=f"instead: paint '{IMAGE_PROMPT_TEXT}' with a picture of the trial's setting as image prompt "
                        "for --iterations, and count the backgrounds that take that setting")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    ts = trials(a.trials)
    models = pair_from(a.pair) if a.pair else a.models
    if a.image_prompts:
        t0 = time.perf_counter()
        final = render_image_prompts(models, ts, a.iterations, cutn=a.cutn)
        cents = SettingCentroids.from_world()
        print(f"{a.models}: {len(ts)} trials of '{IMAGE_PROMPT_TEXT}' + a setting picture, {a.iterations} iterations, "
              f"rendered in {time.perf_counter() - t0:.0f} s")
        print(f"  background takes the image prompt's setting: {settings_followed(ts, final, cents)}/{len(ts)}; "
              f"a wrong setting: {settings_followed(ts, final, cents, shifted(ts))}/{len(ts)}")
        if a.save:
            a.save.mkdir(parents=True, exist_ok=True)
            for i, f in enumerate(final):
                f.save(a.save / f"image_prompt_{i}.png")
        return 0
    if a.load:
        early, final = ([Image.open(a.load / f"{k}_{i}.png").convert("RGB") for i in range(len(ts))] for k in ("early", "final"))
    else:
        t0 = time.perf_counter()
        early, final = render(models, ts, a.iterations, a.early, cutn=a.cutn, cut_pow=a.cut_pow)
        print(f"{a.models}: {len(ts)} trials at {SIZE}², cutn {a.cutn}, cut_pow {a.cut_pow}, init_weight {INIT_WEIGHT}, "
              f"rendered in {time.perf_counter() - t0:.0f} s")
    if a.save:
        a.save.mkdir(parents=True, exist_ok=True)
        for i, (e, f) in enumerate(zip(early, final)):
            e.save(a.save / f"early_{i}.png")
            f.save(a.save / f"final_{i}.png")
    judge, cents = load_judge(a.judge), SettingCentroids.from_world()
    for name, imgs in ((f"iteration {a.early}", early), (f"iteration {a.iterations}", final)):
        print(f"  {name:>14}: {measure(ts, imgs, judge, cents).row()}")
        print(f"  {'wrong prompt':>14}: {measure(ts, imgs, judge, cents, shifted(ts)).row()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
