"""`variations` (issue 24 item 2): the grid of a base prompt × its variations, its contact sheet,
and `--pick` writing a cell's text into a manifest as a trait value, comments and all."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from buildfiles.errors import UserError
from collection.cli import main
from collection.studio.variations import columns_for, grid, make_axes

EXAMPLE = Path(__file__).parent.parent / "examples" / "rusty-roboz"
FAST = ["--models", "tiny", "--size", "32", "32", "--cutn", "4", "--iterations", "4", "--no-progress"]


def test_grid_is_every_combination_labelled_by_its_prompt():
    base = "a {colour} robot"
    axes = make_axes(base, values="red,blue,green", styles=["trending on artstation", "rendered by Unreal Engine"], seeds="1,2")
    cells = grid(base, axes)
    assert len(cells) == 3 * 2 * 2
    assert [c.cell for c in cells] == list(range(1, 13))
    assert cells[0].prompt == "a red robot, trending on artstation" and cells[0].seed == 1
    assert cells[-1].prompt == "a green robot, rendered by Unreal Engine" and cells[-1].seed == 2
    assert len({(c.prompt, c.seed) for c in cells}) == 12
    assert cells[3].caption(["colour", "style", "seed"]) == ("#4  seed 2", "a red robot, rendered by Unreal Engine")
    assert columns_for(axes, 12) == 2


def test_styles_fill_a_style_slot_and_a_trait_gives_its_phrases():
    cells = grid("a {colour} robot | {style}:0.5", make_axes("a {colour} robot | {style}:0.5", trait=f"{EXAMPLE / 'manifest.yaml'}:colour",
                                                                  styles=["oil paint"]))
    assert [c.prompt for c in cells] == [f"a {v} robot | oil paint:0.5" for v in ("Red", "Blue", "Rusty", "Golden")]
    assert cells[0].labels == {"colour": "Red", "style": "oil paint"} and cells[0].texts["colour"] == "Red"


@pytest.mark.parametrize("base, kw, message", [
    ("a robot", {"values": "red,blue"}, "no {placeholder}"),
    ("a {colour} {object}", {"values": "red"}, "several placeholders"),
    ("a {colour} robot", {"seeds": "1,2"}, "gets no values"),
    ("a robot", {}, "nothing varies"),
    ("a robot", {"seeds": "1,x"}, "not a whole number"),
    ("a {colour} robot", {"values": "red,,blue"}, "comma-separated"),
])
def test_bad_axes_are_one_line(base, kw, message):
    with pytest.raises(UserError, match=message):
        make_axes(base, **kw)


def test_variations_paints_one_sheet_and_picks_into_the_manifest(tmp_path, roboz_home, capsys):
    out = tmp_path / "v"
    assert main(["variations", "a {colour} robot", "--values", "red,blue,green", "--seeds", "1,2", "--out", str(out), *FAST]) == 0
    facts = json.loads((out / "variations.json").read_text())
    assert [c["prompt"] for c in facts["cells"]] == [f"a {c} robot" for c in ("red", "red", "blue", "blue", "green", "green")]
    assert [c["seed"] for c in facts["cells"]] == [1, 2] * 3
    for c in facts["cells"]:
        assert Image.open(out / c["image"]).text["prompt"] == c["prompt"]
    sheet = Image.open(out / "variations.png")
    assert sheet.width < sheet.height                       # 2 columns (the seeds), 3 rows (the colours)
    said = capsys.readouterr().out
    assert "#5  a green robot" in said

    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    manifest = project / "manifest.yaml"
    before = manifest.read_text().splitlines()
    assert main(["variations", "--out", str(out), "--pick", "5", "--into", str(manifest), "--trait", "colour",
                 "--weight", "2"]) == 0
    after = manifest.read_text().splitlines()
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert len(after) == len(before) and changed == [
        ("  colour:  {Red: 3, Blue: 2, Rusty: 5, Golden: 1}", "  colour:  {Red: 3, Blue: 2, Rusty: 5, Golden: 1, green: 2}")]
    assert sum(line.lstrip().startswith("#") for line in after) == sum(line.lstrip().startswith("#") for line in before)
    from collection.plan.manifest import load_manifest

    colour = {c.name: c for c in load_manifest(manifest).categories}["colour"]
    assert [(v.name, v.weight) for v in colour.values][-1] == ("green", 2.0)

    # block-style trait: a new line under the others; then the refusals, the file untouched
    assert main(["variations", "--out", str(out), "--pick", "1", "--into", str(manifest), "--trait", "object"]) == 0
    lines = manifest.read_text().splitlines()
    i = lines.index("    Pirate:     {weight: 1, prompt: \"as a space pirate\"}")
    assert lines[i + 1] == "    red: 1" and lines[i + 2] == "  setting:"
    text = manifest.read_text()
    capsys.readouterr()
    for args, message in [(["--pick", "6", "--trait", "colour"], "already has the value 'green'"),
                          (["--pick", "1", "--trait", "size"], "no trait 'size'"),
                          (["--pick", "99", "--trait", "colour"], "no such cell")]:
        assert main(["variations", "--out", str(out), "--into", str(manifest), *args]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
        assert manifest.read_text() == text


def test_a_pick_that_would_break_the_manifest_writes_nothing(tmp_path):
    from collection.studio.pick import pick_into

    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    manifest = project / "manifest.yaml"
    text = manifest.read_text()
    with pytest.raises(UserError, match="would make manifest.yaml invalid"):
        pick_into(manifest, "colour", "red | blue")
    assert manifest.read_text() == text and sorted(p.name for p in project.iterdir()) == ["jax.png", "manifest.yaml"]
