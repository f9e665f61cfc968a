"""The demo world: Jax-like robots drawn with PIL, each with a caption made from the same words.

A scene is a handful of choices (colour, object, setting, style, and how the robot is
built and posed); `draw` paints it and `caption` says it in words. Everything follows
from a seed, so the training set, the held-out set and the tests are the same on every
machine. The words are those of the example and starter manifests
(examples/rusty-roboz/manifest.yaml, collection/plan/templates.py) and a few more, so the
demo models know every trait the bundled collection asks for.
"""

from __future__ import annotations

import colorsys
import random
from dataclasses import dataclass
from typing import Sequence

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

# ---- vocabulary -----------------------------------------------------------------------------

# colour -> (fill RGB, word variants used in captions)
COLOURS: dict[str, tuple[tuple[int, int, int], tuple[str, ...]]] = {
    "red": ((206, 38, 34), ("red",)),
    "blue": ((36, 78, 214), ("blue",)),
    "green": ((44, 168, 64), ("green",)),
    "golden": ((228, 182, 36), ("golden", "gold")),
    "rusty": ((150, 76, 36), ("rusty", "rust-coloured")),
    "purple": ((128, 52, 182), ("purple",)),
    "silver": ((196, 200, 210), ("silver",)),
    "black": ((30, 30, 34), ("black",)),
    "white": ((248, 248, 246), ("white",)),
}

# object -> phrases ("as a space pirate" is the manifest's pirate; "surfing" its surfboard)
OBJECTS: dict[str, tuple[str, ...]] = {
    "none": (),
    "lightsaber": ("with a lightsaber", "holding a lightsaber", "with a light saber"),
    "surfboard": ("surfing", "with a surfboard", "on a surfboard"),
    "pirate": ("as a space pirate", "as a pirate", "with a pirate hat", "wearing a pirate hat"),
    "balloon": ("with a balloon", "holding a balloon"),
    "guitar": ("with a guitar", "playing the guitar", "playing guitar"),
}

# setting -> phrases ("Dune" is the example's special)
SETTINGS: dict[str, tuple[str, ...]] = {
    "plain": (),
    "volcano": ("in a volcano", "near a volcano", "by a volcano", "volcano"),
    "sea": ("in the sea", "at sea", "by the sea", "in the ocean", "sea"),
    "hill": ("on a hill", "on a green hill", "hill"),
    "space": ("in space", "in outer space", "among the stars"),
    "city": ("in the city", "in a city", "city"),
    "forest": ("in a forest", "in the woods", "forest"),
    "desert": ("in the desert", "on a dune", "dune", "in the dunes"),
}

# style -> phrases; "sketch" is the look of the bundled Jax drawing
STYLES: dict[str, tuple[str, ...]] = {
    "flat": (),
    "artstation": ("trending on artstation", "artstation"),
    "unreal": ("rendered by unreal engine", "unreal engine"),
    "sketch": ("a sketch", "a line drawing", "a pencil sketch"),
}

NOUNS = ("robot", "roboz", "little robot", "rusty roboz", "brave little robot", "jax", "robot jax")

# The zero-shot probes: one prompt per class, the way a manifest phrases it.
PROBES: dict[str, dict[str, str]] = {
    "colour": {c: f"a {c} robot" for c in COLOURS},
    "object": {o: f"a robot {p[0]}" for o, p in OBJECTS.items() if p},
    "setting": {s: f"a robot {p[0]}" for s, p in SETTINGS.items() if p},
}

INK = (38, 34, 30)
PAPER = (246, 241, 228)
RUST = (183, 92, 48)


@dataclass(frozen=True)
class Scene:
    colour: str        # a COLOURS key, or "none" for a line drawing
    object: str        # an OBJECTS key
    setting: str       # a SETTINGS key
    style: str         # a STYLES key
    head: int = 0      # 0 rounded box, 1 round, 2 wide
    antenna: int = 0   # 0 ball, 1 two, 2 none
    arms: int = 0      # 0 one waving, 1 both down, 2 both up
    scale: float = 1.0
    dx: float = 0.0    # offset in 512-units
    dy: float = 0.0
    seed: int = 0      # background details (stars, waves, windows)


def sample_scene(rng: random.Random, *, holdout: bool = False) -> Scene:
    """A random scene. Sketch-style scenes are colourless line drawings on paper, like the Jax sketch."""
    style = rng.choices(list(STYLES), weights=(3, 3, 3, 1))[0]
    colour = "none" if style == "sketch" else rng.choice(list(COLOURS))
    setting = "plain" if style == "sketch" and rng.random() < 0.7 else rng.choice([s for s in SETTINGS if s != "plain"])
    if style != "sketch" and rng.random() < 0.08:
        setting = "plain"
    obj = rng.choice(list(OBJECTS))
    return Scene(colour, obj, setting, style, head=rng.randrange(3), antenna=rng.randrange(3), arms=rng.randrange(3),
                 scale=rng.uniform(0.72, 1.0), dx=rng.uniform(-50, 50), dy=rng.uniform(-10, 30), seed=rng.randrange(1 << 30))


JAX_SCENE = Scene("none", "none", "plain", "sketch")


def caption(scene: Scene, rng: random.Random, *, keep: float = 0.85) -> str:
    """Words for a scene, each part kept with probability `keep` (so short prompts mean something too)."""
    parts = []
    noun = rng.choice(NOUNS)
    if scene.colour != "none" and rng.random() < keep:
        word = rng.choice(COLOURS[scene.colour][1])
        if noun.startswith("rusty") and scene.colour != "rusty":
            noun = "rusty roboz"  # "Red rusty roboz": the example's template; the colour word wins
        parts.append(f"{rng.choice(('a ', '', 'the '))}{word} {noun}")
    else:
        if noun == "rusty roboz" and scene.colour not in ("rusty", "none"):
            noun = "roboz"
        parts.append(f"{rng.choice(('a ', '', ''))}{noun}")
    if OBJECTS[scene.object] and rng.random() < keep:
        parts.append(rng.choice(OBJECTS[scene.object]))
    if SETTINGS[scene.setting] and rng.random() < keep:
        parts.append(rng.choice(SETTINGS[scene.setting]))
    text = " ".join(parts)
    if STYLES[scene.style] and rng.random() < keep:
        s = rng.choice(STYLES[scene.style])
        text = f"{s} of {text}" if scene.style == "sketch" and rng.random() < 0.5 else f"{text}, {s}"
    if rng.random() < 0.15:  # a bare setting or colour, as in "Dune"
        bare = [p for p in (SETTINGS[scene.setting] + (COLOURS[scene.colour][1] if scene.colour in COLOURS else ())) if " " not in p]
        if bare:
            text = rng.choice(bare)
    return text


# ---- drawing --------------------------------------------------------------------------------

def _mix(a, b, t):
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))


def _shade(c, f):
    """Lighter (f > 0) or darker (f < 0) version of colour c."""
    return _mix(c, (255, 255, 255), f) if f > 0 else _mix(c, (0, 0, 0), -f)


def _vgrad(d: ImageDraw.ImageDraw, box, top, bottom):
    x0, y0, x1, y1 = [int(v) for v in box]
    h = max(1, y1 - y0)
    for y in range(y0, y1):
        d.line([(x0, y), (x1, y)], fill=_mix(top, bottom, (y - y0) / h))


def _background(img: Image.Image, setting: str, style: str, rng: random.Random) -> None:
    W = img.width
    d = ImageDraw.Draw(img)
    u = W / 512
    if setting == "plain":
        d.rectangle([0, 0, W, W], fill=PAPER if style == "sketch" else (226, 226, 220))
    elif setting == "sea":
        _vgrad(d, (0, 0, W, 0.46 * W), (120, 186, 240), (196, 228, 250))
        _vgrad(d, (0, 0.46 * W, W, W), (30, 120, 200), (8, 52, 130))
        for _ in range(14):
            x, y = rng.uniform(0, W), rng.uniform(0.5 * W, W)
            d.arc([x - 30 * u, y - 8 * u, x + 30 * u, y + 8 * u], 200, 340, fill=(190, 235, 250), width=max(1, int(4 * u)))
    elif setting == "volcano":
        _vgrad(d, (0, 0, W, 0.7 * W), (70, 20, 18), (200, 70, 30))
        cx = rng.uniform(0.3, 0.7) * W
        d.polygon([(cx - 0.55 * W, 0.82 * W), (cx - 0.1 * W, 0.3 * W), (cx + 0.1 * W, 0.3 * W), (cx + 0.55 * W, 0.82 * W)], fill=(60, 40, 36))
        d.polygon([(cx - 0.1 * W, 0.3 * W), (cx + 0.1 * W, 0.3 * W), (cx + 0.16 * W, 0.42 * W), (cx - 0.05 * W, 0.5 * W), (cx - 0.16 * W, 0.42 * W)], fill=(250, 120, 20))
        for _ in range(6):
            x, y = rng.uniform(0, W), rng.uniform(0.08, 0.3) * W
            d.ellipse([x - 6 * u, y - 6 * u, x + 6 * u, y + 6 * u], fill=(255, 160, 40))
        _vgrad(d, (0, 0.8 * W, W, W), (230, 90, 20), (150, 30, 10))
    elif setting == "hill":
        _vgrad(d, (0, 0, W, W), (110, 176, 236), (200, 230, 250))
        d.ellipse([-0.4 * W, 0.55 * W, 1.1 * W, 1.6 * W], fill=(80, 170, 60))
        d.ellipse([0.3 * W, 0.62 * W, 1.6 * W, 1.7 * W], fill=(60, 148, 48))
        d.ellipse([0.75 * W, 0.08 * W, 0.9 * W, 0.23 * W], fill=(255, 240, 150))
    elif setting == "space":
        d.rectangle([0, 0, W, W], fill=(8, 8, 24))
        for _ in range(60):
            x, y, r = rng.uniform(0, W), rng.uniform(0, W), rng.uniform(0.6, 2.2) * u
            d.ellipse([x - r, y - r, x + r, y + r], fill=(255, 255, 240))
        px, py, pr = rng.uniform(0.1, 0.9) * W, rng.uniform(0.1, 0.3) * W, 0.09 * W
        d.ellipse([px - pr, py - pr, px + pr, py + pr], fill=(200, 120, 200))
        d.ellipse([px - 1.8 * pr, py - 0.35 * pr, px + 1.8 * pr, py + 0.35 * pr], outline=(230, 200, 240), width=max(1, int(4 * u)))
    elif setting == "city":
        _vgrad(d, (0, 0, W, W), (70, 50, 110), (240, 150, 90))
        x = -rng.uniform(0, 40) * u
        while x < W:
            bw, bh = rng.uniform(50, 110) * u, rng.uniform(0.3, 0.7) * W
            d.rectangle([x, W - bh, x + bw, W], fill=(58, 58, 70))
            for wy in range(int(W - bh + 12 * u), int(W), max(2, int(24 * u))):
                for wx in range(int(x + 10 * u), int(x + bw - 10 * u), max(2, int(22 * u))):
                    if rng.random() < 0.6:
                        d.rectangle([wx, wy, wx + 9 * u, wy + 11 * u], fill=(255, 220, 110))
            x += bw + rng.uniform(4, 16) * u
        d.rectangle([0, 0.9 * W, W, W], fill=(90, 90, 96))
    elif setting == "forest":
        _vgrad(d, (0, 0, W, W), (170, 210, 170), (220, 240, 210))
        d.rectangle([0, 0.82 * W, W, W], fill=(100, 70, 40))
        for _ in range(12):
            x, h = rng.uniform(-20, 532) * u, rng.uniform(0.35, 0.65) * W
            base = 0.86 * W
            d.rectangle([x - 8 * u, base - 0.2 * h, x + 8 * u, base], fill=(90, 56, 30))
            g = rng.choice([(24, 100, 40), (34, 120, 50), (20, 84, 34)])
            d.polygon([(x, base - h), (x - 0.22 * h, base - 0.15 * h), (x + 0.22 * h, base - 0.15 * h)], fill=g)
    elif setting == "desert":
        _vgrad(d, (0, 0, W, W), (250, 224, 160), (255, 244, 210))
        d.ellipse([0.08 * W, 0.08 * W, 0.24 * W, 0.24 * W], fill=(255, 250, 220))
        d.ellipse([-0.5 * W, 0.55 * W, 0.9 * W, 1.5 * W], fill=(228, 170, 80))
        d.ellipse([0.3 * W, 0.65 * W, 1.6 * W, 1.6 * W], fill=(210, 148, 60))
    else:
        raise ValueError(f"unknown setting {setting!r}")


def _robot(img: Image.Image, sc: Scene) -> None:
    W = img.width
    s = W / 512 * sc.scale
    ox = 256 * (W / 512) - 256 * s + sc.dx * W / 512
    oy = 500 * (W / 512) - 500 * s + sc.dy * W / 512 * 0.3  # scaled about the feet
    d = ImageDraw.Draw(img)
    sketch = sc.style == "sketch"
    bold = sc.style == "artstation"
    soft = sc.style == "unreal"
    base = PAPER if sketch else COLOURS[sc.colour][0]
    if not sketch:  # each robot's paint is a little lighter or darker than the next one's
        base = _shade(base, random.Random(sc.seed ^ 0xC0102).uniform(-0.12, 0.12))
    if bold:  # saturated, punchy palette
        h, l, sat = colorsys.rgb_to_hls(*[v / 255 for v in base])
        base = tuple(int(v * 255) for v in colorsys.hls_to_rgb(h, l, min(1.0, sat * 1.25)))
    ink = INK if not sc.colour == "black" else (90, 90, 100)
    w = max(1, round((10 if bold else 6) * s)) if not soft else 0

    def P(x, y):
        return (ox + x * s, oy + y * s)

    def fill_for(part_shade: float):
        return _shade(base, part_shade) if not sketch else PAPER

    def box(x0, y0, x1, y1, r=0, shade=0.0, fill=None):
        a, b = P(x0, y0), P(x1, y1)
        f = fill if fill is not None else fill_for(shade)
        if soft:  # gradient shading: light from the top left
            sub = Image.new("RGB", img.size)
            sd = ImageDraw.Draw(sub)
            _vgrad(sd, (a[0], a[1], b[0] + 1, b[1] + 1), _shade(f, 0.35), _shade(f, -0.35))
            mask = Image.new("L", img.size, 0)
            ImageDraw.Draw(mask).rounded_rectangle([a, b], radius=r * s, fill=255)
            img.paste(sub, (0, 0), mask)
        else:
            d.rounded_rectangle([a, b], radius=r * s, outline=ink, width=w, fill=f)

    def line(*pts, col=None, width=None):
        d.line([P(x, y) for x, y in pts], fill=col or (ink if not soft else _shade(base, -0.3)),
               width=width or max(1, round((10 if bold else 6) * s)), joint="curve")

    def dot(x, y, r, fill=None):
        a, b = P(x - r, y - r), P(x + r, y + r)
        d.ellipse([a, b], outline=ink if not soft else None, width=w, fill=fill if fill is not None else ink)

    if soft:  # a soft shadow on the ground
        sh = Image.new("L", img.size, 0)
        ImageDraw.Draw(sh).ellipse([P(150, 468), P(362, 500)], fill=120)
        sh = sh.filter(ImageFilter.GaussianBlur(6 * s))
        img.paste((0, 0, 0), (0, 0), sh)

    obj = sc.object
    if obj == "surfboard":  # under the feet
        d.ellipse([P(20, 466), P(492, 512)], fill=(250, 240, 120), outline=ink, width=max(1, w))
        d.line([P(44, 489), P(468, 489)], fill=(230, 60, 60), width=max(1, round(8 * s)))
    if obj == "balloon":
        line((420 if sc.arms != 1 else 400, 200 if sc.arms != 1 else 390), (440, 60), col=INK, width=max(1, round(3 * s)))
        d.ellipse([P(390, -40), P(490, 70)], fill=(240, 70, 150), outline=ink, width=max(1, w))
    # antenna
    if sc.antenna == 0:
        line((256, 92), (256, 132))
        dot(256, 80, 12, fill=RUST if sketch else _shade(base, -0.25))
    elif sc.antenna == 1:
        line((220, 100), (226, 132))
        line((292, 100), (286, 132))
        dot(218, 92, 10, fill=RUST if sketch else _shade(base, -0.25))
        dot(294, 92, 10, fill=RUST if sketch else _shade(base, -0.25))
    # head
    if sc.head == 0:
        box(176, 132, 336, 244, r=28, shade=0.1)
    elif sc.head == 1:
        box(186, 122, 326, 248, r=62, shade=0.1)
    else:
        box(150, 142, 362, 244, r=16, shade=0.1)
    eye = (250, 250, 240) if sc.colour != "white" else (60, 60, 60)
    dot(218, 182, 18, fill=eye if not sketch else PAPER)
    dot(294, 182, 18, fill=eye if not sketch else PAPER)
    dot(222, 184, 6, fill=INK)
    dot(290, 184, 6, fill=INK)
    for x in range(226, 296, 14):
        line((x, 214), (x, 230))
    if obj == "pirate":  # a black tricorn with a white skull dot
        d.polygon([P(150, 140), P(256, 60), P(362, 140), P(256, 118)], fill=(20, 20, 22), outline=(20, 20, 22))
        d.ellipse([P(244, 90), P(268, 112)], fill=(250, 250, 250))
    # neck and body
    box(236, 244, 276, 262, shade=-0.1)
    box(160, 262, 352, 402, r=20)
    box(212, 292, 300, 352, r=10, shade=-0.25, fill=RUST if sketch else None)
    for x in (232, 256, 280):
        dot(x, 376, 7)
    # arms
    hands = []
    if sc.arms == 0:
        line((160, 290), (118, 340), (100, 386)); hands.append((96, 398))
        line((352, 290), (398, 250), (420, 200)); hands.append((424, 188))
    elif sc.arms == 1:
        line((160, 290), (126, 340), (118, 390)); hands.append((116, 402))
        line((352, 290), (386, 340), (394, 390)); hands.append((396, 402))
    else:
        line((160, 290), (114, 250), (96, 200)); hands.append((92, 188))
        line((352, 290), (398, 250), (420, 200)); hands.append((424, 188))
    for hx, hy in hands:
        dot(hx, hy, 14, fill=_shade(base, -0.2) if not sketch else INK)
    # legs and feet
    box(192, 402, 232, 456, shade=-0.1)
    box(280, 402, 320, 456, shade=-0.1)
    box(176, 456, 240, 478, r=8, shade=-0.2)
    box(272, 456, 336, 478, r=8, shade=-0.2)
    if sketch and sc.setting == "plain":
        line((80, 484), (432, 484))
    hx, hy = hands[-1]
    if obj == "lightsaber":  # a glowing blade up from the right hand
        glow = Image.new("L", img.size, 0)
        ImageDraw.Draw(glow).line([P(hx, hy), P(hx + 60, hy - 190)], fill=255, width=max(2, round(34 * s)))
        img.paste((120, 255, 250), (0, 0), glow.filter(ImageFilter.GaussianBlur(5 * s)))
        d.line([P(hx, hy), P(hx + 60, hy - 190)], fill=(235, 255, 255), width=max(2, round(16 * s)))
        d.line([P(hx - 6, hy + 18), P(hx + 4, hy - 14)], fill=(120, 120, 130), width=max(2, round(18 * s)))
    elif obj == "guitar":  # across the body
        d.line([P(180, 380), P(390, 250)], fill=(70, 40, 20), width=max(2, round(14 * s)))
        d.ellipse([P(130, 330), P(220, 420)], fill=(190, 110, 40), outline=ink, width=max(1, w))
        d.ellipse([P(180, 300), P(250, 370)], fill=(190, 110, 40), outline=ink, width=max(1, w))
        d.ellipse([P(178, 350), P(202, 374)], fill=(40, 20, 10))


def draw(scene: Scene, size: int = 128, supersample: int = 2) -> Image.Image:
    """Paint a scene as an RGB image of size x size (drawn larger, then downsampled for smooth edges)."""
    big = size * supersample
    img = Image.new("RGB", (big, big))
    rng = random.Random(scene.seed)
    _background(img, scene.setting, scene.style, rng)
    _robot(img, scene)
    if scene.style == "artstation":  # punchy contrast and a vignette
        img = ImageEnhance.Contrast(img).enhance(1.2)
        vig = Image.new("L", img.size, 0)
        ImageDraw.Draw(vig).ellipse([-big * 0.25, -big * 0.25, big * 1.25, big * 1.25], fill=255)
        vig = vig.filter(ImageFilter.GaussianBlur(big / 10))
        img = Image.composite(img, Image.new("RGB", img.size, (10, 8, 20)), vig)
    return img.resize((size, size), Image.LANCZOS)


def jax_sketch(size: int = 128) -> Image.Image:
    """The Jax sketch as collection/assets/draw_jax.py draws it (same lines, same paper), at `size`."""
    return draw(JAX_SCENE, size)


def scenes(seed: int, n: int, *, jax_every: int = 0) -> list[Scene]:
    """n scenes from a seed; every `jax_every`-th is the bundled Jax sketch (0: never)."""
    rng = random.Random(seed)
    return [JAX_SCENE if jax_every and i % jax_every == 0 else sample_scene(rng) for i in range(n)]


def trait_words() -> set[str]:
    """Every word the world's captions can use (for the coverage test)."""
    words: set[str] = set()
    groups: Sequence = (*[v[1] for v in COLOURS.values()], *OBJECTS.values(), *SETTINGS.values(), *STYLES.values(), NOUNS)
    for g in groups:
        for phrase in g:
            words.update(phrase.lower().replace(",", " ").split())
    return words
