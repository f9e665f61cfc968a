"""The wheel stands alone: installed into a fresh virtual environment outside the repository, it runs
validate → plan → build (demo pair) → metadata → preview → publish --to car → mint --network local
from a folder outside the repository, reading only what the wheel carries (demo weights, Jax,
the contract artifact, page templates and scripts).

torch and the other dependencies (about 5 GB) are not copied: the new venv sees this project's
venv's third-party packages through a .pth line (a path line only: the .pth files in that folder,
this project's editable finder among them, are not run). The test checks that `collection` and
the other packages resolve inside the new venv's own site-packages, never to the checkout.
anvil comes from PATH (npm's node_modules/.bin, as `npm install @foundry-rs/anvil` leaves it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from buildfiles.errors import UserError
from tests.fixtures_wheel import REPO, run, wheel_file  # noqa: F401  (wheel_file: the session's wheel)

PACKAGES = ("buildfiles", "collection", "generator", "metadata", "contracts", "preview")
MANIFEST = textwrap.dedent(
    """\
    collection:
      name: Wheel Roboz
      symbol: WHL
      seed: 11
      supply: 2
    render:
      models: demo
      init_image: jax.png
      init_weight: 0.5
      size: [48, 48]
      iterations: 4
      snapshots: [2]
      cutn: 4
      checkpoint_every: 2
    prompt:
      template: "a {colour} robot"
    traits:
      colour: {red: 1, blue: 1}
    """
)


def _site_packages(venv: Path) -> Path:
    return venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"


@pytest.fixture(scope="module")
def installed(wheel_file, tmp_path_factory):  # noqa: F811
    """A fresh venv outside the repository with the wheel installed; returns (venv, env)."""
    root = tmp_path_factory.mktemp("standalone")
    assert not root.resolve().is_relative_to(REPO)
    venv = root / "venv"
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(root), "ROBOZ_HOME": str(root / "roboz-home"),
           "LANG": "C.UTF-8"}
    run([sys.executable, "-m", "venv", venv], cwd=root, env=env)
    ours = _site_packages(Path(sys.prefix))
    (_site_packages(venv) / "roboz-deps.pth").write_text(f"{ours}\n")  # torch & co., not our code
    run([venv / "bin" / "python", "-m", "pip", "install", "--quiet", "--no-deps",
         "--no-index", wheel_file], cwd=root, env=env)
    return venv, env


def test_the_packages_resolve_inside_the_new_venv(installed):
    venv, env = installed
    code = "import importlib, json; print(json.dumps({p: importlib.import_module(p).__file__ for p in %r}))" % (PACKAGES,)
    where = json.loads(run([venv / "bin" / "python", "-c", code], cwd=venv.parent, env=env).stdout)
    site = _site_packages(venv).resolve()
    for pkg, f in where.items():
        assert Path(f).resolve().is_relative_to(site), f"{pkg} from {f}, not from {site}"
    assert (venv / "bin" / "roboz-collection").exists()


@pytest.mark.slow
def test_the_whole_pipeline_runs_from_the_wheel(installed, tmp_path):
    venv, env = installed
    anvil_dir = REPO / "contracts" / "node_modules" / ".bin"  # what `npm install @foundry-rs/anvil` leaves
    env = {**env, "PATH": f"{env['PATH']}:{anvil_dir}"}
    work = tmp_path / "work"
    work.mkdir()
    cli = venv / "bin" / "roboz-collection"

    def step(*args, timeout=600):
        return run([cli, *args], cwd=work, env=env, timeout=timeout).stdout

    step("init", "proj")  # the starter manifest and the bundled Jax, from package data
    assert (work / "proj" / "jax.png").stat().st_size > 0
    (work / "proj" / "manifest.yaml").write_text(MANIFEST)
    m = "proj/manifest.yaml"
    assert "plans 2 tokens" in step("validate", m)
    step("plan", m)
    step("build", m, "--device", "cpu", "--no-progress")
    build = work / "proj" / "build"
    step("metadata", "proj/build")
    step("preview", "proj/build")
    out = step("publish", "proj/build", "--to", "car")
    assert "bafy" in out
    out = step("mint", "proj/build", "--network", "local")

    assert sorted(p.name for p in (build / "images").glob("[0-9]*.png")) == ["1.png", "2.png"]
    rec = json.loads((build / "renders" / "1.json").read_text())
    assert rec["test_models"] == "demo models trained on a toy robot world"  # the demo pair, from the wheel
    assert (build / "snapshots" / "1" / "0002.png").exists()
    gallery = (build / "gallery.html").read_text()
    assert "<script" in gallery and "Wheel Roboz" in gallery  # template and script inlined from package data
    assert list((build / "car").glob("*.car"))
    local = json.loads((build / "mint.json").read_text())["chains"]["31337"]
    assert local["contract_address"].startswith("0x") and local["minted"]["count"] == 2, local
    assert local["verified"], local
    assert str(REPO) not in (build / "plan.json").read_text()


def test_anvil_is_found_on_path_and_by_variable(tmp_path, monkeypatch):
    """Outside a checkout there is no contracts/node_modules: $ROBOZ_ANVIL, then PATH; npm's node
    wrapper on PATH is resolved to the native binary beside it (its pid is anvil's, so it can be stopped)."""
    from contracts import chain

    native = REPO / "contracts" / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
    monkeypatch.setattr(chain, "ANVIL_BIN", tmp_path / "absent")
    monkeypatch.delenv(chain.ANVIL_ENV, raising=False)
    monkeypatch.setenv("PATH", str(REPO / "contracts" / "node_modules" / ".bin"))
    assert chain.anvil_binary() == native
    monkeypatch.setenv(chain.ANVIL_ENV, str(native))
    assert chain.anvil_binary() == native
    monkeypatch.setenv(chain.ANVIL_ENV, str(tmp_path / "nope"))
    with pytest.raises(UserError, match="ROBOZ_ANVIL=.* is not an executable anvil"):
        chain.anvil_binary()
    monkeypatch.delenv(chain.ANVIL_ENV)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UserError, match="anvil not found") as e:
        chain.anvil_binary()
    assert "npm install @foundry-rs/anvil@1.7.1" in e.value.hint


def test_make_wheel_names_the_script_that_builds_from_a_clean_copy():
    text = (REPO / "Makefile").read_text()
    assert "\nwheel: python\n\trm -rf dist && $(BIN)/python scripts/build_wheel.py dist\n" in text


def test_the_wheel_carries_what_is_read_at_run_time(wheel_file):  # noqa: F811
    import zipfile

    names = set(zipfile.ZipFile(wheel_file).namelist())
    for must in ("collection/assets/jax.png", "collection/review/page.html", "collection/review/page.js",
                 "generator/demo/weights/vqgan.ckpt", "generator/demo/weights/clip.pt", "generator/demo/weights/vqgan.yaml",
                 "contracts/artifacts/RobozCollection.json", "preview/gallery.html", "preview/gallery.js",
                 "metadata/schemas/token.schema.json"):
        assert must in names, must
    assert not [n for n in names if "node_modules" in n or "__pycache__" in n or n.startswith("tests/")]
    # every page asset under preview/ that the checkout has (the mint page included) is in the wheel
    for p in (REPO / "preview").rglob("*"):
        rel = p.relative_to(REPO).as_posix()
        if p.is_file() and p.suffix in (".html", ".js", ".css") and "node_modules" not in rel and "/js/" not in rel:
            assert rel in names, rel
