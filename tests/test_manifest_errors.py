"""Every manifest error: one line naming the field and the line, all at once, exit code 2, no traceback."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from collection.cli import main

GOOD = textwrap.dedent(
    """\
    collection:
      name: Rusty Roboz
      symbol: ROBOZ
      seed: 7
      supply: 6
      royalties: {receiver: "0x000000000000000000000000000000000000dEaD", bps: 500}
    render:
      models: tiny
      size: [32, 32]
      iterations: 5
    prompt:
      template: "{colour} rusty roboz {object}"
    traits:
      colour: {Red: 3, Blue: 2, Rusty: 5}
      object:
        Lightsaber: {weight: 2, prompt: "with a lightsaber"}
        Surfboard: {weight: 1, prompt: "surfing"}
    specials:
      - name: Dune
        prompt: "Dune | rusty roboz:0.5"
    """
)


def run_validate(tmp_path: Path, text: str, capsys) -> tuple[int, str]:
    f = tmp_path / "manifest.yaml"
    f.write_text(text)
    code = main(["validate", str(f)])
    err = capsys.readouterr().err
    return code, err


def test_good_manifest_validates(tmp_path, capsys):
    f = tmp_path / "manifest.yaml"
    f.write_text(GOOD)
    assert main(["validate", str(f)]) == 0
    assert "plans 6 tokens (1 specials) from 6 allowed of 6" in capsys.readouterr().out


def test_yaml_syntax_error_names_the_line(tmp_path, capsys):
    code, err = run_validate(tmp_path, GOOD.replace("colour: {Red: 3, Blue: 2, Rusty: 5}", "colour: {Red: 3, Blue: 2"), capsys)
    assert code == 2
    assert "YAML syntax error" in err and "manifest.yaml:" in err
    assert "Traceback" not in err


def test_empty_file(tmp_path, capsys):
    code, err = run_validate(tmp_path, "", capsys)
    assert code == 2 and "the manifest is empty" in err
    code, err = run_validate(tmp_path, "# only a comment\n", capsys)
    assert code == 2 and "empty" in err


def test_unknown_key_suggests_the_right_one(tmp_path, capsys):
    code, err = run_validate(tmp_path, GOOD.replace("  seed: 7", "  sed: 7"), capsys)
    assert code == 2
    assert "collection.sed: unknown key 'sed'; did you mean 'seed'? (manifest.yaml:4)" in err


def test_unknown_render_key_suggests(tmp_path, capsys):
    code, err = run_validate(tmp_path, GOOD.replace("  iterations: 5", "  iteration: 5"), capsys)
    assert code == 2
    assert "render.iteration: unknown key 'iteration'; did you mean 'iterations'? (manifest.yaml:10)" in err


def test_template_placeholder_without_category(tmp_path, capsys):
    code, err = run_validate(tmp_path, GOOD.replace("{colour} rusty roboz {object}", "{color} rusty roboz {object}"), capsys)
    assert code == 2
    assert "prompt.template: placeholder {color} names no trait category; did you mean 'colour'?" in err
    assert "(manifest.yaml:12)" in err


@pytest.mark.parametrize(
    "weight, message",
    [
        ("0", "weight must be > 0, got 0"),
        ("-1", "weight must be > 0, got -1"),
        ("lots", "weight must be a number > 0, got 'lots'"),
        ("yes", "weight must be a number > 0, got True"),
    ],
)
def test_bad_weights(tmp_path, capsys, weight, message):
    code, err = run_validate(tmp_path, GOOD.replace("{Red: 3, Blue: 2, Rusty: 5}", f"{{Red: {weight}, Blue: 2}}"), capsys)
    assert code == 2
    assert f"traits.colour.Red: {message} (manifest.yaml:14)" in err


def test_bad_long_form_weight(tmp_path, capsys):
    code, err = run_validate(tmp_path, GOOD.replace('{weight: 1, prompt: "surfing"}', '{weight: -2, prompt: "surfing"}'), capsys)
    assert code == 2
    assert "traits.object.Surfboard: weight must be > 0, got -2 (manifest.yaml:17)" in err


def test_supply_larger_than_combinations_says_how_many(tmp_path, capsys):
    code, err = run_validate(tmp_path, GOOD.replace("supply: 6", "supply: 50"), capsys)
    assert code == 2
    assert "collection.supply: supply 50 needs 49 unique trait combinations + 1 specials, but only 6 are allowed" in err
    assert "(manifest.yaml:5)" in err


def test_supply_counts_exclusions(tmp_path, capsys):
    text = GOOD.replace("supply: 6", "supply: 7") + "exclude:\n  - {colour: Red, object: Surfboard}\n"
    code, err = run_validate(tmp_path, text, capsys)
    assert code == 2
    assert "only 5 are allowed (6 combinations, 1 excluded)" in err


def test_exclusions_that_leave_nothing(tmp_path, capsys):
    text = GOOD + "exclude:\n  - {colour: [Red, Blue, Rusty]}\n"
    code, err = run_validate(tmp_path, text, capsys)
    assert code == 2
    assert "exclude: the exclusions leave no allowed combination (all 6 are excluded)" in err


def test_exclusion_naming_unknown_value(tmp_path, capsys):
    text = GOOD + "exclude:\n  - {colour: Redd}\n"
    code, err = run_validate(tmp_path, text, capsys)
    assert code == 2
    assert "exclude[0].colour: 'Redd' is not a value of 'colour'; did you mean 'Red'? (manifest.yaml:22)" in err


def test_duplicate_special_names(tmp_path, capsys):
    text = GOOD.replace("supply: 6", "supply: 5") + "  - name: Dune\n    prompt: other\n"
    code, err = run_validate(tmp_path, text, capsys)
    assert code == 2
    assert "specials[1].name: duplicate special name 'Dune' (first at line 19) (manifest.yaml:21)" in err


def test_missing_init_image(tmp_path, capsys):
    code, err = run_validate(tmp_path, GOOD.replace("  models: tiny", "  models: tiny\n  init_image: sketches/jax.png"), capsys)
    assert code == 2
    assert "render.init_image: file 'sketches/jax.png' not found" in err and "(manifest.yaml:9)" in err


@pytest.mark.parametrize("path", ["../outside.png", "/etc/passwd"])
def test_path_escaping_the_project(tmp_path, capsys, path):
    proj = tmp_path / "proj"
    proj.mkdir()
    (tmp_path / "outside.png").write_bytes(b"x")
    code, err = run_validate(proj, GOOD.replace("  models: tiny", f"  models: tiny\n  init_image: {path}"), capsys)
    assert code == 2
    assert f"render.init_image: '{path}' is outside the project folder" in err


def test_all_problems_reported_at_once(tmp_path, capsys):
    text = GOOD.replace("  seed: 7", "  sed: 7").replace("{Red: 3, Blue: 2, Rusty: 5}", "{Red: -1, Blue: 2}").replace("iterations: 5", "iterations: 0")
    code, err = run_validate(tmp_path, text, capsys)
    assert code == 2
    assert "3 problems" in err
    assert "collection.sed" in err and "traits.colour.Red" in err and "render.iterations" in err


def test_special_render_override_is_validated(tmp_path, capsys):
    text = GOOD + "    render: {iterations: -3}\n"
    code, err = run_validate(tmp_path, text, capsys)
    assert code == 2
    assert "specials[0].render.iterations: must be from 1 to 1000000 (or `auto`), got -3" in err


def test_snapshots_after_last_iteration(tmp_path, capsys):
    code, err = run_validate(tmp_path, GOOD.replace("iterations: 5", "iterations: 5\n  snapshots: [3, 9]"), capsys)
    assert code == 2
    assert "snapshots [9] come after the last iteration (5)" in err


def test_duplicate_yaml_key(tmp_path, capsys):
    code, err = run_validate(tmp_path, GOOD.replace("  seed: 7", "  seed: 7\n  seed: 8"), capsys)
    assert code == 2
    assert "collection.seed: duplicate key" in err


def test_bad_royalty_receiver(tmp_path, capsys):
    code, err = run_validate(tmp_path, GOOD.replace("0x000000000000000000000000000000000000dEaD", "0xdead"), capsys)
    assert code == 2
    assert "collection.royalties.receiver: string should match pattern" in err


def test_missing_manifest_file(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_cli_process_exit_code_and_no_traceback(tmp_path):
    f = tmp_path / "manifest.yaml"
    f.write_text(GOOD.replace("supply: 6", "supply: -4"))
    p = subprocess.run([sys.executable, "-m", "collection.cli", "validate", str(f)], capture_output=True, text=True)
    assert p.returncode == 2
    assert "collection.supply: must be a positive whole number or `all`, got -4 (manifest.yaml:5)" in p.stderr
    assert "Traceback" not in p.stderr
