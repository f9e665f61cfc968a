"""The package as a wheel, built once per session the way `make wheel` builds it (scripts/build_wheel.py).

Imported by the tests that install it (tests/test_wheel_install.py, tests/test_colab_notebook.py).
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _build_wheel(out: Path) -> Path:
    spec = importlib.util.spec_from_file_location("build_wheel", REPO / "scripts" / "build_wheel.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.build_wheel(out)


@pytest.fixture(scope="session")
def wheel_file(tmp_path_factory) -> Path:
    return _build_wheel(tmp_path_factory.mktemp("dist"))


def run(cmd, *, cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a command; on failure, fail the test with its output (the last lines tell why)."""
    p = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        pytest.fail(f"{' '.join(map(str, cmd))} exited {p.returncode}:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p
