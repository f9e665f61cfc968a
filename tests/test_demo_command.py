"""`roboz-collection demo` without the real weights: the demo pair's own draft (128 px, 20 iterations,
8 cutouts: `make demo` is sized to finish in minutes), every token capped, specials included; then
the whole pipeline through publish --to car and a mint on anvil, with a summary that says it was a draft."""

from __future__ import annotations

import json
import textwrap

from collection.cli import main
from collection.commands.demo import DEMO_CUTN, DEMO_ITERATIONS, DEMO_SIZE, plan_demo

MANIFEST = textwrap.dedent(
    """\
    collection:
      name: Demo Roboz
      symbol: DMO
      seed: 5
      supply: 3
    render:
      size: [384, 384]
      iterations: 500
      snapshots: [100, 250, 500]
      cutn: 32
      init_image: jax
      video: {every: 5, fps: 24}
    prompt:
      template: "a {colour} robot"
    traits:
      colour: {red: 1, blue: 1}
    specials:
      - name: Long one
        prompt: "a golden robot"
        render: {iterations: 1000}
    """
)


def _manifest(tmp_path):
    (tmp_path / "p").mkdir()
    path = tmp_path / "p" / "manifest.yaml"
    path.write_text(MANIFEST)
    return path


def test_demo_plan_caps_every_token_to_the_demo_draft(tmp_path, roboz_home):
    summary = plan_demo(_manifest(tmp_path), None, "demo", quiet=True)
    assert summary.build_dir == tmp_path / "p" / "build-draft" and summary.tokens == 3
    plan = json.loads((summary.build_dir / "plan.json").read_text())
    r = plan["render"]
    assert (r["models"], r["size"], r["iterations"], r["cutn"]) == ("demo", [DEMO_SIZE, DEMO_SIZE], DEMO_ITERATIONS, DEMO_CUTN)
    assert r["snapshots"] == [4, 10, 20] and r["video"]["every"] == 1  # kept at their places in the shorter run
    special = next(t for t in plan["tokens"] if t["name"] == "Long one")
    assert {**r, **special.get("render", {})}["iterations"] == DEMO_ITERATIONS  # 1000 capped too


def test_demo_paints_publishes_and_mints_the_draft(tmp_path, roboz_home, capsys, monkeypatch):
    manifest = _manifest(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert main(["demo", str(manifest), "--no-progress", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert f"{DEMO_SIZE} px, {DEMO_ITERATIONS} iterations, {DEMO_CUTN} cutouts" in " ".join(out.split())
    assert "draft with the demo models, not the real weights" in out and "verified on chain  yes" in out
    build = manifest.parent / "build-draft"
    rec = json.loads((build / "renders" / "3.json").read_text())
    assert rec["test_models"] == "demo models trained on a toy robot world"
    assert list(json.loads((build / "mint.json").read_text())["chains"]) == ["31337"]  # anvil, nowhere else
    assert {"1.png", "2.png", "3.png"} <= {p.name for p in (build / "images").glob("*.png")}
    assert list((build / "car").glob("*.car"))
