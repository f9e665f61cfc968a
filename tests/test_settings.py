"""RenderSettings: the one settings type from plan to loop, and the judge rule it shares with the halving."""

from __future__ import annotations

import itertools
import pickle

import pytest

from buildfiles.errors import UserError
from generator.judges import judge_choice
from generator.registry import CLIPS, DEFAULT_CLIP, DEFAULT_VQGAN
from generator.settings import DEFAULT_MODELS, RenderSettings, VideoSettings
from tests.test_manifest_errors import GOOD

OWN_VQ = {"config": "/w/robots.yaml", "checkpoint": "/w/robots.ckpt"}


def test_own_files_mapping_with_a_judge_validates():
    """Regression: `models` given as a mapping and `judge` set ended in AttributeError
    (`self.models.partition`) instead of a judgement."""
    s = RenderSettings(models={"vqgan": OWN_VQ, "clip": "ViT-B/32"}, judge="ViT-B/16")
    assert s.judge == "ViT-B/16"
    assert RenderSettings(models={"vqgan": OWN_VQ, "clip": {"file": "/w/mine.pt"}}, judge="ViT-B/32").judge == "ViT-B/32"
    with pytest.raises(ValueError, match="judge ViT-B/32 is the guide's own CLIP"):
        RenderSettings(models={"vqgan": OWN_VQ, "clip": "ViT-B/32"}, judge="ViT-B/32")
    with pytest.raises(ValueError, match="unknown CLIP"):
        RenderSettings(models={"vqgan": OWN_VQ}, judge="ViT-Q/99")


def test_settings_and_halving_judge_by_the_same_rule():
    """Every (models, judge) pair the settings accept is one the halving can load, and the other way round."""
    models = [DEFAULT_MODELS, f"{DEFAULT_VQGAN}+ViT-B/16", "tiny", "demo", {"vqgan": OWN_VQ, "clip": "ViT-B/16"},
              {"vqgan": {**OWN_VQ, "name": "demo_roboz"}, "clip": {"file": "/w/demo_clip.pt"}}]
    for m, judge in itertools.product(models, [None, *CLIPS, "ViT-Q/99"]):
        try:
            judge_choice(m, judge)
            halving_ok = True
        except UserError:
            halving_ok = False
        try:
            RenderSettings(models=m, judge=judge)
            settings_ok = True
        except ValueError:
            settings_ok = False
        assert settings_ok == halving_ok, (m, judge)


def test_default_models_name_the_registry_defaults():
    assert DEFAULT_MODELS == f"{DEFAULT_VQGAN}+{DEFAULT_CLIP}"
    assert judge_choice(DEFAULT_MODELS, None).clip != DEFAULT_CLIP  # never the guide


def test_validate_reports_a_bad_judge_of_own_files_in_one_line(tmp_path, capsys):
    from collection.cli import main

    from generator.tiny import ensure_tiny

    yaml, ckpt, _clip = ensure_tiny(tmp_path / "own")  # real files in the real formats (the manifest reads their headers)
    own = f"models: {{vqgan: {{config: {yaml}, checkpoint: {ckpt}}}, clip: ViT-B/32}}"
    f = tmp_path / "manifest.yaml"
    f.write_text(GOOD.replace("models: tiny", f"{own}\n  judge: ViT-B/16"))
    assert main(["validate", str(f)]) == 0, capsys.readouterr().err
    f.write_text(GOOD.replace("models: tiny", f"{own}\n  judge: ViT-B/32"))
    assert main(["validate", str(f)]) == 2
    err = capsys.readouterr().err
    assert "judge ViT-B/32 is the guide's own CLIP" in err and "a bug" not in err and "Traceback" not in err


def test_settings_round_trip_plan_form_and_pickle():
    """plan.json's form rebuilds the same settings, and Ray ships the object itself (picklable)."""
    s = RenderSettings(models="tiny", size=(48, 32), snapshots=(2, 4), video=VideoSettings(2, 12), candidates=3,
                       iterations=8)
    assert RenderSettings.from_dict(s.to_dict()) == s
    assert pickle.loads(pickle.dumps(s)) == s
    assert RenderSettings.from_dict(s.to_dict()).to_dict() == s.to_dict()
