"""Two lanes: `make test-fast` runs `pytest -m "not slow"` (under 90 s on a 2-core machine);
`make test` and CI run everything.

A test is slow when it starts a chain (anvil), a browser (chromium), Ray, the CLI in a
subprocess (a fresh interpreter importing torch: seconds each), or renders for long. The
lane of each test comes from the fixtures it uses (FIXTURE_LANES) or from LANES below, by file
or by test; every lane marker also marks it `slow`. In the fast lane a guard fails any test
that starts anvil, chromium, Ray or the CLI without being marked, so the list cannot go stale
quietly: add the test (or its file) to LANES with the lane the failure names.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

LANE_MARKERS = {
    "chain": "starts a local anvil chain",
    "browser": "starts Debian's chromium",
    "ray": "starts a Ray cluster",
    "cli": "runs roboz-collection in a subprocess (a fresh interpreter: seconds each)",
    "render": "renders many iterations or a whole build in process",
}

FIXTURE_LANES = {"anvil": "chain", "anvil_manual": "chain", "browser": "browser"}

# file (or file::test) -> lanes. Measured with `pytest --durations=0` and kept honest by the guard.
LANES: dict[str, str] = {
    "test_buildfiles_lock_records.py": "cli",
    "test_candidates.py": "render cli",
    "test_autostop_render.py": "render",
    "test_cli_errors.py": "cli render",
    "test_cli_logs.py": "cli",
    "test_cli_threads.py": "cli",
    "test_colab_notebook.py": "render cli",
    "test_demo_build.py": "cli render",
    "test_demo_default.py": "cli",
    "test_demo_command.py::test_demo_paints_publishes_and_mints_the_draft": "chain render",
    "test_demo_painting.py": "render",
    "test_demo_painting_pixels.py": "render",
    "test_demo_train.py": "render",
    "test_end_to_end.py": "cli chain",
    "test_generator_weights.py": "cli",
    "test_manifest_errors.py": "cli",
    "test_manifest_hostile.py": "cli",
    "test_metadata_build.py": "cli",
    "test_metadata_files.py": "cli",
    "test_metadata_integrity.py": "cli",
    "test_mint_build.py": "cli chain",
    "test_mint_crash.py": "cli chain",
    "test_mint_guards.py": "cli chain",
    "test_own_models.py": "cli render",
    "test_plan_stability.py": "cli",
    "test_planner.py": "cli",
    "test_preview_report.py": "cli",
    "test_preview_sheets.py": "cli",
    "test_publish_errors.py": "cli",
    "test_publish_providers.py": "cli",
    "test_ray_executor.py": "ray cli render",
    "test_record_hint.py": "cli render",
    "test_render_build.py": "cli render",
    "test_reroll.py": "cli render",
    "test_review_browser.py": "cli render",
    "test_wheel_install.py": "cli chain render",
    "test_docker.py": "cli",
    "test_drop_properties.py": "chain",
    "test_generator_loop.py::test_interrupt_and_resume_from_checkpoint_is_exact": "render",
    "test_generator_loop.py::test_batch_of_two_equals_two_singles": "render",
    "test_generator_loop.py::test_init_image_image_prompt_noise_prompt_and_init_weight": "render",
    "test_generator_loop.py::test_same_seed_same_image_different_seed_different_image": "render",
    "test_generator_loop.py::test_loss_falls_over_30_iterations": "render",
    "test_generator_loop.py::test_snapshots_and_frames_are_reported": "render",
    "test_generator_loop.py::test_bf16_autocast_runs_on_cpu": "render",
    "test_redteam_mint.py": "chain cli",
    "test_redteam_endpoints.py": "chain cli",
    "test_review_origin.py": "cli",
    "test_sale_command.py": "chain cli",
    "test_reveal_withdraw.py": "chain cli",
    "test_paint.py": "cli render",
    "test_variations.py": "render",
    "test_calibrate_build.py": "cli render",
    "test_story_zoom.py": "render",
    "test_portable_project.py": "cli render",
    "test_settings.py": "cli",
    "test_verify_etherscan.py::test_verify_command_checks_locally_writes_files_and_submits": "chain cli",
    "test_verify_etherscan.py::test_verify_refuses_code_that_is_not_the_sources": "chain",
    "test_gallery_status.py::test_page_follows_publish_and_mint": "chain",
}

_started: list[str] = []
_popen_init = subprocess.Popen.__init__


def _what_it_starts(args) -> str | None:
    parts = [str(a) for a in (args if isinstance(args, (list, tuple)) else [args])]
    text = " ".join(parts)
    if "anvil" in text:
        return "chain"
    if "chromium" in text or "chrome" in text:
        return "browser"
    if "collection.cli" in text or any(p.endswith("roboz-collection") for p in parts):
        return "cli"
    if "ray" in parts[1:2] or text.startswith("ray ") or "ray start" in text:
        return "ray"
    return None


def _watching_init(self, args, *a, **kw):
    kind = _what_it_starts(args)
    if kind:
        _started.append(kind)
    return _popen_init(self, args, *a, **kw)


def pytest_configure(config):
    for name, why in LANE_MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {why} (slow lane)")
    subprocess.Popen.__init__ = _watching_init


def pytest_unconfigure(config):
    subprocess.Popen.__init__ = _popen_init


def _lanes_of(item) -> set[str]:
    lanes = {FIXTURE_LANES[f] for f in getattr(item, "fixturenames", ()) if f in FIXTURE_LANES}
    name = item.path.name
    for key in (name, f"{name}::{item.originalname if hasattr(item, 'originalname') else item.name}"):
        lanes |= set(LANES.get(key, "").split())
    return lanes


def pytest_collection_modifyitems(config, items):
    for item in items:
        lanes = _lanes_of(item)
        for lane in sorted(lanes):
            item.add_marker(getattr(pytest.mark, lane))
        if lanes:
            item.add_marker(pytest.mark.slow)


def _fast_lane(config) -> bool:
    return "not slow" in (config.option.markexpr or "")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    _started.clear()  # before any fixture of the test, module-scoped ones included, is set up


@pytest.fixture(autouse=True)
def _fast_lane_guard(request):
    """In the fast lane: a test that starts something heavy without its marker fails, naming it."""
    ray_before = "ray" in sys.modules and sys.modules["ray"].is_initialized()
    yield
    if not _fast_lane(request.config) or request.node.get_closest_marker("slow"):
        return
    found = set(_started)
    if not ray_before and "ray" in sys.modules and sys.modules["ray"].is_initialized():
        found.add("ray")
    if found:
        key = f"{request.node.path.name}::{request.node.originalname}"
        pytest.fail(f"this test starts {', '.join(sorted(found))} but is in the fast lane: add "
                    f"\"{key}\": \"{' '.join(sorted(found))}\" to LANES in tests/fixtures_lanes.py", pytrace=False)
