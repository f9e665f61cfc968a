"""Without the real weights, the demo pair is the draft a new user is pointed to and gets:
`init`'s next steps, the missing-weights hint and `--help` name `build --draft`, and that
draft paints with the demo models (128 px profile); `--models tiny` stays for plumbing checks.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from collection.cli import main

MANIFEST = textwrap.dedent(
    """\
    collection:
      name: Draft Roboz
      symbol: DRB
      seed: 3
      supply: 2
    render:
      size: [384, 384]
      iterations: 500
      cutn: 32
    prompt:
      template: "a {colour} robot"
    traits:
      colour: {red: 1, blue: 1}
    """
)


@pytest.fixture
def manifest(tmp_path, roboz_home):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "manifest.yaml").write_text(MANIFEST)
    return tmp_path / "p" / "manifest.yaml"


def test_init_points_to_the_demo_draft(tmp_path, capsys):
    assert main(["init", str(tmp_path / "new")]) == 0
    out = capsys.readouterr().out
    assert "--draft" in out and "demo models" in out and "--models tiny" not in out


def test_help_points_to_the_demo_draft(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "build my-roboz/manifest.yaml --draft" in out and "demo models" in out


def test_missing_weights_hint_names_the_demo_draft(manifest, capsys):
    assert main(["build", str(manifest), "--no-progress", "--device", "cpu"]) != 0
    err = capsys.readouterr().err
    assert "are missing" in err and "`build MANIFEST --draft` uses the demo models" in err


@pytest.mark.slow
def test_draft_without_weights_paints_with_the_demo_pair(manifest, capsys):
    assert main(["build", str(manifest), "--draft", "--no-progress", "--no-preview", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "drafting with the demo models" in out
    build = manifest.parent / "build-draft"
    plan = json.loads((build / "plan.json").read_text())
    assert plan["render"]["models"] == "demo" and plan["render"]["size"] == [128, 128]
    rec = json.loads((build / "renders" / "1.json").read_text())
    assert rec["test_models"] == "demo models trained on a toy robot world"


def test_tiny_stays_for_plumbing_checks(manifest, capsys):
    assert main(["plan", str(manifest), "--draft"]) == 0  # plan alone keeps the 64 px cap
    from collection.commands.build import _demo_draft
    import argparse

    args = argparse.Namespace(draft=True, models="tiny", manifest=manifest, models_dir=None)
    assert _demo_draft(args) is False
