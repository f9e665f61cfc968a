"""RobozCollection's behaviour on a real anvil: ids, URIs, royalties, interfaces, guards, collector mint."""

import pytest
from web3 import Web3
from web3.exceptions import ContractLogicError

from contracts.compile import load_artifact
from contracts.tx import _revert_data, decode_revert

ART = load_artifact("RobozCollection")
ZERO = "0x0000000000000000000000000000000000000000"
RECEIVER = "0x2000000000000000000000000000000000000002"


def deploy(w3, *, supply=10, start_id=1, bps=750, base="ipfs://meta/", curi="ipfs://meta/collection.json"):
    owner = w3.eth.accounts[0]
    factory = w3.eth.contract(abi=ART.abi, bytecode=ART.bytecode)
    h = factory.constructor("Rusty Roboz", "RRZ", supply, start_id, base, curi,
                            RECEIVER if bps else ZERO, bps, owner, ZERO, 0).transact({"from": owner})
    addr = w3.eth.wait_for_transaction_receipt(h).contractAddress
    return w3.eth.contract(address=addr, abi=ART.abi)


def reverts_with(call, tx: dict) -> str:
    with pytest.raises(ContractLogicError) as ei:
        call.transact(tx)
    return decode_revert(ART.abi, _revert_data(ei.value))


@pytest.fixture
def w3(anvil):
    return Web3(Web3.HTTPProvider(anvil.url))


@pytest.mark.parametrize("start_id", [0, 1, 1000])
def test_ids_start_at_the_plans_start_id(w3, start_id):
    c = deploy(w3, supply=5, start_id=start_id)
    owner, holder = w3.eth.accounts[0], w3.eth.accounts[1]
    w3.eth.wait_for_transaction_receipt(c.functions.mintBatch(holder, 5, start_id).transact({"from": owner}))
    assert c.functions.totalSupply().call() == 5
    assert c.functions.startTokenId().call() == start_id
    assert [c.functions.ownerOf(start_id + i).call() for i in range(5)] == [holder] * 5
    assert c.functions.tokenURI(start_id + 4).call() == f"ipfs://meta/{start_id + 4}.json"
    with pytest.raises(ContractLogicError):
        c.functions.ownerOf(start_id + 5).call()
    if start_id > 0:
        with pytest.raises(ContractLogicError):
            c.functions.ownerOf(start_id - 1).call()


def test_interfaces_royalties_and_contract_uri(w3):
    c = deploy(w3, bps=750)
    for iid in ("80ac58cd", "5b5e139f", "2a55205a", "49064906", "01ffc9a7"):
        assert c.functions.supportsInterface(bytes.fromhex(iid)).call(), iid
    assert not c.functions.supportsInterface(bytes.fromhex("12345678")).call()
    receiver, amount = c.functions.royaltyInfo(1, 1_000_000).call()
    assert (receiver, amount) == (Web3.to_checksum_address(RECEIVER), 75_000)
    assert c.functions.contractURI().call() == "ipfs://meta/collection.json"
    assert c.functions.maxSupply().call() == 10


def test_no_royalties_when_the_manifest_has_none(w3):
    c = deploy(w3, bps=0)
    assert tuple(c.functions.royaltyInfo(1, 10_000).call()) == (ZERO, 0)


def test_uri_changes_emit_erc4906_and_erc7572_events(w3):
    c = deploy(w3, supply=10, start_id=1)
    owner = w3.eth.accounts[0]
    w3.eth.wait_for_transaction_receipt(c.functions.mintBatch(owner, 4, 1).transact({"from": owner}))
    r = w3.eth.wait_for_transaction_receipt(c.functions.setBaseURI("ipfs://new/").transact({"from": owner}))
    ev = c.events.BatchMetadataUpdate().process_receipt(r)
    assert [(e.args._fromTokenId, e.args._toTokenId) for e in ev] == [(1, 4)]
    assert c.functions.tokenURI(3).call() == "ipfs://new/3.json"
    r = w3.eth.wait_for_transaction_receipt(c.functions.setContractURI("ipfs://new/c.json").transact({"from": owner}))
    assert len(c.events.ContractURIUpdated().process_receipt(r)) == 1
    assert c.functions.contractURI().call() == "ipfs://new/c.json"


def test_guards_revert_with_decodable_custom_errors(w3):
    c = deploy(w3, supply=5, start_id=1)
    owner, other = w3.eth.accounts[0], w3.eth.accounts[1]
    assert reverts_with(c.functions.mintBatch(owner, 2, 3), {"from": owner}) == "UnexpectedFirstId(expected=3, actual=1)"
    w3.eth.wait_for_transaction_receipt(c.functions.mintBatch(owner, 3, 1).transact({"from": owner}))
    # The same batch sent again (a retry after a crash) cannot mint twice.
    assert reverts_with(c.functions.mintBatch(owner, 3, 1), {"from": owner}) == "UnexpectedFirstId(expected=1, actual=4)"
    assert reverts_with(c.functions.mintBatch(owner, 3, 4), {"from": owner}) == "ExceedsMaxSupply(requested=3, remaining=2)"
    assert reverts_with(c.functions.mintBatch(other, 1, 4), {"from": other}) == f"OwnableUnauthorizedAccount(account={other})"
    with pytest.raises(ContractLogicError) as ei:
        c.functions.tokenURI(5).call()
    assert decode_revert(ART.abi, _revert_data(ei.value)) == "URIQueryForNonexistentToken()"


def test_provenance_is_settable_once(w3):
    c = deploy(w3)
    owner = w3.eth.accounts[0]
    h = bytes.fromhex("ab" * 32)
    assert reverts_with(c.functions.setProvenanceHash(b"\0" * 32), {"from": owner}) == "ZeroProvenance()"
    w3.eth.wait_for_transaction_receipt(c.functions.setProvenanceHash(h).transact({"from": owner}))
    assert bytes(c.functions.provenanceHash().call()) == h
    msg = reverts_with(c.functions.setProvenanceHash(bytes.fromhex("cd" * 32)), {"from": owner})
    assert msg == "ProvenanceAlreadySet(current=0x" + "ab" * 32 + ")"


def test_collector_mint_is_closed_until_a_sale_is_set_and_airdrops_do_not_count(w3):
    c = deploy(w3, supply=10, start_id=1)
    owner, buyer, payee = w3.eth.accounts[0], w3.eth.accounts[1], w3.eth.accounts[2]
    assert c.functions.currentPhase().call() == [False, 0]
    assert reverts_with(c.functions.mint(1, 0, []), {"from": buyer}) == "SaleNotOpen()"
    price = Web3.to_wei(0.01, "ether")
    w3.eth.wait_for_transaction_receipt(c.functions.setProvenanceHash(bytes.fromhex("ab" * 32)).transact({"from": owner}))
    w3.eth.wait_for_transaction_receipt(c.functions.setSale([(0, price, 2, 0, b"\0" * 32)], payee, False, "").transact({"from": owner}))
    assert reverts_with(c.functions.mint(1, 0, []), {"from": buyer, "value": 1}) == f"WrongPayment(expected={price}, sent=1)"
    # Owner airdrops do not count against a wallet's allowance in a phase.
    w3.eth.wait_for_transaction_receipt(c.functions.mintBatch(buyer, 1, 1).transact({"from": owner}))
    w3.eth.wait_for_transaction_receipt(c.functions.mint(2, 0, []).transact({"from": buyer, "value": 2 * price}))
    assert c.functions.balanceOf(buyer).call() == 3
    assert c.functions.mintedInPhase(buyer, 0).call() == 2
    assert reverts_with(c.functions.mint(1, 0, []), {"from": buyer, "value": price}) == \
        "WalletLimitExceeded(limit=2, alreadyMinted=2, requested=1)"
    # Withdraw: anyone may call it, the whole balance goes to the payout address only.
    before = w3.eth.get_balance(payee)
    w3.eth.wait_for_transaction_receipt(c.functions.withdraw().transact({"from": buyer}))
    assert w3.eth.get_balance(payee) - before == 2 * price
    assert w3.eth.get_balance(c.address) == 0


CONSECUTIVE = bytes(Web3.keccak(text="ConsecutiveTransfer(uint256,uint256,address,address)"))
TRANSFER = bytes(Web3.keccak(text="Transfer(address,address,uint256)"))


def deploy_minting_all(w3, *, supply, start_id, chunk, to):
    owner = w3.eth.accounts[0]
    factory = w3.eth.contract(abi=ART.abi, bytecode=ART.bytecode)
    h = factory.constructor("Rusty Roboz", "RRZ", supply, start_id, "ipfs://meta/", "ipfs://meta/collection.json",
                            ZERO, 0, owner, to, chunk).transact({"from": owner})
    r = w3.eth.wait_for_transaction_receipt(h)
    return w3.eth.contract(address=r.contractAddress, abi=ART.abi), r


@pytest.mark.parametrize("supply, start_id, chunk", [(7, 1, 3), (12, 0, 5000), (5000, 10, 5000)])
def test_mint_at_deploy_emits_erc2309_consecutive_transfers_in_chunks(w3, supply, start_id, chunk):
    holder = w3.eth.accounts[4]
    c, r = deploy_minting_all(w3, supply=supply, start_id=start_id, chunk=chunk, to=holder)
    events = [log for log in r["logs"] if bytes(log["topics"][0]) == CONSECUTIVE]
    ranges = [(int.from_bytes(bytes(e["topics"][1]), "big"), int.from_bytes(e["data"][:32], "big")) for e in events]
    want, first = [], start_id
    while first < start_id + supply:
        last = min(first + chunk, start_id + supply) - 1
        want.append((first, last))
        first = last + 1
    assert ranges == want            # ERC-2309: (fromTokenId, toTokenId) per chunk, no per-token Transfer
    assert not [log for log in r["logs"] if bytes(log["topics"][0]) == TRANSFER]
    assert c.functions.totalSupply().call() == supply == c.functions.balanceOf(holder).call()
    assert c.functions.ownerOf(start_id + supply - 1).call() == holder
    assert c.functions.nextTokenId().call() == start_id + supply
    # Nothing is left to mint: the owner's batch mint finds the supply used up.
    owner = w3.eth.accounts[0]
    assert reverts_with(c.functions.mintBatch(owner, 1, start_id + supply), {"from": owner}) == \
        "ExceedsMaxSupply(requested=1, remaining=0)"
    # Ownership resolves for the last id of a chunk, and its first transfer works.
    w3.eth.wait_for_transaction_receipt(c.functions.transferFrom(holder, owner, start_id + min(chunk, supply) - 1).transact({"from": holder}))
    assert c.functions.ownerOf(start_id + min(chunk, supply) - 1).call() == owner


@pytest.mark.parametrize("chunk", [0, 5001])
def test_mint_at_deploy_chunk_outside_erc721a_limit_reverts(w3, chunk):
    factory = w3.eth.contract(abi=ART.abi, bytecode=ART.bytecode)
    owner = w3.eth.accounts[0]
    with pytest.raises(ContractLogicError) as ei:
        factory.constructor("R", "R", 10, 1, "ipfs://m/", "ipfs://m/c.json", ZERO, 0, owner, owner, chunk).transact(
            {"from": owner})
    assert decode_revert(ART.abi, _revert_data(ei.value)) == f"BadMintChunk(chunk={chunk}, limit=5000)"
