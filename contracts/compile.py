"""Compile the Solidity sources with solc-js and write the committed artifacts.

    python -m contracts.compile          # rewrite contracts/artifacts/*.json
    python -m contracts.compile --check  # exit 1 if the committed artifacts are stale

Artifacts are committed so users without node can deploy; a test recompiles and
compares. Needs `cd contracts && npm ci` (solc 0.8.30, OpenZeppelin 5, ERC721A 4).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildfiles.atomicio import dumps_json, write_text
from buildfiles.errors import UserError

CONTRACTS_DIR = Path(__file__).resolve().parent
ARTIFACTS_DIR = CONTRACTS_DIR / "artifacts"
NODE_MODULES = CONTRACTS_DIR / "node_modules"

# Source unit name -> contract names to keep from it.
SOURCES = {
    "RobozCollection.sol": ["RobozCollection"],
    "bench/OZMintLoop.sol": ["OZMintLoop"],
    "bench/HashLipsStyle.sol": ["HashLipsStyle"],
}

# OpenZeppelin 5.7 uses `mcopy`, so anything older than cancun fails to compile.
SETTINGS: dict[str, Any] = {
    "optimizer": {"enabled": True, "runs": 200},
    "evmVersion": "cancun",
    # metadata: which sources each contract was built from (and what Sourcify verifies against);
    # outputSelection is not part of the metadata, so it never changes the bytecode.
    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "metadata"]}},
}


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str          # 0x-prefixed creation code
    compiler: dict[str, Any]
    source_sha256: str


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _resolve(unit: str) -> Path:
    for root in (CONTRACTS_DIR, NODE_MODULES):
        if (root / unit).exists():
            return root / unit
    raise FileNotFoundError(unit)


def standard_input() -> dict[str, Any]:
    return {
        "language": "Solidity",
        "sources": {unit: {"content": (CONTRACTS_DIR / unit).read_text("utf-8")} for unit in SOURCES},
        "settings": SETTINGS,
    }


def run_solc(std_input: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Run solc-js on a standard-JSON input; returns (compiler version, output)."""
    node = shutil.which("node")
    if node is None:
        raise UserError("node not found: compiling needs Node.js", hint="install node 18+, then `cd contracts && npm ci`")
    if not (NODE_MODULES / "solc").exists():
        raise UserError("contracts/node_modules is missing", hint="run `cd contracts && npm ci`")
    with tempfile.TemporaryDirectory(prefix="roboz-solc-") as tmp:
        inp, out = Path(tmp) / "in.json", Path(tmp) / "out.json"
        inp.write_text(json.dumps(std_input), "utf-8")
        proc = subprocess.run(
            [node, str(CONTRACTS_DIR / "solc-compile.js"), str(inp), str(out)],
            capture_output=True, text=True,
        )
        if proc.returncode != 0:
            raise UserError(f"solc-js failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
        result = json.loads(out.read_text("utf-8"))
    errors = [e for e in result["output"].get("errors", []) if e.get("severity") == "error"]
    if errors:
        raise UserError("solidity compile errors:\n" + "\n".join(e["formattedMessage"] for e in errors))
    return result["version"], result["output"]


def build_artifacts() -> dict[str, dict[str, Any]]:
    """Compile every source; returns {contract name: artifact dict} as committed."""
    version, output = run_solc(standard_input())
    artifacts = {}
    for unit, names in SOURCES.items():
        for name in names:
            c = output["contracts"][unit][name]
            # Every source this contract was built from, imports included, pinned by hash: a changed
            # node_modules version shows up as a stale artifact.
            sources = {u: _sha256(_resolve(u).read_text("utf-8")) for u in sorted(json.loads(c["metadata"])["sources"])}
            artifacts[name] = {
                "contractName": name,
                "sourceName": unit,
                "abi": c["abi"],
                "bytecode": "0x" + c["evm"]["bytecode"]["object"],
                "deployedBytecode": "0x" + c["evm"]["deployedBytecode"]["object"],
                "compiler": {"name": "solc-js", "version": version, "settings": SETTINGS},
                "source_sha256": sources[unit],
                "sources": sources,
            }
    return artifacts


def artifact_path(name: str) -> Path:
    return ARTIFACTS_DIR / f"{name}.json"


def write_artifacts(artifacts: dict[str, dict[str, Any]]) -> list[Path]:
    return [write_text(artifact_path(name), dumps_json(a)) for name, a in artifacts.items()]


def stale_artifacts(artifacts: dict[str, dict[str, Any]]) -> list[str]:
    """Names whose committed artifact differs from a fresh compile."""
    stale = []
    for name, a in artifacts.items():
        p = artifact_path(name)
        if not p.exists() or p.read_text("utf-8") != dumps_json(a):
            stale.append(name)
    return stale


def load_artifact(name: str = "RobozCollection") -> Artifact:
    p = artifact_path(name)
    if not p.exists():
        raise UserError(f"{p} is missing", hint="run `python -m contracts.compile` (needs `cd contracts && npm ci`)")
    raw = json.loads(p.read_text("utf-8"))
    return Artifact(name=name, abi=raw["abi"], bytecode=raw["bytecode"], compiler=raw["compiler"],
                    source_sha256=raw["source_sha256"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m contracts.compile", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="fail if committed artifacts are stale")
    args = ap.parse_args(argv)
    artifacts = build_artifacts()
    if args.check:
        stale = stale_artifacts(artifacts)
        if stale:
            print(f"stale artifacts: {', '.join(stale)}; run `python -m contracts.compile`", file=sys.stderr)
            return 1
        print("artifacts up to date")
        return 0
    for p in write_artifacts(artifacts):
        print(f"wrote {p.relative_to(CONTRACTS_DIR.parent)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except UserError as e:
        print("error: " + "\n".join(e.lines()), file=sys.stderr)
        sys.exit(1)
