"""The committed artifacts are what solc-js 0.8.30 makes of today's sources."""

import json

from contracts.compile import ARTIFACTS_DIR, SETTINGS, build_artifacts, stale_artifacts


def test_committed_artifacts_match_a_fresh_compile():
    artifacts = build_artifacts()
    assert set(artifacts) == {"RobozCollection", "OZMintLoop", "HashLipsStyle"}
    assert stale_artifacts(artifacts) == [], "run `python -m contracts.compile` and commit contracts/artifacts/"


def test_artifact_records_compiler_settings_and_sources():
    a = json.loads((ARTIFACTS_DIR / "RobozCollection.json").read_text())
    assert a["compiler"]["version"].startswith("0.8.30+")
    assert a["compiler"]["settings"]["optimizer"] == {"enabled": True, "runs": 200}
    assert a["compiler"]["settings"]["evmVersion"] == "cancun" == SETTINGS["evmVersion"]
    assert "erc721a/contracts/ERC721A.sol" in a["sources"]
    assert "@openzeppelin/contracts/token/common/ERC2981.sol" in a["sources"]
    assert len(a["source_sha256"]) == 64
    names = {x.get("name") for x in a["abi"]}
    for fn in ("mintBatch", "tokenURI", "contractURI", "setProvenanceHash", "royaltyInfo", "withdraw",
               "mint", "setSale", "reveal", "setBaseURI", "ContractURIUpdated", "BatchMetadataUpdate", "MetadataUpdate"):
        assert fn in names
    # Deployable: creation code, and runtime code under the EIP-170 size limit (24,576 bytes).
    assert a["bytecode"].startswith("0x60") and len(a["deployedBytecode"]) // 2 - 1 < 24_576
