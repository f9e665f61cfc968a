"""Does the deployed contract come from the committed sources? The local half of source verification.

    standard_json_input()        the solc standard-JSON input of RobozCollection: its source and every
                                 import as content, with the artifact's exact compiler settings
                                 (what Etherscan's verifysourcecode takes as `sourceCode`)
    check_deployed(w3, address)  recompile that input, compare with eth_getCode; [] when it matches
    write_sourcify_files(dir)    standard-input.json, the compiler's metadata.json and sources/<unit>

How the comparison is made, and why:
- Immutables (maxSupply, the first token id) are written into the runtime code by the constructor;
  the compiler leaves zeros there and lists the offsets (`immutableReferences`). Those bytes are taken
  from the deployed code before comparing, as Etherscan and Sourcify do: they are constructor
  arguments, checked elsewhere (contracts/verify.py reads maxSupply and startTokenId back).
- The CBOR tail (the IPFS hash of metadata.json plus the solc version) is compared too, exactly:
  recompiling the same source text with the same settings gives the same hash, so a mismatch there
  means the sources differ in comments or whitespace. Etherscan would call that a partial match and
  Sourcify a "match" instead of an "exact_match"; it is reported as its own problem so the artist
  can tell "same code, different source text" from "different code".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from buildfiles.atomicio import dumps_json, write_text
from contracts.compile import ARTIFACTS_DIR, _resolve, _sha256, run_solc

CONTRACT = "RobozCollection"
UNIT = "RobozCollection.sol"


def _artifact() -> dict[str, Any]:
    return json.loads((ARTIFACTS_DIR / f"{CONTRACT}.json").read_text("utf-8"))


def compiler_version() -> str:
    """The solc version the committed artifact was built with, as metadata.json and explorers write it
    ('0.8.30+commit.73712a01'; solc-js itself adds the platform, '.Emscripten.clang')."""
    version = _artifact()["compiler"]["version"]
    base, _, commit = version.partition("+commit.")
    return f"{base}+commit.{commit[:8]}" if commit else version


def standard_json_input() -> dict[str, Any]:
    """RobozCollection.sol and every source it imports, as content, with the artifact's settings.

    Only this contract's sources: the bench contracts compiled beside it in contracts/compile.py do
    not change its bytecode (its metadata names only its own sources), and an explorer needs no more."""
    art = _artifact()
    settings = json.loads(json.dumps(art["compiler"]["settings"]))
    return {
        "language": "Solidity",
        "sources": {unit: {"content": _resolve(unit).read_text("utf-8")} for unit in sorted(art["sources"])},
        "settings": settings,
    }


_COMPILED: dict[str, tuple[str, dict[str, Any]]] = {}


def _compile(std_input: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """solc-js on the input (a few seconds); the same input text is compiled once per process."""
    key = _sha256(json.dumps(std_input, sort_keys=True))
    if key not in _COMPILED:
        _COMPILED[key] = _run(std_input)
    return _COMPILED[key]


def _run(std_input: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    inp = json.loads(json.dumps(std_input))
    # What this check needs on top of the artifact's selection; outputSelection is not part of the
    # metadata, so asking for more never changes the bytecode.
    inp["settings"]["outputSelection"] = {UNIT: {CONTRACT: [
        "abi", "metadata", "evm.bytecode.object", "evm.deployedBytecode.object",
        "evm.deployedBytecode.immutableReferences"]}}
    version, out = run_solc(inp)
    return version, out["contracts"][UNIT][CONTRACT]


def _cbor_split(code: bytes) -> tuple[bytes, bytes]:
    """(code without the metadata tail, the tail): solc ends runtime code with CBOR + its 2-byte length."""
    if len(code) < 2:
        return code, b""
    n = int.from_bytes(code[-2:], "big") + 2
    if n > len(code):
        return code, b""
    return code[:-n], code[-n:]


def _mask(code: bytes, refs: dict[str, list[dict[str, int]]]) -> bytes:
    b = bytearray(code)
    for places in refs.values():
        for p in places:
            b[p["start"]:p["start"] + p["length"]] = bytes(p["length"])
    return bytes(b)


def _source_problems(art: dict[str, Any]) -> list[str]:
    """Sources on disk (contracts/, node_modules) that are not the ones the artifact was built from."""
    problems = []
    for unit, digest in sorted(art["sources"].items()):
        try:
            now = _sha256(_resolve(unit).read_text("utf-8"))
        except FileNotFoundError:
            problems.append(f"source {unit} is missing (run `cd contracts && npm ci`)")
            continue
        if now != digest:
            problems.append(f"source {unit} differs from the one the committed artifact was built from")
    return problems


def check_deployed(w3, address: str) -> list[str]:
    """Problems, one line each; [] when recompiling the committed sources gives the deployed runtime code."""
    art = _artifact()
    problems = _source_problems(art)
    version, c = _compile(standard_json_input())
    if version != art["compiler"]["version"]:
        problems.append(f"solc-js here is {version}, the artifact was built with {art['compiler']['version']}: "
                        "run `cd contracts && npm ci`")
    compiled = bytes.fromhex(c["evm"]["deployedBytecode"]["object"])
    if "0x" + compiled.hex() != art["deployedBytecode"]:
        problems.append(f"contracts/artifacts/{CONTRACT}.json is stale: run `python -m contracts.compile`")
    deployed = bytes(w3.eth.get_code(w3.to_checksum_address(address)))
    if not deployed:
        return problems + [f"no contract code at {address}"]
    if len(deployed) != len(compiled):
        return problems + [f"runtime code at {address} is {len(deployed):,} bytes, the sources compile to "
                           f"{len(compiled):,}: a different contract"]
    refs = c["evm"]["deployedBytecode"].get("immutableReferences", {})
    for places in refs.values():
        values = {deployed[p["start"]:p["start"] + p["length"]] for p in places}
        if len(values) > 1:
            problems.append("an immutable holds different values at its places in the deployed code")
    got, want = _mask(deployed, refs), _mask(compiled, refs)
    if got == want:
        return problems
    (got_code, got_tail), (want_code, want_tail) = _cbor_split(got), _cbor_split(want)
    if got_code == want_code:
        problems.append("runtime code matches but its metadata hash does not: the deployed contract was built "
                        "from the same code with different source text (comments, whitespace or file names)")
    else:
        first = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b)
        problems.append(f"runtime code at {address} differs from the compiled sources (first at byte {first:,})")
    return problems


def write_sourcify_files(out_dir: Path) -> list[Path]:
    """standard-input.json, metadata.json (the compiler's own text: its hash is in the bytecode) and
    sources/<unit name> for every source, the layout Sourcify and its repository use."""
    out_dir = Path(out_dir)
    std = standard_json_input()
    _, c = _compile(std)
    written = [write_text(out_dir / "standard-input.json", dumps_json(std)),
               write_text(out_dir / "metadata.json", c["metadata"])]
    for unit, src in std["sources"].items():
        written.append(write_text(out_dir / "sources" / unit, src["content"]))
    return written
