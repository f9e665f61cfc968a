"""The peak-memory estimate (collection/render/memory.py): checked on points it was not fitted on, and
used by `validate` (warning, exit 0) and `build` (refusal naming the settings to lower, exit 2)."""

from __future__ import annotations

import numpy as np
import pytest

from collection.cli import main
from collection.render.memory import ATTENTION_ENTRY_GIB, advice, check, downsampling, estimate_peak_gib, oom_message
from generator.settings import RenderSettings
from tests.test_manifest_errors import GOOD

FULL = "vqgan_imagenet_f16_16384+ViT-B/32"

# README "Measured" (benchmarks/render.py, CPU, cutn 32, full-size pair): the five points the full-size
# constants were fitted to. (The tiny pair's two README points are left out here: its two constants are
# solved from exactly those two, so comparing against them could not fail; see the held-out test below.)
MEASURED_FULL = [((128, 128), 1, 3.6), ((256, 256), 1, 4.6), ((480, 480), 1, 8.0), ((128, 128), 4, 10.3), ((256, 256), 4, 14.3)]


@pytest.mark.parametrize("left_out", range(len(MEASURED_FULL)))
def test_the_formula_predicts_each_full_size_peak_from_the_other_four(left_out):
    """The formula's form, not its constants: fit base, per-cut and per-pixel terms by least squares on four
    measured peaks, predict the fifth within 5 % (the module docstring quotes 0.5 % at worst)."""
    f = downsampling(FULL)

    def row(size, batch):
        px = size[0] * size[1]
        return [1.0, batch, batch * px], batch * (px / f**2) ** 2 * ATTENTION_ENTRY_GIB

    fit = [p for i, p in enumerate(MEASURED_FULL) if i != left_out]
    a = np.array([row(s, b)[0] for s, b, _ in fit])
    y = np.array([gib - row(s, b)[1] for s, b, gib in fit])
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    size, batch, gib = MEASURED_FULL[left_out]
    x, att = row(size, batch)
    predicted = float(np.dot(coef, x)) + att
    assert abs(predicted - gib) <= 0.05 * gib, (size, batch, predicted, gib)
    assert abs(estimate_peak_gib(size, 32, batch, FULL).gib - gib) <= 0.05 * gib  # and the shipped constants


def test_estimate_grows_with_every_setting():
    base = estimate_peak_gib((256, 256), 32, 1, FULL).gib
    assert estimate_peak_gib((512, 512), 32, 1, FULL).gib > base
    assert estimate_peak_gib((256, 256), 64, 1, FULL).gib > base
    assert estimate_peak_gib((256, 256), 32, 2, FULL).gib > base
    assert estimate_peak_gib((256, 256), 32, 1, "vqgan_imagenet_f16_16384+ViT-L/14").gib > base
    own = {"vqgan": {"name": "mine_f16", "config": "/x.yaml", "checkpoint": "/x.ckpt"}, "clip": "ViT-B/32"}
    assert estimate_peak_gib((256, 256), 32, 1, own).gib == pytest.approx(base)


def test_check_names_the_settings_to_lower():
    render = RenderSettings(size=(512, 512), cutn=64, batch_size=4, models=FULL)
    (line,) = check([("render", render)], "cpu", limit_gib=20)
    # the figure is the estimate's own output (a format check); what is checked independently is below:
    # every suggested setting really fits, and 64 GiB is enough
    est = estimate_peak_gib((512, 512), 64, 4, FULL)
    assert line.startswith(f"render: 512x512, cutn 64, batch 4 on cpu needs about {est} at peak, more than the 20.0 GiB")
    assert "batch_size: 2" in line and "size: [" in line
    for tip in line.split("set ", 1)[1].split(" (")[0].split(" or "):  # each suggestion really fits
        key, value = tip.split(": ", 1)
        fixed = RenderSettings.from_dict({**render.to_dict(), key: eval(value)})
        assert estimate_peak_gib(fixed.size, fixed.cutn, fixed.batch_size, FULL).gib <= 20
    assert check([("render", render)], "cpu", limit_gib=64) == []
    assert "no one of them alone fits" in advice(RenderSettings(size=(4096, 4096), cutn=512, models=FULL), 2)
    assert oom_message(render, "cuda", limit_gib=24).startswith("out of memory on cuda: 512x512, cutn 64, batch 4")


def test_validate_warns_and_exits_zero(tmp_path, capsys):
    f = tmp_path / "manifest.yaml"
    f.write_text(GOOD.replace("size: [32, 32]", "size: [512, 512]").replace("models: tiny", f"models: {FULL}"))
    assert main(["validate", str(f), "--memory", "4"]) == 0
    err = capsys.readouterr().err
    assert "warning: render: 512x512, cutn 32, batch 1 on cpu needs about" in err and "more than the 4.0 GiB" in err


def test_build_refuses_a_configuration_that_cannot_fit(tmp_path, capsys):
    f = tmp_path / "manifest.yaml"
    # The tiny pair downsamples by 2 only: its attention map at 2048² is ~1e12 entries.
    f.write_text(GOOD.replace("size: [32, 32]", "size: [2048, 2048]"))
    assert main(["build", str(f), "--device", "cpu", "--no-preview"]) == 2
    err = capsys.readouterr().err
    assert "error: render: 2048x2048, cutn 32, batch 1 on cpu needs about" in err
    assert "--force" in err and "Traceback" not in err
    assert not (tmp_path / "build" / "images").exists()
