"""The demo world: deterministic, covers the manifests' trait words, and draws the Jax sketch."""

from __future__ import annotations

import random
import re
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from generator.demo import world
from generator.demo.probe import psnr

REPO = Path(__file__).resolve().parents[1]
# Words of the manifests that carry no picture: glue between the trait words.
GLUE = {"a", "an", "the", "with", "in", "on", "as", "by", "of", "and", "little"}


def manifest_words(text: str) -> set[str]:
    """Every word of a manifest's trait names, trait prompt phrases, template and specials' prompts."""
    m = yaml.safe_load(text)
    phrases = [re.sub(r"\{\w+\}", " ", m["prompt"]["template"])]
    for values in m["traits"].values():
        for name, v in values.items():
            phrases.append(name)
            if isinstance(v, dict) and "prompt" in v:
                phrases.append(v["prompt"])
    phrases += [sp["prompt"] for sp in m.get("specials", [])]
    words = set()
    for p in phrases:
        for part in p.split("|"):
            text = part.rsplit(":", 1)[0] if re.search(r":-?[\d.]+$", part.strip()) else part
            words.update(w.lower() for w in re.findall(r"[A-Za-z-]+", text))
    return words - GLUE


def test_world_covers_every_trait_word_of_the_example_and_starter_manifests():
    from collection.plan.templates import STARTER_MANIFEST

    known = world.trait_words()
    for name, text in (("example", (REPO / "examples/rusty-roboz/manifest.yaml").read_text()), ("starter", STARTER_MANIFEST)):
        missing = manifest_words(text) - known
        assert not missing, f"{name} manifest words the demo world never shows: {sorted(missing)}"


def test_required_categories_are_in_the_world():
    for c in ("red", "blue", "green", "golden", "rusty", "purple", "silver", "black", "white"):
        assert c in world.COLOURS
    for o in ("lightsaber", "surfboard", "pirate", "balloon", "guitar"):
        assert o in world.OBJECTS
    for s in ("volcano", "sea", "hill", "space", "city", "forest", "desert"):
        assert s in world.SETTINGS


def test_scenes_pictures_and_captions_are_deterministic():
    a, b = world.scenes(5, 12, jax_every=6), world.scenes(5, 12, jax_every=6)
    assert a == b and a != world.scenes(6, 12, jax_every=6)
    assert a[0] == world.JAX_SCENE and a[6] == world.JAX_SCENE
    for s in a[1:4]:
        assert world.draw(s, 64).tobytes() == world.draw(s, 64).tobytes()
    caps = [world.caption(s, random.Random(1)) for s in a]
    assert caps == [world.caption(s, random.Random(1)) for s in a]


def test_captions_use_the_scene_words():
    rng = random.Random(3)
    for s in world.scenes(11, 40):
        cap = world.caption(s, rng, keep=1.0)
        if s.colour != "none" and not any(w in cap for w in world.SETTINGS[s.setting] if " " not in w):
            assert any(w in cap for w in world.COLOURS[s.colour][1]), (s, cap)


def test_the_drawn_jax_is_the_bundled_sketch():
    bundled = Image.open(REPO / "collection/assets/jax.png").convert("RGB").resize((128, 128), Image.LANCZOS)
    assert psnr(world.jax_sketch(128), bundled) > 24


def test_colours_and_settings_differ_in_pixels():
    """The world itself says what the semantic tests measure: red robots are red, the sea is blue."""
    def mean_rgb(**kw):
        s = world.Scene(**{"colour": "silver", "object": "none", "setting": "plain", "style": "flat", **kw})
        return np.asarray(world.draw(s, 64), dtype=float).reshape(-1, 3).mean(0)

    red, blue = mean_rgb(colour="red"), mean_rgb(colour="blue")
    assert red[0] - red[2] > blue[0] - blue[2] + 20
    sea, volcano = mean_rgb(setting="sea"), mean_rgb(setting="volcano")
    assert sea[2] > sea[0] and volcano[0] > volcano[2]
