"""Read the deployed collection back and compare it with the build directory.

Every check reads the chain; nothing is taken from mint.json. tokenURI is checked
for every token, in JSON-RPC batches so 10,000 tokens are 50 round trips, not 10,000.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from web3.exceptions import ContractLogicError, Web3RPCError

if TYPE_CHECKING:  # what the build directory says the chain must hold
    from contracts.inputs import MintInputs

INTERFACES = {
    "ERC-721": "0x80ac58cd",
    "ERC-721 Metadata": "0x5b5e139f",
    "ERC-2981": "0x2a55205a",
    "ERC-4906": "0x49064906",
}
ROYALTY_PROBE_PRICE = 10_000  # royaltyInfo(id, 10,000) returns the royalty in basis points


@dataclass
class VerifyReport:
    checked_tokens: int = 0
    problems: list[str] = field(default_factory=list)
    sample_token_uri: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"ok": self.ok, "checked_tokens": self.checked_tokens, "problems": self.problems[:50],
                "sample_token_uri": self.sample_token_uri}


def expected_token_uri(base_uri: str, token_id: int) -> str:
    return f"{base_uri}{token_id}.json"


def _token_uris(w3, contract, ids: list[int]) -> list[str | Exception]:
    try:
        with w3.batch_requests() as batch:
            for i in ids:
                batch.add(contract.functions.tokenURI(i))
            return list(batch.execute())
    except (ContractLogicError, Web3RPCError, ValueError, TypeError):
        # One failing call spoils a batch: ask one by one to find which.
        out: list[str | Exception] = []
        for i in ids:
            try:
                out.append(contract.functions.tokenURI(i).call())
            except (ContractLogicError, Web3RPCError) as e:
                out.append(e)
        return out


def verify_collection(w3, contract, exp: "MintInputs", *, batch: int = 200) -> VerifyReport:
    rep = VerifyReport()
    f = contract.functions
    p = rep.problems

    def check(label: str, got, want) -> None:
        if got != want:
            p.append(f"{label}: chain has {got!r}, expected {want!r}")

    check("name", f.name().call(), exp.name)
    check("symbol", f.symbol().call(), exp.symbol)
    check("maxSupply", f.maxSupply().call(), exp.supply)
    check("startTokenId", f.startTokenId().call(), exp.start_id)
    check("totalSupply", f.totalSupply().call(), exp.supply)
    check("baseURI", f.baseURI().call(), exp.base_uri)
    check("contractURI", f.contractURI().call(), exp.contract_uri)
    check("provenanceHash", "0x" + bytes(f.provenanceHash().call()).hex(), "0x" + exp.provenance_hash.lower())

    receiver, amount = f.royaltyInfo(exp.start_id, ROYALTY_PROBE_PRICE).call()
    want_receiver = exp.royalty_receiver or "0x0000000000000000000000000000000000000000"
    check("royalty receiver", receiver.lower(), want_receiver.lower())
    check("royalty bps", amount, exp.royalty_bps)

    for label, iid in INTERFACES.items():
        if not f.supportsInterface(bytes.fromhex(iid[2:])).call():
            p.append(f"supportsInterface({iid}) is false: {label} not advertised")

    ids = list(range(exp.start_id, exp.start_id + exp.supply))
    for k in range(0, len(ids), batch):
        chunk = ids[k:k + batch]
        for i, got in zip(chunk, _token_uris(w3, contract, chunk)):
            want = expected_token_uri(exp.base_uri, i)
            if isinstance(got, Exception):
                p.append(f"tokenURI({i}) reverted: token missing?")
            elif got != want:
                p.append(f"tokenURI({i}) is {got!r}, expected {want!r}")
            rep.checked_tokens += 1
    if ids:
        rep.sample_token_uri = f.tokenURI(ids[0]).call() if not any("tokenURI(%d)" % ids[0] in x for x in p) else None

    # No token beyond the plan: the id after the last must not exist.
    try:
        f.ownerOf(exp.start_id + exp.supply).call()
        p.append(f"token {exp.start_id + exp.supply} exists beyond the plan's {exp.supply} tokens")
    except (ContractLogicError, Web3RPCError):
        pass
    return rep
