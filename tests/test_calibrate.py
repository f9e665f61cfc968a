"""Levers chosen per machine (generator.calibrate): which variants may run here, how one is chosen,
and bf16 refused where the CPU would only emulate it. No timing is asserted: trials are timed for
real, but only which variants ran and that the choice is one of them are checked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from generator.calibrate import (Calibration, Trial, calibrate, candidates, choose, cpu_flags, native_precisions,
                                 precision_problem)
from generator.loop import Levers, TokenJob
from generator.settings import RenderSettings

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "rusty-roboz"
NATIVE_HERE = native_precisions("cpu")


def test_native_bf16_comes_from_the_cpu_flags():
    assert native_precisions("cpu", frozenset({"avx2", "fma", "f16c"})) == ()
    assert native_precisions("cpu", frozenset({"avx512f", "avx512_bf16"})) == ("bf16",)
    assert native_precisions("cpu", frozenset({"amx_bf16", "amx_tile"})) == ("bf16",)
    assert native_precisions("cpu", frozenset({"asimd", "bf16"})) == ("bf16",)  # Arm's Features line
    assert precision_problem("bf16", "cpu", frozenset({"avx2"})) is not None
    assert precision_problem("bf16", "cpu", frozenset({"avx512_bf16"})) is None
    assert precision_problem("fp32", "cpu", frozenset()) is None
    assert "CUDA" in precision_problem("fp16", "cpu", frozenset({"avx512_bf16"}))


def test_cpu_flags_read_from_a_cpuinfo_file(tmp_path):
    f = tmp_path / "cpuinfo"
    f.write_text("processor\t: 0\nmodel name\t: Some CPU\nflags\t\t: fpu sse avx2 avx512_bf16\n\nprocessor\t: 1\n")
    assert "avx512_bf16" in cpu_flags(f) and native_precisions("cpu", cpu_flags(f)) == ("bf16",)
    assert cpu_flags(tmp_path / "missing") == frozenset()


def test_candidates_hold_only_what_this_device_does():
    labels = lambda vs: [v.label for v in vs]  # noqa: E731
    assert labels(candidates("cpu", native=(), compile_ok=True)) == ["fp32", "channels_last", "compile"]
    assert labels(candidates("cpu", native=("bf16",), compile_ok=False)) == ["fp32", "channels_last", "bf16"]
    # a precision the settings name is theirs: no precision lever is timed against it
    assert labels(candidates("cuda", "bf16", native=("bf16", "fp16"), compile_ok=True)) == ["fp32", "channels_last", "compile"]
    assert "bf16" not in labels(candidates("cpu", native=NATIVE_HERE and (), compile_ok=False))


def test_choice_weighs_one_time_cost_against_the_build_and_keeps_the_default_within_noise():
    default = Trial(Levers(), 0.5, 1.00)
    layout = Trial(Levers(channels_last=True), 0.5, 0.97)     # 3 % faster: noise, not a reason to change rounding
    compiled = Trial(Levers(compile=True), 120.0, 0.80)       # 20 % faster after two minutes of compiling
    assert choose([default, layout, compiled], 100).levers == Levers()           # a short build never pays it back
    assert choose([default, layout, compiled], 10_000).levers == Levers(compile=True)
    assert choose([default, Trial(Levers(channels_last=True), 0.5, 0.90)], 100).levers == Levers(channels_last=True)


def test_calibration_times_supported_variants_only_and_picks_one_of_them(tiny_models):
    s = RenderSettings(models="tiny", init_image=None, size=(32, 32), iterations=50, cutn=4, augments=("flip",))
    variants = candidates("cpu", native=native_precisions("cpu"), compile_ok=False)  # compiling would take minutes here
    lines: list[str] = []
    cal = calibrate(tiny_models, [TokenJob(1, "a robot", 3, s)], build_iterations=10**6, variants=variants,
                    iterations=1, log=lines.append)
    assert [t.levers for t in cal.trials][: len(variants)] == variants  # each tried once, in order (a combination may follow)
    assert cal.levers in [t.levers for t in cal.trials]
    assert all(t.per_iteration_s > 0 for t in cal.trials)
    if not NATIVE_HERE:
        assert all(t.levers.precision is None for t in cal.trials)
    assert lines[0].startswith("calibrating levers on cpu: fp32")
    back = Calibration.from_dict(cal.to_dict())
    assert back.levers == cal.levers and back.device == "cpu"
    assert cal.to_dict()["machine"]["threads"] >= 1
    assert cal.levers.label in cal.summary() and "s/it" in cal.summary()


def test_a_short_build_spends_no_trial_beyond_the_default(tiny_models):
    s = RenderSettings(models="tiny", init_image=None, size=(32, 32), iterations=8, cutn=4, augments=("flip",))
    lines: list[str] = []
    cal = calibrate(tiny_models, [TokenJob(1, "a robot", 3, s)], build_iterations=8, log=lines.append)
    assert [t.levers for t in cal.trials] == [Levers()] and cal.levers == Levers()
    assert any("not tried" in line for line in lines)


def test_levers_round_trip_and_label():
    for lv in (Levers(), Levers(channels_last=True, compile=True), Levers(precision="bf16", channels_last=True)):
        assert Levers.from_dict(lv.to_dict()) == lv
    assert Levers().label == "fp32" and Levers(precision="bf16", compile=True).label == "bf16+compile"


@pytest.mark.skipif(bool(NATIVE_HERE), reason="this CPU does bf16 natively")
def test_validate_refuses_bf16_on_this_cpu_in_one_line(tmp_path, capsys):
    from collection.cli import main

    project = tmp_path / "p"
    shutil.copytree(EXAMPLE, project)
    manifest = project / "manifest.yaml"
    text = manifest.read_text()
    manifest.write_text(text.replace("render:\n", "render:\n  precision: bf16\n", 1))
    assert main(["validate", str(manifest)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("error: render.precision: bf16 needs native bf16") and "Traceback" not in "\n".join(err)
    assert "use precision: fp32" in err[0] and "(manifest.yaml:" in err[0]
    manifest.write_text(text.replace('    prompt: "Dune | rusty roboz:0.5"\n', '    prompt: "Dune | rusty roboz:0.5"\n    render: {precision: bf16}\n', 1))
    assert main(["validate", str(manifest)]) == 2  # a special's own precision is checked as well
    assert capsys.readouterr().err.startswith("error: specials[0].render.precision: bf16 needs native bf16")
    manifest.write_text(text)  # without it the same manifest passes
    assert main(["validate", str(manifest)]) == 0


@pytest.mark.skipif(bool(NATIVE_HERE), reason="this CPU does bf16 natively")
def test_render_refuses_bf16_on_this_cpu_before_painting(make_build):
    from buildfiles.errors import UserError
    from collection.render.render_step import render_build

    build = make_build({"precision": "bf16"})
    with pytest.raises(UserError) as e:
        render_build(build, progress=False, device="cpu")
    assert e.value.message.startswith("render.precision: bf16 needs native bf16") and e.value.exit_code == 2
    assert "precision: fp32" in e.value.hint
    assert not (build / "images").exists() and not (build / "levers.json").exists()


def test_a_precision_lever_fills_in_fp32_only_and_layout_follows_each_renderer(tiny_models):
    import torch

    from generator.loop import Renderer

    fp32 = RenderSettings(models="tiny", init_image=None, size=(32, 32), iterations=2, cutn=4)
    named = RenderSettings(models="tiny", init_image=None, size=(32, 32), iterations=2, cutn=4, precision="fp16")
    r = Renderer(tiny_models, Levers(precision="bf16", channels_last=True))
    assert r._autocast(fp32).fast_dtype == torch.bfloat16 and r._autocast(fp32)._enabled
    assert r._autocast(named).fast_dtype == torch.float16  # the settings' own precision wins
    w = tiny_models.vqgan.decoder.conv_in.weight
    assert w.is_contiguous(memory_format=torch.channels_last) and not w.is_contiguous()
    plain = Renderer(tiny_models)  # a trial's channels_last must not leak into the next renderer on the same models
    assert not plain._autocast(fp32)._enabled
    assert tiny_models.vqgan.decoder.conv_in.weight.is_contiguous()
