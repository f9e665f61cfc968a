"""An artist's own checkpoints in render.models / --models: validated, hash-pinned by the plan,
checked before every load (nothing unpickled before), named in metadata without paths.

The files are written in the real formats: a taming VQModel yaml + Lightning-style .ckpt
(pickled dict with `state_dict`, as generator/tiny.py writes) and a CLIP state dict. The
VQGAN is the tiny one with changed weights, so a test can tell the file was really used.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
import torch

from buildfiles.hashing import sha256_file
from collection.cli import main
from generator import weights
from generator.models import convert_to_safetensors, load_models
from generator.registry import CLIPFile, VQGANFiles, parse_models
from generator.tiny import FILES, ensure_tiny

MANIFEST = textwrap.dedent(
    """\
    collection:
      name: Own Roboz
      symbol: OWN
      seed: 7
      supply: 2
    render:
      models:
        vqgan: {config: weights/jax.yaml, checkpoint: weights/jax.ckpt, name: Jax fine-tune}
        clip: weights/jax-clip.pt
      init_image: null
      size: [32, 32]
      iterations: 4
      cutn: 4
      checkpoint_every: 2
      augments: [flip]
    prompt:
      template: "{colour} roboz"
    traits:
      colour: {Red: 1, Blue: 1}
    """
)


@pytest.fixture
def project(tmp_path, roboz_home) -> Path:
    """A project folder with own VQGAN (yaml + Lightning .ckpt) and CLIP files beside the manifest."""
    tiny = tmp_path / "tiny-src"
    yaml, ckpt, clip = ensure_tiny(tiny)
    w = tmp_path / "proj" / "weights"
    w.mkdir(parents=True)
    shutil.copyfile(yaml, w / "jax.yaml")
    shutil.copyfile(clip, w / "jax-clip.pt")
    ck = torch.load(ckpt, map_location="cpu", weights_only=False)  # our own tiny file, just written
    ck["state_dict"]["decoder.conv_out.bias"] += 0.25  # "fine-tuned": differs from the tiny pair
    ck.update(optimizer_states=[], lr_schedulers=[], callbacks={})  # the rest of a Lightning checkpoint
    torch.save(ck, w / "jax.ckpt")
    (tmp_path / "proj" / "manifest.yaml").write_text(MANIFEST)
    return tmp_path / "proj"


def test_parse_mapping_resolves_paths_and_round_trips(tmp_path):
    c = parse_models({"vqgan": {"config": "a.yaml", "checkpoint": "b.ckpt"}, "clip": "ViT-B/16"}, base=tmp_path)
    assert c.vqgan == VQGANFiles(str(tmp_path / "a.yaml"), str(tmp_path / "b.ckpt"), "b") and c.clip == "ViT-B/16"
    assert c.label == "b+ViT-B/16" and str(tmp_path) not in c.label
    assert parse_models(str(c)) == c  # executors pass it as one string
    # the CLI form is YAML flow, relative to the working directory
    c2 = parse_models("{vqgan: {config: a.yaml, checkpoint: b.ckpt}, clip: my/clip.pt}", base=tmp_path)
    assert c2.clip == CLIPFile(str(tmp_path / "my" / "clip.pt"), "clip")
    with pytest.raises(Exception, match="unknown key 'chekpoint'"):
        parse_models({"vqgan": {"config": "a.yaml", "chekpoint": "b.ckpt"}}, base=tmp_path)


def test_validate_names_a_missing_checkpoint_with_its_line(project):
    (project / "weights" / "jax.ckpt").unlink()
    from collection.plan.manifest import ManifestError, load_manifest

    with pytest.raises(ManifestError) as e:
        load_manifest(project / "manifest.yaml")
    line = e.value.lines()[0]
    assert line.startswith("render.models.vqgan.checkpoint: file not found") and "(manifest.yaml:8)" in line  # the vqgan line


@pytest.mark.parametrize("models, message", [
    ("{vqgan: {config: weights/jax.yaml, chekpoint: weights/jax.ckpt}}", "render.models: unknown key 'chekpoint' in models.vqgan"),
    ("123", "render.models: got int 123; models must be"),
    ("vqgan_imagenet_f16_16384+ViT-B/99", "render.models: unknown CLIP 'ViT-B/99'"),
])
def test_validate_locates_a_wrong_models_spec(project, models, message):
    from collection.plan.manifest import ManifestError, load_manifest

    text = (project / "manifest.yaml").read_text()
    i, j = text.index("  models:\n"), text.index("  init_image:")
    (project / "manifest.yaml").write_text(text[:i] + f"  models: {models}\n" + text[j:])
    with pytest.raises(ManifestError) as e:
        load_manifest(project / "manifest.yaml")
    line = e.value.lines()[0]
    assert line.startswith(message) and line.endswith("(manifest.yaml:7)"), line


def test_build_pins_hashes_uses_the_files_and_names_the_model(project, capsys):
    assert main(["build", str(project / "manifest.yaml"), "--device", "cpu", "--no-progress", "--no-preview"]) == 0
    build = project / "build"
    plan = _plan_header(build)
    spec = plan["render"]["models"]
    w = project / "weights"
    assert spec["vqgan"]["checkpoint"] == "../weights/jax.ckpt"  # relative to the build folder: the project can move
    assert spec["vqgan"]["sha256"] == {"config": sha256_file(w / "jax.yaml"), "checkpoint": sha256_file(w / "jax.ckpt")}
    assert spec["clip"]["sha256"] == sha256_file(w / "jax-clip.pt")
    for tid in (1, 2):
        rec = json.loads((build / "renders" / f"{tid}.json").read_text())
        assert rec["models"] == "Jax fine-tune+jax-clip" and rec["tiny"] is False
        md = json.loads((build / "metadata" / f"{tid}.json").read_text())
        assert {"trait_type": "Model", "value": "Jax fine-tune+jax-clip"} in md["attributes"]
        assert str(project) not in json.dumps(md)  # no local paths in public metadata
    # the loader really used the fine-tuned checkpoint, not the tiny pair
    m = load_models(parse_models(spec, base=build), "cpu")
    tiny_sd = torch.load(project.parent / "tiny-src" / FILES[1], weights_only=False)["state_dict"]
    assert torch.allclose(m.vqgan.decoder.conv_out.bias, tiny_sd["decoder.conv_out.bias"] + 0.25)


def _plan_header(build: Path) -> dict:
    from buildfiles.plan import load_plan

    p = load_plan(build)
    return {"render": {**p.render, **p.tokens[0].render}}


def test_a_checkpoint_changed_after_planning_is_refused_before_unpickling(project, monkeypatch):
    assert main(["plan", str(project / "manifest.yaml")]) == 0
    ckpt = project / "weights" / "jax.ckpt"
    ck = torch.load(ckpt, weights_only=False)
    ck["state_dict"]["decoder.conv_out.bias"] += 1  # another valid checkpoint under the same name
    torch.save(ck, ckpt)
    loads = []
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(a) or pytest.fail("unpickled an unverified file"))
    from collection.render.render_step import render_build

    with pytest.raises(weights.HashMismatch, match="refusing to load"):
        render_build(project / "build", device="cpu", progress=False)
    assert loads == []


def test_models_flag_names_files_relative_to_the_working_directory(project, monkeypatch, capsys):
    manifest = (project / "manifest.yaml").read_text().replace(
        "      models:\n        vqgan: {config: weights/jax.yaml, checkpoint: weights/jax.ckpt, name: Jax fine-tune}\n"
        "        clip: weights/jax-clip.pt\n", "      models: tiny\n")
    (project / "manifest.yaml").write_text(manifest)
    assert main(["plan", str(project / "manifest.yaml")]) == 0
    monkeypatch.chdir(project / "weights")
    flag = "{vqgan: {config: jax.yaml, checkpoint: jax.ckpt}, clip: jax-clip.pt}"
    assert main(["render", str(project / "build"), "--models", flag, "--device", "cpu", "--no-progress"]) == 0
    rec = json.loads((project / "build" / "renders" / "1.json").read_text())
    assert rec["models"] == "jax+jax-clip" and rec["tiny"] is False
    # the run records exactly which files it used
    assert rec["settings"]["models"]["vqgan"]["sha256"]["checkpoint"] == sha256_file(project / "weights" / "jax.ckpt")
    with pytest.raises(SystemExit) as e:  # a missing file is an argument error, one line
        main(["render", str(project / "build"), "--models", "{vqgan: {config: jax.yaml, checkpoint: nope.ckpt}}"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "models.vqgan.checkpoint: file" in err and "nope.ckpt not found" in err


def test_safetensors_checkpoint_loads_the_same_weights(project):
    w = project / "weights"
    st = convert_to_safetensors(w / "jax.yaml", w / "jax.ckpt")
    spec = {"vqgan": {"config": str(w / "jax.yaml"), "checkpoint": str(st)}, "clip": str(w / "jax-clip.pt")}
    a = load_models(weights.pin_models(spec), "cpu")
    b = load_models(weights.pin_models({**spec, "vqgan": {**spec["vqgan"], "checkpoint": str(w / "jax.ckpt")}}), "cpu")
    for (k, v), (k2, v2) in zip(a.vqgan.state_dict().items(), b.vqgan.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
