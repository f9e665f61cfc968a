"""Red team, damaged and wrong model files (issue 25): each is one line naming the file and the fix,
exit 2 - from the loaders, from `validate` (which reads each own checkpoint's header without
unpickling it) and from `render` - never "unexpected ... (a bug)". Real files in the real formats:
the tiny pair's taming yaml, Lightning-style .ckpt and CLIP state dict, then broken on purpose."""

from __future__ import annotations

import os
import shutil
import struct
import zipfile
from pathlib import Path

import pytest
import torch
import yaml

from buildfiles.errors import UserError
from collection.cli import main
from generator.modelfiles import ModelFileError, check_clip, check_vqgan, file_kind
from generator.models import load_clip, load_vqgan
from generator.tiny import ensure_tiny
from tests.test_own_models import MANIFEST


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return ensure_tiny(tmp_path_factory.mktemp("tiny-pair"))


def _cut(src: Path, dst: Path, keep: float) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


def _zip_of(dst: Path, names: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(dst, "w") as z:
        for n, b in names.items():
            z.writestr(n, b)
    return dst


def _yaml(tiny, dst: Path, edit) -> Path:
    cfg = yaml.safe_load(tiny[0].read_text())
    edit(cfg)
    dst.write_text(yaml.safe_dump(cfg))
    return dst


def _state(tiny, dst: Path, edit) -> Path:
    ck = torch.load(tiny[1], map_location="cpu", weights_only=True)
    edit(ck["state_dict"])
    torch.save(ck, dst)
    return dst


def _safetensors(tiny, dst: Path, cut: bool) -> Path:
    from safetensors.torch import save_file

    sd = {k: v.contiguous() for k, v in torch.load(tiny[1], weights_only=True)["state_dict"].items()}
    save_file(sd, str(dst))
    return _cut(dst, dst, 0.5) if cut else dst


VQ_CKPT = {  # name -> (make the checkpoint, words of the message)
    "random bytes": (lambda t, d: (d / "r.ckpt").write_bytes(os.urandom(4096)) and d / "r.ckpt", "is not a model file"),
    "an HTML page": (lambda t, d: (d / "h.ckpt").write_text("<!DOCTYPE html><title>404</title>") and d / "h.ckpt",
                     "is not a model file"),
    "empty": (lambda t, d: (d / "e.ckpt").write_bytes(b"") or d / "e.ckpt", "is empty (0 bytes)"),
    "half downloaded": (lambda t, d: _cut(t[1], d / "half.ckpt", 0.5), "is damaged or cut short"),
    "one byte short of its end": (lambda t, d: _cut(t[1], d / "short.ckpt", 0.999), "is damaged or cut short"),
    "a zip without data.pkl": (lambda t, d: _zip_of(d / "z.ckpt", {"weights/readme.txt": b"hi"}), "not a torch file"),
    "a folder": (lambda t, d: (d / "dir.ckpt").mkdir() or d / "dir.ckpt", "is a folder"),
    "missing keys": (lambda t, d: _state(t, d / "m.ckpt", lambda sd: sd.pop("decoder.conv_out.weight")),
                     "1 weights missing (decoder.conv_out.weight)"),
    "a smaller codebook": (lambda t, d: _state(t, d / "c.ckpt", lambda sd: sd.__setitem__(
        "quantize.embedding.weight", sd["quantize.embedding.weight"][:64].clone())), "quantize.embedding.weight is [64, 16]"),
    "a CLIP file in its place": (lambda t, d: shutil.copyfile(t[2], d / "clip.ckpt") and d / "clip.ckpt", "weights missing"),
    "safetensors cut short": (lambda t, d: _safetensors(t, d / "s.safetensors", True), "is damaged or cut short"),
    "a pickle of a list": (lambda t, d: torch.save([1, 2, 3], d / "l.ckpt") or d / "l.ckpt", "holds no state dict"),
}


@pytest.mark.parametrize("case", list(VQ_CKPT))
def test_a_damaged_vqgan_checkpoint_is_one_line(tiny, tmp_path, case):
    make, words = VQ_CKPT[case]
    ckpt = make(tiny, tmp_path)
    with pytest.raises(ModelFileError) as e:
        load_vqgan(tiny[0], ckpt)
    assert words in e.value.message and str(ckpt) in e.value.message and e.value.hint and e.value.exit_code == 2
    with pytest.raises(ModelFileError):
        check_vqgan(tiny[0], ckpt)  # what validate and the first-use hash record run


def test_a_whole_safetensors_file_passes(tiny, tmp_path):
    check_vqgan(tiny[0], _safetensors(tiny, tmp_path / "ok.safetensors", False))


VQ_YAML = {
    "no ddconfig": (lambda c: c["model"]["params"].pop("ddconfig"), "has no model.params.ddconfig"),
    "another target": (lambda c: c["model"].__setitem__("target", "taming.models.cond_transformer.Net2NetTransformer"),
                       "not a taming VQGAN class"),
    "no target": (lambda c: c["model"].pop("target"), "model.target is None"),
    "no model section": (lambda c: c.pop("model"), "has no `model:` section"),
    "no n_embed": (lambda c: c["model"]["params"].pop("n_embed"), "lacks n_embed"),
    "no ch_mult": (lambda c: c["model"]["params"]["ddconfig"].pop("ch_mult"), "lacks ch_mult"),
    "another codebook size": (lambda c: c["model"]["params"].__setitem__("n_embed", 256), "[128, 16] in the checkpoint, [256, 16]"),
    "another channel count": (lambda c: c["model"]["params"]["ddconfig"].__setitem__("ch", 64), "does not fit its config"),
    "one level more": (lambda c: c["model"]["params"]["ddconfig"].__setitem__("ch_mult", [1, 2, 2]), "does not fit its config"),
}


@pytest.mark.parametrize("case", list(VQ_YAML))
def test_a_wrong_vqgan_yaml_is_one_line(tiny, tmp_path, case):
    edit, words = VQ_YAML[case]
    config = _yaml(tiny, tmp_path / "model.yaml", edit)
    with pytest.raises(ModelFileError) as e:
        load_vqgan(config, tiny[1])
    assert words in e.value.message, e.value.message
    assert "model.yaml" in e.value.message and e.value.hint


@pytest.mark.parametrize("text, words", [("model: [unclosed", "is not readable YAML"), ("- just\n- a list\n", "has no `model:` section"),
                                         ("\x00\x01", "is not readable YAML")])
def test_a_yaml_that_is_no_config_is_one_line(tiny, tmp_path, text, words):
    p = tmp_path / "model.yaml"
    p.write_text(text)
    with pytest.raises(ModelFileError, match=words):
        load_vqgan(p, tiny[1])


CLIP = {
    "random bytes": (lambda t, d: (d / "r.pt").write_bytes(os.urandom(3000)) and d / "r.pt", "is not a model file"),
    "half downloaded": (lambda t, d: _cut(t[2], d / "h.pt", 0.5), "is damaged or cut short"),
    "a VQGAN in its place": (lambda t, d: shutil.copyfile(t[1], d / "vq.pt") and d / "vq.pt", "is not a CLIP state dict"),
    "inconsistent shapes": (lambda t, d: _clip_edit(t, d / "s.pt", "text_projection", torch.zeros(5, 5)),
                            "does not hold a consistent CLIP"),
    "a zip of something else": (lambda t, d: _zip_of(d / "z.pt", {"a/b.txt": b"x"}), "not a torch file"),
    "a folder": (lambda t, d: (d / "dir.pt").mkdir() or d / "dir.pt", "is a folder"),
}


def _clip_edit(t, dst, key, value):
    sd = torch.load(t[2], weights_only=True)
    sd[key] = value
    torch.save(sd, dst)
    return dst


@pytest.mark.parametrize("case", list(CLIP))
def test_a_damaged_clip_file_is_one_line(tiny, tmp_path, case):
    make, words = CLIP[case]
    path = make(tiny, tmp_path)
    with pytest.raises(ModelFileError) as e:
        load_clip(path)
    assert words in e.value.message and str(path) in e.value.message and e.value.hint
    with pytest.raises(ModelFileError):
        check_clip(path)


def test_file_kinds_are_told_apart_without_unpickling(tiny, tmp_path):
    assert file_kind(tiny[1], "x") == "zip" and file_kind(tiny[2], "x") == "zip"
    assert file_kind(_safetensors(tiny, tmp_path / "a.safetensors", False), "x") == "safetensors"
    legacy = tmp_path / "legacy.pt"
    torch.save({"a": torch.zeros(1)}, legacy, _use_new_zipfile_serialization=False)
    assert file_kind(legacy, "x") == "pickle"
    # a pickle that would run code if unpickled: never executed, only refused as no state dict
    evil = tmp_path / "evil.ckpt"
    evil.write_bytes(b"\x80\x04cos\nsystem\n(S'touch " + str(tmp_path / "pwned").encode() + b"'\ntR.")
    with pytest.raises(ModelFileError):
        load_vqgan(tiny[0], evil)
    assert not (tmp_path / "pwned").exists()
    # the same inside torch's zip format, beside real weights: named, refused, not run
    ck = torch.load(tiny[1], weights_only=True)
    ck["callback"] = _Evil(str(tmp_path / "pwned-zip"))
    torch.save(ck, tmp_path / "evil-zip.ckpt")
    with pytest.raises(ModelFileError, match="pickles code that is not a model's .*system"):
        load_vqgan(tiny[0], tmp_path / "evil-zip.ckpt")
    assert not (tmp_path / "pwned-zip").exists()
    # a Lightning-style file with hparams beside the weights still loads (after its hash, in load_models)
    ck = torch.load(tiny[1], weights_only=True)
    ck["hyper_parameters"] = __import__("argparse").Namespace(lr=1e-4)
    torch.save(ck, tmp_path / "hparams.ckpt")
    assert load_vqgan(tiny[0], tmp_path / "hparams.ckpt") is not None
    # a safetensors header that promises more than the file holds
    bad = tmp_path / "b.safetensors"
    header = b'{"w": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 4000]}}'
    bad.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 16)
    with pytest.raises(ModelFileError, match="cut short"):
        check_vqgan(tiny[0], bad)


class _Evil:
    def __init__(self, target: str):
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


# ---- through the CLI: validate, plan and render ------------------------------------------------

@pytest.fixture
def project(tmp_path, tiny):
    w = tmp_path / "proj" / "weights"
    w.mkdir(parents=True)
    shutil.copyfile(tiny[0], w / "jax.yaml")
    shutil.copyfile(tiny[1], w / "jax.ckpt")
    shutil.copyfile(tiny[2], w / "jax-clip.pt")
    (tmp_path / "proj" / "manifest.yaml").write_text(MANIFEST)
    return tmp_path / "proj"


@pytest.mark.parametrize("file, damage, words", [
    ("jax.ckpt", lambda p: p.write_bytes(os.urandom(2048)), "VQGAN checkpoint"),
    ("jax.ckpt", lambda p: _cut(p, p, 0.6), "is damaged or cut short"),
    ("jax-clip.pt", lambda p: _cut(p, p, 0.3), "CLIP file"),
    ("jax.yaml", lambda p: p.write_text("model:\n  target: taming.models.vqgan.VQModel\n  params: {embed_dim: 16, n_embed: 128}\n"),
     "has no model.params.ddconfig"),
])
def test_validate_reads_each_own_checkpoint_header(project, capsys, file, damage, words):
    damage(project / "weights" / file)
    assert main(["validate", str(project / "manifest.yaml")]) == 2
    err = capsys.readouterr().err
    assert words in err and file in err and "render.models" in err and "Traceback" not in err and "a bug" not in err
    assert main(["plan", str(project / "manifest.yaml")]) == 2  # the plan never pins a damaged file's hash
    assert "a bug" not in capsys.readouterr().err


def test_validate_says_ok_for_good_own_files(project, capsys):
    assert main(["validate", str(project / "manifest.yaml")]) == 0, capsys.readouterr().err


def test_a_damaged_registry_file_in_the_cache_is_named_before_its_hash_is_recorded(tiny, tmp_path, capsys, make_build):
    """A VQGAN copied into the cache by hand (no published hash: trust on first use) that is cut short
    is refused by name, and no hash is recorded, so the whole file copied next is accepted."""
    from generator.registry import VQGANS

    spec = VQGANS["vqgan_imagenet_f16_16384"]
    root = tmp_path / "models"
    (root / spec.config_file).parent.mkdir(parents=True)
    shutil.copyfile(tiny[0], root / spec.config_file)
    _cut(tiny[1], root / spec.ckpt_file, 0.5)
    from generator.registry import CLIPS

    (root / CLIPS["ViT-B/32"].file).parent.mkdir(parents=True, exist_ok=True)
    (root / CLIPS["ViT-B/32"].file).write_bytes(b"x")
    build = make_build({"models": "vqgan_imagenet_f16_16384+ViT-B/32"})
    code = main(["render", str(build), "--models-dir", str(root), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "is damaged or cut short" in err and spec.ckpt_file.split("/")[-1] in err and "a bug" not in err
    assert not (root / spec.hash_file).exists()


def test_render_with_a_damaged_own_checkpoint_is_one_line(project, capsys):
    assert main(["plan", str(project / "manifest.yaml")]) == 0
    capsys.readouterr()
    # replaced after the plan pinned its hash: the hash check names it (nothing is unpickled)
    _cut(project / "weights" / "jax.ckpt", project / "weights" / "jax.ckpt", 0.5)
    assert main(["render", str(project / "build"), "--no-progress"]) in (1, 2)
    err = capsys.readouterr().err
    assert "jax.ckpt" in err and "a bug" not in err and "Traceback" not in err


def test_user_errors_from_model_files_are_user_errors():
    assert issubclass(ModelFileError, UserError) and ModelFileError("x", "y").exit_code == 2
