"""A project with its own checkpoints moves: plan on a laptop, render on a GPU server or Colab.

plan.json names own model files inside the project relative to the build directory (their
sha256 pinned beside), so `render` of the moved folder finds them, and finished tokens stay
finished (their fingerprints hold the relative paths). A missing or changed file gets the
hint that fits a file with no source: put it back, or plan again, never "fetch".
"""

from __future__ import annotations

import json
import shutil

import torch

from buildfiles.hashing import sha256_file
from collection.cli import main
from tests.test_own_models import project  # noqa: F401  (the fixture: own VQGAN + CLIP files beside the manifest)


def _models(build):
    return json.loads((build / "plan.json").read_text())["render"]["models"]


def _render(build, capsys):
    code = main(["render", str(build), "--device", "cpu", "--no-progress"])
    return code, capsys.readouterr()


def test_a_moved_project_renders_and_keeps_its_finished_tokens(project, tmp_path, capsys):  # noqa: F811
    assert main(["plan", str(project / "manifest.yaml")]) == 0
    spec = _models(project / "build")
    assert spec["vqgan"]["checkpoint"] == "../weights/jax.ckpt" and spec["vqgan"]["config"] == "../weights/jax.yaml"
    assert spec["clip"]["file"] == "../weights/jax-clip.pt"
    assert spec["vqgan"]["sha256"]["checkpoint"] == sha256_file(project / "weights" / "jax.ckpt")
    assert str(project) not in (project / "build" / "plan.json").read_text()

    moved = shutil.move(str(project), str(tmp_path / "gpu-server" / "roboz"))
    build = tmp_path / "gpu-server" / "roboz" / "build"
    code, out = _render(build, capsys)
    assert code == 0, out.err
    assert sorted(p.name for p in (build / "images").glob("*.png")) == ["1.png", "2.png"]
    rec = json.loads((build / "renders" / "1.json").read_text())
    assert rec["models"] == "Jax fine-tune+jax-clip" and str(tmp_path) not in json.dumps(rec["settings"])

    shutil.move(moved, str(tmp_path / "colab" / "roboz"))  # and once more: nothing to paint again
    code, out = _render(tmp_path / "colab" / "roboz" / "build", capsys)
    assert code == 0 and "0 to paint" in out.out, out.out


def test_a_moved_project_without_its_weights_says_which_file_in_one_line(project, tmp_path, capsys):  # noqa: F811
    assert main(["plan", str(project / "manifest.yaml")]) == 0
    shutil.move(str(project / "build"), str(tmp_path / "build"))  # the build folder alone
    code, out = _render(tmp_path / "build", capsys)
    lines = out.err.strip().splitlines()
    assert code == 2 and len(lines) == 2, out.err
    assert lines[0].startswith("error: models.vqgan.config: file ") and "not found" in lines[0]
    assert "put the file back" in lines[1] and "fetch" not in out.err and "bug" not in out.err


def test_a_changed_checkpoint_is_refused_with_the_hint_that_fits(project, capsys):  # noqa: F811
    assert main(["plan", str(project / "manifest.yaml")]) == 0
    ckpt = project / "weights" / "jax.ckpt"
    ck = torch.load(ckpt, weights_only=False)  # our own file, written by the fixture
    ck["state_dict"]["decoder.conv_out.bias"] += 1
    torch.save(ck, ckpt)
    code, out = _render(project / "build", capsys)
    assert code != 0 and "refusing to load it" in out.err
    assert "plan again" in out.err and "restore the original file" in out.err and "fetch" not in out.err
    # the change was meant: plan again pins the new file, and the render goes through
    assert main(["plan", str(project / "manifest.yaml")]) == 0
    assert _models(project / "build")["vqgan"]["sha256"]["checkpoint"] == sha256_file(ckpt)
    code, out = _render(project / "build", capsys)
    assert code == 0, out.err


def test_files_outside_the_project_keep_their_absolute_path(project, tmp_path):  # noqa: F811
    shared = tmp_path / "shared-weights"
    shutil.move(str(project / "weights"), str(shared))
    m = project / "manifest.yaml"
    m.write_text(m.read_text().replace("weights/", f"{shared}/"))
    assert main(["plan", str(m)]) == 0
    spec = _models(project / "build")
    assert spec["vqgan"]["checkpoint"] == str(shared / "jax.ckpt") and spec["clip"]["file"] == str(shared / "jax-clip.pt")
