"""The committed demo pair: verified before loading, loaded by the real loaders, and as good as its report says."""

from __future__ import annotations

import json

import pytest

from generator.demo import files
from generator.demo.probe import ZeroShot, psnr, reconstruct


@pytest.fixture(scope="module")
def demo_models():
    from generator.models import load_models

    return load_models("demo", "cpu")


def test_committed_files_match_the_hashes_in_the_code_and_are_small():
    from buildfiles.hashing import sha256_file

    recorded = json.loads((files.DIR / files.HASH_FILE).read_text())["sha256"]
    assert recorded == files.SHA256 and set(recorded) == set(files.ALL_FILES)
    for f in files.ALL_FILES:
        assert sha256_file(files.DIR / f) == files.SHA256[f]
    assert sum((files.DIR / f).stat().st_size for f in files.ALL_FILES) <= 40 * 10**6  # the budget, judge included


def test_models_demo_loads_the_real_classes(demo_models):
    from generator.registry import parse_models

    assert type(demo_models.vqgan).__name__ == "VQModel" and type(demo_models.clip).__name__ == "CLIP"
    assert demo_models.name == "demo" and not demo_models.tiny and demo_models.test_label
    assert parse_models("demo").test_label == demo_models.test_label
    assert demo_models.factor == 4 and demo_models.cut_size == 48


def test_jax_reconstruction(demo_models):
    jax = files.jax_png()
    rec = reconstruct(demo_models.vqgan, jax, 128)
    # measured 24.06 dB by the training run (report.json; issue 23 asks for 24); a broken loader or file gives < 12
    assert psnr(rec, jax.resize((128, 128))) >= 24.0


def test_zero_shot_accuracy_per_category_on_held_out_pictures(demo_models):
    # measured on these 120 pictures: colour 93.6 %, object 48.6 %, setting 100 % (the adversarial
    # training of the second pair cost the guide clean accuracy: the first pair had 79 % objects)
    acc = ZeroShot.build(demo_models.clip).accuracy(seed=4242, n=120)
    assert acc["colour"] >= 0.85 and acc["object"] >= 0.4 and acc["setting"] >= 0.9, acc


# The judge, measured on the same 120 pictures: colour 95.5 %, object 33.3 % (chance: 20 %), setting 100 %.
JUDGE_NEED = {"colour": 0.85, "object": 0.25, "setting": 0.9}


@pytest.fixture(scope="module")
def judge_clip():
    from generator.models import load_clip

    return load_clip(files.judge_file())


def test_the_demo_pair_is_judged_by_its_own_second_clip(demo_models, judge_clip):
    from buildfiles.errors import UserError
    from generator.candidates import load_judge
    from generator.judges import judge_choice
    from generator.registry import DEMO_JUDGE

    choice = judge_choice("demo", None)
    assert choice.clip == DEMO_JUDGE == "demo-judge" and not choice.own and judge_choice("demo", DEMO_JUDGE) == choice
    with pytest.raises(UserError, match="demo"):
        judge_choice("demo", "ViT-B/16")
    with pytest.raises(UserError, match="demo-judge"):
        judge_choice("vqgan_imagenet_f16_16384+ViT-B/32", DEMO_JUDGE)
    judge = load_judge(choice, demo_models)
    assert judge.label == "demo-judge" and judge.clip is not demo_models.clip
    # its own architecture, not a copy of the guide's
    g, j = demo_models.clip, judge_clip
    assert j.visual.input_resolution != g.visual.input_resolution and j.text_projection.shape != g.text_projection.shape
    assert len(j.visual.transformer.resblocks) != len(g.visual.transformer.resblocks)


def test_judge_zero_shot_accuracy_on_held_out_pictures(judge_clip):
    acc = ZeroShot.build(judge_clip).accuracy(seed=4242, n=120)
    assert acc["colour"] >= JUDGE_NEED["colour"] and acc["object"] >= JUDGE_NEED["object"] and acc["setting"] >= JUDGE_NEED["setting"], acc
