"""`render.models: demo` builds through the real pipeline, and every picture says it is a demo render."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from PIL import Image

from generator.registry import TEST_MODELS

MANIFEST = textwrap.dedent(
    """\
    collection:
      name: Demo Roboz
      symbol: DROBOZ
      description: Two little robots painted by the demo models.
      seed: 7
      supply: 2
    render:
      models: demo
      init_image: jax
      size: [32, 32]
      iterations: 2
      cutn: 2
    prompt:
      template: "{colour} robot"
    traits:
      colour: {Red: 1, Blue: 1}
    """
)


def test_demo_build_is_labelled_in_png_text_metadata_and_gallery(tmp_path):
    (tmp_path / "manifest.yaml").write_text(MANIFEST)
    env = {**os.environ, "ROBOZ_HOME": str(tmp_path / "home")}
    p = subprocess.run([sys.executable, "-m", "collection.cli", "build", "manifest.yaml", "--no-progress"], cwd=tmp_path,
                       env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    build = tmp_path / "build"
    label = TEST_MODELS["demo"]
    for tid in (1, 2):
        img = Image.open(build / "images" / f"{tid}.png")
        assert img.text["models"] == "demo" and img.text["roboz:test-model"] == "true"
        assert img.text["roboz:test-models"] == label
        record = json.loads((build / "renders" / f"{tid}.json").read_text())
        assert record["test_models"] == label and record["tiny"] is False
        meta = json.loads((build / "metadata" / f"{tid}.json").read_text())
        assert {"trait_type": "Test render", "value": label} in meta["attributes"]
    assert label in (build / "gallery.html").read_text()
