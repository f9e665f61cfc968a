"""The CLI off the happy path: never a traceback, a did-you-mean for typos, numbers refused rather than
replaced, bugs as one line with the traceback saved to a file, garbled build files as one line each."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from collection.cli import main
from collection.commands import COMMAND_MODULES


def cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "collection.cli", *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd, env={**os.environ, **(env or {})})


def no_traceback(p: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in p.stdout + p.stderr, p.stdout + p.stderr


def test_unknown_commands_get_a_did_you_mean():
    p = cli("biuld", "manifest.yaml")
    assert p.returncode == 2 and p.stderr.splitlines()[0] == "error: unknown command 'biuld'; did you mean 'build'?"
    no_traceback(p)
    p = cli("xyzzy")
    assert p.returncode == 2 and p.stderr.splitlines()[0] == "error: unknown command 'xyzzy'"


@pytest.mark.parametrize("args", [["mint", "build", "--batch-size", "0"], ["mint", "build", "--batch-size", "-3"],
                                  ["render", "build", "--threads", "0"], ["build", "m.yaml", "--threads", "two"],
                                  ["preview", "build", "--columns", "0"], ["preview", "build", "--thumb-size", "0"]])
def test_cli_numbers_are_refused_not_coerced(args):
    p = cli(*args)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "must be at least 1" in p.stderr or "expected a whole number, got 'two'" in p.stderr
    no_traceback(p)


def test_every_command_on_a_missing_build_says_one_line_without_traceback(tmp_path):
    missing = str(tmp_path / "nowhere")
    args = {"validate": [missing + ".yaml"], "plan": [missing + ".yaml"], "build": [missing + ".yaml"],
            "render": [missing], "metadata": [missing], "preview": [missing], "publish": [missing, "--to", "car"],
            "mint": [missing, "--network", "local"], "models": ["verify", "--models-dir", missing],
            "reroll": [missing, "1", "--no-render"], "review": [missing],
            "reveal": [missing, "--network", "local"], "sale": [missing, "--network", "local"],
            "withdraw": [missing, "--network", "local"], "verify": [missing, "--network", "local"]}
    # init, demo, paint and variations make things from nothing: tried in their own tests
    assert set(args) <= set(COMMAND_MODULES)
    assert set(COMMAND_MODULES) - set(args) <= {"init", "demo", "paint", "variations"}
    for cmd, rest in args.items():
        p = cli(cmd, *rest)
        no_traceback(p)
        assert p.returncode in (1, 2) or cmd == "models", (cmd, p.returncode, p.stderr)


def test_a_bug_is_one_line_naming_the_saved_traceback_and_debug_shows_it(make_build, monkeypatch, capsys):
    from collection.commands import render as render_cmd

    build = make_build()

    def broken(args):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(render_cmd, "run", broken)
    assert main(["render", str(build)]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("error: unexpected RuntimeError: boom second line (a bug; the full traceback is in ")
    saved = Path(err.split("the full traceback is in ")[1].split(";")[0])
    assert saved.parent == build / "logs" and "Traceback" in saved.read_text() and "boom" in saved.read_text()
    assert "--debug" in err and "report it" in err

    assert main(["render", str(build), "--debug"]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "RuntimeError: boom" in err


def test_garbled_state_is_one_line_and_the_records_recover_it(make_build, tmp_path):
    build = make_build()
    base = ["render", str(build), "--models", "tiny", "--device", "cpu", "--no-progress"]
    assert cli(*base).returncode == 0
    image = (build / "images" / "1.png").read_bytes()
    (build / "state.sqlite").write_bytes(b"this is not sqlite" * 100)
    for f in build.glob("state.sqlite-*"):
        f.unlink()
    p = cli(*base)
    no_traceback(p)
    assert p.returncode == 1
    assert p.stderr.splitlines()[0].startswith(f"error: {build / 'state.sqlite'} is not a readable render state")
    assert f"mv {build / 'state.sqlite'}" in p.stderr
    (build / "state.sqlite").rename(build / "state.sqlite.bad")
    p = cli(*base)
    assert p.returncode == 0 and "rendered 0, skipped 2 (already done)" in p.stdout, p.stdout + p.stderr
    assert (build / "images" / "1.png").read_bytes() == image


def test_garbled_checkpoint_and_truncated_image_are_named_and_rendered_again(make_build):
    build = make_build({"iterations": 8, "checkpoint_every": 4})
    base = ["render", str(build), "--models", "tiny", "--device", "cpu", "--no-progress"]
    assert cli(*base).returncode == 0
    want = {i: np.asarray(Image.open(build / "images" / f"{i}.png")) for i in (1, 2)}
    # token 1: image truncated on disk; token 2: unfinished, with a garbled checkpoint
    png = build / "images" / "1.png"
    png.write_bytes(png.read_bytes()[:100])
    (build / "images" / "2.png").unlink()
    (build / "checkpoints").mkdir(exist_ok=True)
    (build / "checkpoints" / "2.pt").write_bytes(b"garbage")
    p = cli(*base)
    no_traceback(p)
    assert p.returncode == 0, p.stderr
    assert f"warning: {png} is not the image rendered for token 1" in p.stderr
    assert f"warning: {build / 'checkpoints' / '2.pt'} is unreadable" in p.stderr and "token 2 starts over" in p.stderr
    assert (build / "checkpoints" / "2.pt.bad").read_bytes() == b"garbage"
    assert "rendered 2, skipped 0" in p.stdout
    for i in (1, 2):  # rendered again to the same pixels
        assert np.array_equal(np.asarray(Image.open(build / "images" / f"{i}.png")), want[i])


def test_the_traceback_check_sees_cli_output():
    """tests/fixtures_cli.py: a CLI run's traceback is noticed (checked here without failing this test)."""
    from tests import fixtures_cli

    p = cli("render", "/nonexistent", "--debug", env={"ROBOZ_DEBUG": "1"})  # a missing plan is a UserError: no traceback
    assert "Traceback" not in p.stderr and fixtures_cli._seen == []
    r = subprocess.run([sys.executable, "-c", "import sys; sys.argv=['collection.cli']; raise SystemExit(__import__('x_no_such'))",
                        "collection.cli"], capture_output=True, text=True)
    assert "Traceback (most recent call last)" in r.stderr
    assert len(fixtures_cli._seen) == 1 and "x_no_such" in fixtures_cli._seen[0][1]
    fixtures_cli._seen.clear()  # seen: now forget it, so this test passes


def test_a_done_token_whose_record_is_lost_or_garbled_is_rendered_again(make_build, capsys):
    from buildfiles.records import read_record
    from collection.render.render_step import render_build

    build = make_build()
    assert sorted(render_build(build, progress=False).rendered) == [1, 2]
    image = (build / "images" / "1.png").read_bytes()
    (build / "renders" / "1.json").write_text("{garbled")
    (build / "renders" / "2.json").unlink()
    capsys.readouterr()
    rep = render_build(build, progress=False)
    assert sorted(rep.rendered) == [1, 2] and rep.skipped == []
    err = capsys.readouterr().err
    assert "warning: renders/1.json is missing or unreadable although token 1 is done: rendering it again" in err
    assert read_record(build, 1).image_sha256 and (build / "images" / "1.png").read_bytes() == image


# ---------------------------------------------------------------- issue 25: strict command lines and hints

def test_abbreviated_options_are_errors_not_guesses(tmp_path):
    p = cli("build", str(tmp_path / "manifest.yaml"), "--draf")
    assert p.returncode == 2 and "unrecognized arguments: --draf" in p.stderr
    p = cli("mint", str(tmp_path), "--allow-test")
    assert p.returncode == 2 and "unrecognized arguments: --allow-test" in p.stderr
    p = cli("--vers")
    assert p.returncode == 2 and "--vers" in p.stderr


@pytest.mark.parametrize("name", ["manifest.yaml", "my.yml", "plan.json"])
def test_render_of_a_file_says_it_takes_a_build_folder(tmp_path, name):
    f = tmp_path / name
    if name != "my.yml":   # a manifest path that does not exist yet reads the same
        f.write_text("collection: {}\n")
    p = cli("render", str(f))
    no_traceback(p)
    assert p.returncode == 2
    assert "render takes a build folder (the folder plan wrote), not" in p.stderr
    assert f"roboz-collection plan {f}" in p.stderr and f"roboz-collection build {f}" in p.stderr
