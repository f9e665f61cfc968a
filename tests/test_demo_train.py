"""The demo training script stays alive: a few steps of each model, files in the real formats, loaded by the real loaders."""

from __future__ import annotations

import json

import pytest
import torch

from buildfiles.errors import UserError
from generator.demo import files, train


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo-train")
    assert train.main(["--quick", "--out", str(out), "--threads", "1"]) == 0
    return out


def test_quick_training_writes_the_real_formats(quick_run):
    from generator.models import load_clip, load_vqgan

    assert {p.name for p in quick_run.iterdir()} >= {*files.ALL_FILES, files.HASH_FILE, files.REPORT_FILE}
    ckpt = torch.load(quick_run / files.VQGAN_CKPT, map_location="cpu", weights_only=False)
    assert "state_dict" in ckpt and "pytorch-lightning_version" in ckpt  # Lightning-style
    clip_sd = torch.load(quick_run / files.CLIP_FILE, map_location="cpu", weights_only=True)
    assert clip_sd["visual.conv1.weight"].dtype == torch.float16  # stored like OpenAI's
    assert clip_sd["token_embedding.weight"].shape[0] == 49408     # the real tokenizer's vocabulary
    hashes = json.loads((quick_run / files.HASH_FILE).read_text())["sha256"]
    config, ck, cl = files.demo_files(quick_run, hashes)
    vq = load_vqgan(config, ck)
    assert type(vq).__name__ == "VQModel" and 2 ** (vq.decoder.num_resolutions - 1) == 4
    assert type(load_clip(cl)).__name__ == "CLIP"
    judge = load_clip(files.judge_file(quick_run, hashes))
    assert judge.visual.input_resolution == train.JUDGE_ARGS["image_resolution"] != train.CLIP_ARGS["image_resolution"]
    report = json.loads((quick_run / files.REPORT_FILE).read_text())
    for k in ("zero_shot_accuracy", "judge_zero_shot_accuracy"):
        assert set(report[k]) == {"colour", "object", "setting"}
    assert "jax_psnr_db" in report and set(report["sizes_bytes"]) == set(files.ALL_FILES)


def test_continuing_a_pair_trains_its_clip_on_and_a_judge_afresh(quick_run, tmp_path):
    """Without --keep, the guide goes on from the earlier CLIP (adversarially, on reconstructions) and the
    judge is trained from its own seed: the same judge as the first run's (each stage has its own generator)."""
    out = tmp_path / "retrained"
    assert train.main(["--quick", "--from", str(quick_run), "--out", str(out), "--threads", "1"]) == 0
    assert (out / files.CLIP_FILE).read_bytes() != (quick_run / files.CLIP_FILE).read_bytes()
    a = torch.load(out / files.JUDGE_FILE, weights_only=True)
    b = torch.load(quick_run / files.JUDGE_FILE, weights_only=True)
    assert a.keys() == b.keys() and all(torch.allclose(a[k].float(), b[k].float(), atol=1e-2) for k in a)


def test_keep_needs_from(tmp_path):
    with pytest.raises(SystemExit):
        train.main(["--quick", "--keep", "clip", "--out", str(tmp_path)])


def test_a_changed_file_is_refused_before_loading(quick_run, tmp_path):
    hashes = json.loads((quick_run / files.HASH_FILE).read_text())["sha256"]
    for f in files.ALL_FILES:
        (tmp_path / f).write_bytes((quick_run / f).read_bytes())
    with open(tmp_path / files.VQGAN_CKPT, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(UserError, match="sha256"):
        files.demo_files(tmp_path, hashes)
    with open(tmp_path / files.JUDGE_FILE, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(UserError, match="sha256"):
        files.judge_file(tmp_path, hashes)


def test_short_text_encoding_equals_clip_encode_text():
    import clip

    torch.manual_seed(0)
    m = train.build_clip().eval()
    tokens = clip.tokenize(["a red robot", "golden rusty roboz with a lightsaber in a volcano, trending on artstation"])
    with torch.no_grad():
        assert torch.allclose(train.encode_text_short(m, tokens, m.build_attention_mask()), m.encode_text(tokens), atol=1e-5)


def test_continuing_a_pair_keeps_what_it_is_told_to_and_trains_its_vqgan_on(quick_run, tmp_path):
    out = tmp_path / "continued"
    assert train.main(["--quick", "--from", str(quick_run), "--keep", "clip", "--keep", "judge", "--out", str(out), "--threads", "1"]) == 0
    for f in (files.CLIP_FILE, files.JUDGE_FILE):
        assert (out / f).read_bytes() == (quick_run / f).read_bytes()
    assert (out / files.VQGAN_CKPT).read_bytes() != (quick_run / files.VQGAN_CKPT).read_bytes()
    report = json.loads((out / files.REPORT_FILE).read_text())
    first = json.loads((quick_run / files.REPORT_FILE).read_text())
    assert report["previous"] == first and report["vq_total_steps"] == 2 * first["vq_total_steps"]
    assert report["command"].startswith("python -m generator.demo.train --quick --from ")
    assert report["clip_seconds"] == first["clip_seconds"] and report["judge_seconds"] == first["judge_seconds"]
    assert torch.load(out / files.VQGAN_CKPT, map_location="cpu", weights_only=False)["global_step"] == report["vq_total_steps"]
    assert json.loads((out / files.HASH_FILE).read_text())["source"] == report["command"]


def test_continuing_from_a_changed_pair_is_refused_before_unpickling(quick_run, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for f in (*files.ALL_FILES, files.HASH_FILE, files.REPORT_FILE):
        (src / f).write_bytes((quick_run / f).read_bytes())
    with open(src / files.VQGAN_CKPT, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(UserError, match="sha256"):
        train.main(["--quick", "--from", str(src), "--out", str(tmp_path / "o"), "--threads", "1"])
