"""Build the wheel from a clean copy of the sources: `python scripts/build_wheel.py OUT_DIR` (make wheel).

setuptools builds in ./build/lib and keeps what it copied there before, so a module that moved
would live on in the next wheel; a fresh copy of exactly the files the wheel draws from avoids
that and leaves the checkout untouched. The build runs without isolation, with the venv's pinned
setuptools (constraints.txt): offline and the same every time. Prints the wheel's path.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("buildfiles", "collection", "generator", "metadata", "contracts", "preview")
FILES = ("pyproject.toml", "README.md", "LICENSE")
IGNORE = shutil.ignore_patterns("node_modules", "__pycache__", "*.pyc", ".*")


def build_wheel(out_dir: Path) -> Path:
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="roboz-wheel-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in FILES:
            shutil.copy2(REPO / name, src / name)
        for pkg in PACKAGES:
            shutil.copytree(REPO / pkg, src / pkg, ignore=IGNORE)
        before = set(out_dir.glob("*.whl"))
        p = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out_dir), str(src)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            sys.stderr.write(p.stdout[-4000:] + p.stderr[-4000:])
            raise SystemExit(f"python -m build failed (exit {p.returncode})")
    new = sorted(set(out_dir.glob("*.whl")) - before) or sorted(out_dir.glob("roboz_collection-*.whl"))
    return new[-1]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python scripts/build_wheel.py OUT_DIR")
    print(build_wheel(Path(sys.argv[1])))
