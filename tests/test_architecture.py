"""The house rules (docs/architecture.md), declared as import-linter contracts in pyproject.toml
and checked here by running `lint-imports` on the repository:

    collection  the orchestrator: may import every room
    preview, generator, metadata, contracts   the rooms (preview: pages, reads build files only)
    buildfiles  the ground floor: imports no room
    generator   imports nothing of metadata, contracts, preview, collection
    metadata, contracts   import no torch, nothing of generator, preview, collection
    no import cycles between the parts of any package (acyclic_siblings)

grimp, under import-linter, reads every import statement of a file, those inside functions
included, so a lazy import counts as much as one at the top.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([str(LINT), "--no-cache", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_import_contracts_of_pyproject_are_kept():
    p = lint(REPO)
    assert p.returncode == 0, p.stdout + p.stderr
    # every contract ran: the rules are not silently reduced to nothing
    assert p.stdout.count(" KEPT") >= 6, p.stdout


def test_the_linter_fails_a_lazy_import_that_breaks_a_rule_and_a_cycle(tmp_path):
    """The checker itself can fail: an import inside a function breaks a forbidden contract, and
    two modules importing each other break acyclic_siblings."""
    (tmp_path / "room").mkdir()
    (tmp_path / "room" / "__init__.py").write_text("")
    (tmp_path / "room" / "a.py").write_text("def f():\n    from room import b\n    import boss\n")
    (tmp_path / "room" / "b.py").write_text("from room import a\n")
    (tmp_path / "boss").mkdir()
    (tmp_path / "boss" / "__init__.py").write_text("")
    (tmp_path / ".importlinter").write_text(
        "[importlinter]\nroot_packages =\n    room\n    boss\n\n"
        "[importlinter:contract:rooms]\nname = room never imports boss\ntype = forbidden\n"
        "source_modules =\n    room\nforbidden_modules =\n    boss\n\n"
        "[importlinter:contract:cycles]\nname = no cycles\ntype = acyclic_siblings\nancestors =\n    room\n")
    p = lint(tmp_path, str(tmp_path / ".importlinter"))
    assert p.returncode == 1, p.stdout + p.stderr
    assert "room never imports boss BROKEN" in p.stdout and "room.a -> boss" in p.stdout
    assert "no cycles BROKEN" in p.stdout


def test_local_chain_ids_are_defined_once():
    """buildfiles/chains.py holds them; contracts and the preview import them instead of copying."""
    defs = []
    for pkg in ("buildfiles", "collection", "generator", "metadata", "contracts", "preview"):
        for p in sorted((REPO / pkg).rglob("*.py")):
            if "node_modules" in p.parts:
                continue
            for node in ast.walk(ast.parse(p.read_text("utf-8"))):
                targets = (node.targets if isinstance(node, ast.Assign)
                           else [node.target] if isinstance(node, ast.AnnAssign) else [])
                if any(isinstance(t, ast.Name) and t.id == "LOCAL_CHAIN_IDS" for t in targets):
                    defs.append(p.relative_to(REPO).as_posix())
    assert defs == ["buildfiles/chains.py"]
