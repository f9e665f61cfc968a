"""Red team, hostile inputs (issue 25): numbers that are booleans or text, manifests that are not
UTF-8, control and bidirectional characters on their way to the metadata, prompt weights that
are typos. Each is one located line and exit 2 from `validate`, never a guess."""

from __future__ import annotations

import math

import pytest

from collection.cli import main
from generator.prompts import PromptError, PromptSpec, parse_prompt, split_prompts
from tests.test_manifest_errors import GOOD, run_validate

# ---- numbers: a boolean or a quoted number where a number is asked -------------------------

NOT_NUMBERS = [
    ("iterations: 5", "iterations: true", "render.iterations: must be a whole number, got True (YAML reads true/false"),
    ("iterations: 5", "iterations: yes", "render.iterations: must be a whole number, got True"),
    ("iterations: 5", 'iterations: "5"', "render.iterations: must be a whole number, got '5' (quoted, so it is text"),
    ("iterations: 5", "iterations: 5.0", "render.iterations: must be a whole number, got 5.0"),
    ("iterations: 5", "iterations: 5\n  cut_pow: \"3\"", "render.cut_pow: must be a number, got '3' (quoted"),
    ("iterations: 5", "iterations: 5\n  cut_pow: false", "render.cut_pow: must be a number, got False"),
    ("iterations: 5", "iterations: 5\n  step_size: \"0.1\"", "render.step_size: must be a number, got '0.1'"),
    ("iterations: 5", "iterations: 5\n  init_weight: true", "render.init_weight: must be a number, got True"),
    ("iterations: 5", "iterations: 5\n  cutn: \"8\"", "render.cutn: must be a whole number, got '8'"),
    ("iterations: 5", "iterations: 5\n  batch_size: true", "render.batch_size: must be a whole number, got True"),
    ("iterations: 5", "iterations: 5\n  checkpoint_every: \"2\"", "render.checkpoint_every: must be a whole number"),
    ("iterations: 5", "iterations: 5\n  candidates: true", "render.candidates: must be a whole number, got True"),
    ("iterations: 5", "iterations: 5\n  snapshots: [true]", "render.snapshots[0]: must be a whole number, got True"),
    ("iterations: 5", "iterations: 5\n  video: {every: \"2\"}", "render.video.every: must be a whole number, got '2'"),
    ("iterations: 5", "iterations: 5\n  video: {every: 2, fps: true}", "render.video.fps: must be a whole number"),
    ("size: [32, 32]", "size: [32, true]", "render.size[1]: must be a whole number, got True"),
    ("size: [32, 32]", 'size: ["32", 32]', "render.size[0]: must be a whole number, got '32'"),
    ("seed: 7", 'seed: "7"', "collection.seed: must be a whole number, got '7'"),
    ("seed: 7", "seed: true", "collection.seed: must be a whole number, got True"),
    ("seed: 7", "seed: 7\n  start_id: \"1\"", "collection.start_id: must be a whole number, got '1'"),
    ("seed: 7", "seed: 7\n  shuffle: \"yes\"", "collection.shuffle: must be true or false, got 'yes'"),
    ("seed: 7", "seed: 7\n  shuffle: 1", "collection.shuffle: must be true or false, got 1"),
    ("bps: 500", "bps: true", "collection.royalties.bps: must be a whole number, got True"),
    ("bps: 500", 'bps: "500"', "collection.royalties.bps: must be a whole number, got '500'"),
    ("supply: 6", "supply: true", "collection.supply: must be a positive whole number or `all`, got True"),
    ("supply: 6", 'supply: "6"', "collection.supply: must be a positive whole number or `all`, got '6'"),
    ("Red: 3", "Red: true", "traits.colour.Red: weight must be a number > 0, got True"),
    ("Red: 3", 'Red: "3"', "traits.colour.Red: weight must be a number > 0, got '3'"),
    ("{weight: 1, prompt: \"surfing\"}", "{weight: 1, prompt: \"surfing\", count: true}", "count must be a whole number"),
    ("  - name: Dune", "  - name: Dune\n    render: {iterations: true}", "specials[0].render.iterations: must be a whole number"),
]


@pytest.mark.parametrize("old, new, message", NOT_NUMBERS)
def test_a_boolean_or_text_where_a_number_is_asked_is_refused(tmp_path, capsys, old, new, message):
    assert old in GOOD
    code, err = run_validate(tmp_path, GOOD.replace(old, new, 1), capsys)
    assert code == 2, err
    assert message in err and "Traceback" not in err and "manifest.yaml:" in err


# ---- encodings --------------------------------------------------------------------------

@pytest.mark.parametrize("data, where", [
    (GOOD.replace("Rusty Roboz", "Rusty Robéz").encode("latin-1"), "byte 0xE9 at byte offset 29 (line 2, column 18)"),
    (GOOD.encode("utf-16"), "byte 0xFF at byte offset 0 (line 1, column 1)"),
    (GOOD.encode() + b"\n# \xc3", "byte 0xC3 at byte offset"),                    # a cut multi-byte character
    (GOOD.replace("surfing", "surf\udcffing").encode("utf-8", "surrogateescape"), "(line 17, column 41)"),
    (b"\xef\xbb\xbf" + GOOD.replace("Rusty Roboz", "Rusty Rob\xe9z").encode("cp1252"), "byte 0xE9"),
])
def test_a_manifest_that_is_not_utf8_names_the_first_bad_byte(tmp_path, capsys, data, where):
    f = tmp_path / "manifest.yaml"
    f.write_bytes(data)
    assert main(["validate", str(f)]) == 2
    err = capsys.readouterr().err
    assert "the manifest is not UTF-8" in err and where in err and "\ufffd" not in err and "Traceback" not in err


def test_a_utf8_manifest_with_a_bom_and_accents_is_fine(tmp_path, capsys):
    f = tmp_path / "manifest.yaml"
    f.write_bytes(b"\xef\xbb\xbf" + GOOD.replace("Rusty Roboz", "Rusty Robéz — 錆").encode())
    assert main(["validate", str(f)]) == 0, capsys.readouterr().err


# ---- control and bidirectional characters ---------------------------------------------------

CONTROLS = [
    ("name: Rusty Roboz", 'name: "Rusty\\0Roboz"', "collection.name: contains a control character, U+0000 (NUL)"),
    ("name: Rusty Roboz", 'name: "Rusty Roboz\\u202egnp.exe"', "collection.name: contains a bidirectional control, U+202E"),
    ("name: Rusty Roboz", 'name: "Rusty\\u2066Roboz"', "U+2066 (LEFT-TO-RIGHT ISOLATE)"),
    ("name: Rusty Roboz", 'name: "Rusty\\u2069Roboz"', "U+2069 (POP DIRECTIONAL ISOLATE)"),
    ("name: Rusty Roboz", 'name: "Rusty\\u202aRoboz"', "U+202A (LEFT-TO-RIGHT EMBEDDING)"),
    ("name: Rusty Roboz", 'name: "Rusty\\nRoboz"', "collection.name: contains a control character, U+000A (LINE FEED)"),
    ("name: Rusty Roboz", 'name: "Rusty\\x1b[31mRoboz"', "U+001B (ESCAPE)"),
    ("name: Rusty Roboz", 'name: "Rusty\\x85Roboz"', "U+0085"),
    ("name: Rusty Roboz", 'name: "Rusty\\x7fRoboz"', "U+007F (DELETE)"),
    ("symbol: ROBOZ", 'symbol: "RO\\0BOZ"', "collection.symbol: contains a control character, U+0000"),
    ("seed: 7", 'seed: 7\n  artist: "Jax\\u202e"', "collection.artist: contains a bidirectional control"),
    ("seed: 7", 'seed: 7\n  description: "one\\0two"', "collection.description: contains a control character, U+0000"),
    ("seed: 7", 'seed: 7\n  token_name: "{collection} #{id}\\u202e"', "collection.token_name: contains a bidirectional"),
    ("Red: 3", '"Re\\0d": 3', "traits.colour.Re\\u0000d: the key contains a control character"),
    ("Red: 3", '"Re\\u202ed": 3', "traits.colour.Re\\u202ed: the key contains a bidirectional control"),
    ('prompt: "surfing"', 'prompt: "surf\\u202eing"', "traits.object.Surfboard.prompt: contains a bidirectional control"),
    ("colour: {", '"col\\0our": {', "the key contains a control character"),
    ('template: "{colour} rusty roboz {object}"', 'template: "{colour} rusty\\troboz {object}"', "prompt.template: contains a control"),
    ("  - name: Dune", '  - name: "Du\\0ne"', "specials[0].name: contains a control character"),
    ('prompt: "Dune | rusty roboz:0.5"', 'prompt: "Dune\\u2067 | rusty roboz:0.5"', "specials[0].prompt: contains a bidirectional"),
    ("  - name: Dune", "  - name: Dune\n    traits: {colour: \"Re\\u202ed\"}", "specials[0].traits.colour: contains a bidirectional"),
]


@pytest.mark.parametrize("old, new, message", CONTROLS)
def test_control_and_bidi_characters_never_reach_the_metadata(tmp_path, capsys, old, new, message):
    assert old in GOOD
    code, err = run_validate(tmp_path, GOOD.replace(old, new, 1), capsys)
    assert code == 2, err
    assert message in err and "Traceback" not in err
    # the error line itself carries no raw control character that would garble a terminal
    assert not any(ord(ch) < 0x20 and ch != "\n" or 0x202A <= ord(ch) <= 0x202E or 0x2066 <= ord(ch) <= 0x2069 for ch in err)


def test_a_description_may_break_lines_and_a_block_scalar_may_end_in_one(tmp_path, capsys):
    text = GOOD.replace("seed: 7", "seed: 7\n  description: |\n    Line one.\n\tindented\n    Line two.\n")
    text = text.replace('template: "{colour} rusty roboz {object}"', "template: >\n    {colour} rusty roboz {object}\n")
    code, err = run_validate(tmp_path, text, capsys)
    assert code in (0, 2) and "control character" not in err


def test_a_plan_is_never_made_from_a_manifest_with_a_control_character(tmp_path, capsys):
    f = tmp_path / "manifest.yaml"
    f.write_text(GOOD.replace("name: Rusty Roboz", 'name: "Rusty\\u202eRoboz"'))
    assert main(["plan", str(f), "--out", str(tmp_path / "build")]) == 2
    assert "bidirectional control" in capsys.readouterr().err
    assert not (tmp_path / "build" / "plan.json").exists()


# ---- prompt weights and stops -------------------------------------------------------------

WEIGHT_TYPOS = [
    ("trending on artstation:abc", "':abc' is not a number"),
    ("a robot:0,5", "write :0.5 (a decimal point, not a comma)"),
    ("a robot:-0,25", "write :-0.25"),
    ("a robot:1:0,1", "write :0.1"),
    ("a robot:1.2.3", "':1.2.3' is not a number"),
    ("a robot:abc:1", "':abc' is not a number"),
    ("a robot:1:abc", "':abc' is not a number"),
    ("a robot:-", "':-' is not a number"),
    ("a robot:1,000", "write :1.000"),
    ("a robot:one", "':one' is not a number"),
]


@pytest.mark.parametrize("item, message", WEIGHT_TYPOS)
def test_a_weight_that_looks_numeric_but_does_not_parse_is_an_error(item, message):
    with pytest.raises(PromptError) as e:
        split_prompts(f"a sunset | {item}")
    assert message in str(e.value) and item in str(e.value)


@pytest.mark.parametrize("item, spec", [
    ("photo: jax", PromptSpec("photo: jax")),                     # text after ': '
    ("photo: jax:2", PromptSpec("photo: jax", 2.0)),
    ("16:9 aspect ratio", PromptSpec("16:9 aspect ratio")),
    ("https://x.org/a.png:0.5", PromptSpec("https://x.org/a.png", 0.5)),
    ("http://host:8080/x", PromptSpec("http://host:8080/x")),
    ("a robot:-0.5:0.2", PromptSpec("a robot", -0.5, 0.2)),
    ("a robot:1e-1", PromptSpec("a robot", 0.1)),
    ("a robot: abc", PromptSpec("a robot: abc")),                 # the escape the error message names
])
def test_text_with_colons_stays_text(item, spec):
    assert parse_prompt(item) == spec


@pytest.mark.parametrize("old, new, message", [
    ('template: "{colour} rusty roboz {object}"', 'template: "{colour} rusty roboz {object}:abc"',
     "prompt.template: '{colour} rusty roboz {object}:abc': ':abc' is not a number"),
    ('template: "{colour} rusty roboz {object}"', 'template: "{colour} rusty roboz {object}:0,5"', "write :0.5"),
    ('prompt: "Dune | rusty roboz:0.5"', 'prompt: "Dune | rusty roboz:0,5"', "specials[0].prompt: 'rusty roboz:0,5'"),
    ('prompt: "surfing"', 'prompt: "surfing:heavy"', "traits.object.Surfboard: its prompt phrase makes the prompt item"),
    ("iterations: 5", "iterations: 5\n  noise_prompts: [\"42:abc\"]", "render.noise_prompts[0]: '42:abc' is not `seed:weight`"),
])
def test_weight_typos_in_a_manifest_are_located(tmp_path, capsys, old, new, message):
    code, err = run_validate(tmp_path, GOOD.replace(old, new, 1), capsys)
    assert code == 2 and message in err and "Traceback" not in err, err


def test_image_prompt_weight_typo_is_located(tmp_path, capsys):
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "sketch.png")
    code, err = run_validate(tmp_path, GOOD.replace("iterations: 5", 'iterations: 5\n  image_prompts: ["sketch.png:0,5"]'), capsys)
    assert code == 2 and "render.image_prompts[0]: 'sketch.png:0,5': ':0,5' is not a number" in err, err


def test_finite_weights_still_parse_as_before():
    assert [p.weight for p in split_prompts("a:1 | b:-0.5:0.2 | c")] == [1.0, -0.5, 1.0]
    assert math.isinf(parse_prompt("a").stop)
