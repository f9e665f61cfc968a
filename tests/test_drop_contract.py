"""RobozCollection in sale mode on a real anvil: every custom error of the sale, and its invariants
(supply, per-wallet limits per phase, balance = paid - withdrawn, phases, allowlist, payout, pause,
fair reveal: placeholder, offset drawn once from the committed block's hash, missed window, mapping)."""

from __future__ import annotations

import json

import pytest
from web3 import Web3
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from contracts.compile import ARTIFACTS_DIR, load_artifact, run_solc
from contracts.merkle import StandardMerkleTree
from contracts.sale import (ERRORS_JSON, PhaseConfig, error_sentences, explain_revert, read_sale_state, revealed_token_id,
                            set_sale_call)
from contracts.tx import _revert_data, decode_revert

from .fixtures_chain import ZERO_ROOT, chain_now, deploy_collection, mine_at, mine_blocks

ART = load_artifact("RobozCollection")
PRICE = Web3.to_wei("0.01", "ether")
PUBLIC_PRICE = Web3.to_wei("0.02", "ether")
PLACEHOLDER = "ipfs://bafyplaceholder/placeholder.json"

# Payout contracts: one refuses ETH; one re-enters withdraw() and mint() when paid and keeps the
# revert data, so the guard's error can be read back.
HELPERS = """
// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;
interface ICollection {
    function withdraw() external;
    function mint(uint256 quantity, uint256 allowance, bytes32[] calldata proof) external payable;
}
contract Rejecting {}
contract Reentering {
    ICollection public target;
    bytes public withdrawError;
    bytes public mintError;
    uint256 public received;
    function setTarget(address t) external { target = ICollection(t); }
    receive() external payable {
        received += msg.value;
        try target.withdraw() {} catch (bytes memory e) { withdrawError = e; }
        try target.mint(1, 0, new bytes32[](0)) {} catch (bytes memory e) { mintError = e; }
    }
}
"""


@pytest.fixture(scope="module")
def helpers():
    _, out = run_solc({"language": "Solidity", "sources": {"Helpers.sol": {"content": HELPERS}},
                       "settings": {"evmVersion": "cancun",
                                    "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}}}})
    return {k: (v["abi"], "0x" + v["evm"]["bytecode"]["object"]) for k, v in out["contracts"]["Helpers.sol"].items()}


def deploy_helper(w3, helpers, name):
    abi, code = helpers[name]
    h = w3.eth.contract(abi=abi, bytecode=code).constructor().transact({"from": w3.eth.accounts[0]})
    return w3.eth.contract(address=w3.eth.wait_for_transaction_receipt(h).contractAddress, abi=abi)


@pytest.fixture
def w3(anvil):
    return Web3(Web3.HTTPProvider(anvil.url))


def reverts(call, tx: dict) -> str:
    with pytest.raises(ContractLogicError) as ei:
        call.transact(tx)
    return decode_revert(ART.abi, _revert_data(ei.value))


def public(start, price=PUBLIC_PRICE, per_wallet=5, supply=0, name="public"):
    return PhaseConfig(name, start, price, per_wallet, supply, "0x" + "00" * 32)


def allowlist(start, tree, price=PRICE, supply=0, name="allowlist"):
    return PhaseConfig(name, start, price, 0, supply, tree.root)


def set_sale(w3, c, phases, payout=None, fair=False, placeholder=PLACEHOLDER):
    payout = payout or w3.eth.accounts[9]
    r = w3.eth.wait_for_transaction_receipt(
        set_sale_call(c, phases, payout, fair, placeholder).transact({"from": w3.eth.accounts[0]}))
    assert r.status == 1
    return r


def mint(w3, c, who, q, value, allowance=0, proof=()):
    r = w3.eth.wait_for_transaction_receipt(
        c.functions.mint(q, allowance, list(proof)).transact({"from": who, "value": value}))
    assert r.status == 1
    return r


@pytest.fixture
def drop(w3):
    """20 tokens; phase 0 allowlist (accounts 1 and 2, allowances 2 and 3) at t0+100, public at t0+200."""
    acc = w3.eth.accounts
    c = deploy_collection(w3, supply=20)
    tree = StandardMerkleTree.of([(acc[1], 2), (acc[2], 3)])
    t0 = chain_now(w3)
    set_sale(w3, c, [allowlist(t0 + 100, tree), public(t0 + 200)])
    return c, tree, t0


# ---------------------------------------------------------------- setSale

def test_set_sale_guards(w3, helpers):
    acc = w3.eth.accounts
    owner, payout = acc[0], acc[9]
    t0 = chain_now(w3)
    no_prov = deploy_collection(w3, provenance=None)
    assert reverts(set_sale_call(no_prov, [public(t0 + 100)], payout, False, ""), {"from": owner}) == "ProvenanceNotSet()"
    c = deploy_collection(w3)
    assert reverts(set_sale_call(c, [public(t0 + 100)], payout, False, ""), {"from": acc[1]}) == \
        f"OwnableUnauthorizedAccount(account={acc[1]})"
    assert reverts(c.functions.setSale([public(t0 + 100).as_tuple()], "0x" + "00" * 20, False, ""),
                   {"from": owner}) == "ZeroPayout()"
    five = [public(t0 + 100 + i) for i in range(5)]
    assert reverts(c.functions.setSale([p.as_tuple() for p in five], payout, False, ""), {"from": owner}) == \
        "TooManyPhases()"
    for starts in ((200, 100), (100, 100)):
        assert reverts(set_sale_call(c, [public(t0 + s) for s in starts], payout, False, ""), {"from": owner}) == \
            "PhasesOutOfOrder()"
    assert reverts(set_sale_call(c, [public(2**40)], payout, False, ""), {"from": owner}) == \
        f"SafeCastOverflowedUintDowncast(bits=40, value={2**40})"

    # Before the first start the sale can be replaced, phases and all; afterwards it is frozen.
    set_sale(w3, c, [public(t0 + 100), public(t0 + 200), public(t0 + 300)])
    set_sale(w3, c, [public(t0 + 150, per_wallet=7)], payout=acc[8], fair=True)
    assert c.functions.phaseCount().call() == 1
    (start, price, per_wallet, supply, root), minted = c.functions.phaseAt(0).call()
    assert (start, price, per_wallet, supply, bytes(root), minted) == (t0 + 150, PUBLIC_PRICE, 7, 0, ZERO_ROOT, 0)
    assert reverts(c.functions.phaseAt(1), {"from": owner}) == "NoSuchPhase(index=1)"
    assert c.functions.payout().call() == acc[8] and c.functions.fairReveal().call() is True
    assert c.functions.placeholderURI().call() == PLACEHOLDER
    mine_at(w3, t0 + 150)
    assert reverts(set_sale_call(c, [public(t0 + 1000)], payout, False, ""), {"from": owner}) == "SaleAlreadyStarted()"


# ---------------------------------------------------------------- mint

def test_no_mint_outside_a_phase_and_only_listed_wallets_in_the_allowlist_phase(w3, drop):
    c, tree, t0 = drop
    acc = w3.eth.accounts
    assert c.functions.currentPhase().call() == [False, 0]
    assert reverts(c.functions.mint(1, 2, tree.proof(acc[1], 2)), {"from": acc[1], "value": PRICE}) == "SaleNotOpen()"
    mine_at(w3, t0 + 100)
    assert c.functions.currentPhase().call() == [True, 0]
    # Not listed; listed but claiming a bigger allowance; someone else's proof.
    assert reverts(c.functions.mint(1, 2, tree.proof(acc[1], 2)), {"from": acc[3], "value": PRICE}) == "NotOnAllowlist()"
    assert reverts(c.functions.mint(1, 3, tree.proof(acc[1], 2)), {"from": acc[1], "value": PRICE}) == "NotOnAllowlist()"
    assert reverts(c.functions.mint(1, 0, []), {"from": acc[1], "value": PRICE}) == "NotOnAllowlist()"
    mint(w3, c, acc[1], 2, 2 * PRICE, 2, tree.proof(acc[1], 2))
    assert reverts(c.functions.mint(1, 2, tree.proof(acc[1], 2)), {"from": acc[1], "value": PRICE}) == \
        "WalletLimitExceeded(limit=2, alreadyMinted=2, requested=1)"
    assert reverts(c.functions.mint(4, 3, tree.proof(acc[2], 3)), {"from": acc[2], "value": 4 * PRICE}) == \
        "WalletLimitExceeded(limit=3, alreadyMinted=0, requested=4)"
    # Public phase: anyone, the allowlist phase's count does not use up the public limit.
    mine_at(w3, t0 + 200)
    assert c.functions.currentPhase().call() == [True, 1]
    mint(w3, c, acc[3], 1, PUBLIC_PRICE)
    mint(w3, c, acc[1], 5, 5 * PUBLIC_PRICE, 123, ["0x" + "11" * 32])   # allowance and proof ignored here
    assert [c.functions.mintedInPhase(acc[1], i).call() for i in range(4)] == [2, 5, 0, 0]
    assert c.functions.balanceOf(acc[1]).call() == 7
    assert reverts(c.functions.mintedInPhase(acc[1], 4), {"from": acc[1]}) == "NoSuchPhase(index=4)"
    # The last phase runs until sold out: far in the future it is still open.
    mine_at(w3, t0 + 10**8)
    mint(w3, c, acc[4], 1, PUBLIC_PRICE)


def test_a_wallet_listed_twice_is_held_to_the_allowance_it_shows(w3):
    acc = w3.eth.accounts
    c = deploy_collection(w3)
    tree = StandardMerkleTree.of([(acc[1], 5), (acc[1], 2), (acc[2], 1)])
    t0 = chain_now(w3)
    set_sale(w3, c, [allowlist(t0 + 10, tree)])
    mine_at(w3, t0 + 10)
    mint(w3, c, acc[1], 3, 3 * PRICE, 5, tree.proof(acc[1], 5))
    assert reverts(c.functions.mint(1, 2, tree.proof(acc[1], 2)), {"from": acc[1], "value": PRICE}) == \
        "WalletLimitExceeded(limit=2, alreadyMinted=3, requested=1)"
    mint(w3, c, acc[1], 2, 2 * PRICE, 5, tree.proof(acc[1], 5))
    assert c.functions.mintedInPhase(acc[1], 0).call() == 5


def test_proofs_against_ten_thousand_addresses_pass_openzeppelin_merkleproof(w3):
    acc = w3.eth.accounts
    fill = [Web3.to_checksum_address(f"0x{i:040x}") for i in range(1, 10_000 - 2)]
    tree = StandardMerkleTree.of([(a, 1) for a in fill] + [(acc[1], 2), (acc[2], 1)])
    c = deploy_collection(w3)
    t0 = chain_now(w3)
    set_sale(w3, c, [allowlist(t0 + 10, tree)])
    mine_at(w3, t0 + 10)
    assert len(tree.proof(acc[1], 2)) >= 13
    mint(w3, c, acc[1], 2, 2 * PRICE, 2, tree.proof(acc[1], 2))
    mint(w3, c, acc[2], 1, PRICE, 1, tree.proof(acc[2], 1))
    assert reverts(c.functions.mint(1, 1, tree.proof(fill[7], 1)), {"from": acc[3], "value": PRICE}) == \
        "NotOnAllowlist()"


def test_exact_payment_only(w3, drop):
    c, tree, t0 = drop
    acc = w3.eth.accounts
    mine_at(w3, t0 + 200)
    for sent in (0, PUBLIC_PRICE - 1, PUBLIC_PRICE + 1, 3 * PUBLIC_PRICE):
        assert reverts(c.functions.mint(2, 0, []), {"from": acc[5], "value": sent}) == \
            f"WrongPayment(expected={2 * PUBLIC_PRICE}, sent={sent})"
    assert reverts(c.functions.mint(0, 0, []), {"from": acc[5], "value": 0}) == "MintZeroQuantity()"
    assert c.functions.totalMinted().call() == 0 and w3.eth.get_balance(c.address) == 0


def test_free_phase_takes_no_payment(w3):
    c = deploy_collection(w3, supply=5)
    t0 = chain_now(w3)
    set_sale(w3, c, [public(t0 + 10, price=0, per_wallet=1)])
    mine_at(w3, t0 + 10)
    assert reverts(c.functions.mint(1, 0, []), {"from": w3.eth.accounts[1], "value": 1}) == \
        "WrongPayment(expected=0, sent=1)"
    mint(w3, c, w3.eth.accounts[1], 1, 0)


def test_phase_supply_and_max_supply_are_never_exceeded(w3):
    acc = w3.eth.accounts
    c = deploy_collection(w3, supply=10)
    c.functions.mintBatch(acc[0], 2, 1).transact({"from": acc[0]})     # the artist's reserve
    t0 = chain_now(w3)
    set_sale(w3, c, [public(t0 + 10, price=PRICE, per_wallet=5, supply=3), public(t0 + 20, per_wallet=10)])
    mine_at(w3, t0 + 10)
    mint(w3, c, acc[1], 2, 2 * PRICE)
    assert reverts(c.functions.mint(2, 0, []), {"from": acc[2], "value": 2 * PRICE}) == \
        "PhaseSoldOut(index=0, remaining=1)"
    mint(w3, c, acc[2], 1, PRICE)
    assert reverts(c.functions.mint(1, 0, []), {"from": acc[3], "value": PRICE}) == "PhaseSoldOut(index=0, remaining=0)"
    mine_at(w3, t0 + 20)
    assert reverts(c.functions.mint(6, 0, []), {"from": acc[3], "value": 6 * PUBLIC_PRICE}) == \
        "ExceedsMaxSupply(requested=6, remaining=5)"
    mint(w3, c, acc[3], 5, 5 * PUBLIC_PRICE)
    assert reverts(c.functions.mint(1, 0, []), {"from": acc[4], "value": PUBLIC_PRICE}) == \
        "ExceedsMaxSupply(requested=1, remaining=0)"
    s = read_sale_state(w3, c.address)
    assert s.total_minted == s.max_supply == 10 and s.sold_out
    assert [p.minted for p in s.phases] == [3, 5]
    assert s.balance_wei == 3 * PRICE + 5 * PUBLIC_PRICE


def test_four_phases_keep_separate_counts_in_the_aux_bits(w3):
    acc = w3.eth.accounts
    c = deploy_collection(w3, supply=100)
    t0 = chain_now(w3)
    set_sale(w3, c, [public(t0 + 10 * (i + 1), price=i, per_wallet=3 + i) for i in range(4)])
    for i in range(4):
        mine_at(w3, t0 + 10 * (i + 1))
        mint(w3, c, acc[1], 3 + i, i * (3 + i))
        assert reverts(c.functions.mint(1, 0, []), {"from": acc[1], "value": i}) == \
            f"WalletLimitExceeded(limit={3 + i}, alreadyMinted={3 + i}, requested=1)"
    assert [c.functions.mintedInPhase(acc[1], i).call() for i in range(4)] == [3, 4, 5, 6]
    # ERC721A's own counters sit beside the aux bits in the same slot and are intact.
    assert c.functions.balanceOf(acc[1]).call() == 18


def test_pause_stops_mints_only(w3, drop):
    c, tree, t0 = drop
    acc = w3.eth.accounts
    mine_at(w3, t0 + 200)
    mint(w3, c, acc[3], 1, PUBLIC_PRICE)
    assert reverts(c.functions.pause(), {"from": acc[3]}) == f"OwnableUnauthorizedAccount(account={acc[3]})"
    assert reverts(c.functions.unpause(), {"from": acc[0]}) == "ExpectedPause()"
    c.functions.pause().transact({"from": acc[0]})
    assert c.functions.paused().call() is True
    assert reverts(c.functions.mint(1, 0, []), {"from": acc[3], "value": PUBLIC_PRICE}) == "EnforcedPause()"
    assert reverts(c.functions.pause(), {"from": acc[0]}) == "EnforcedPause()"
    before = w3.eth.get_balance(acc[9])
    c.functions.withdraw().transact({"from": acc[4]})                   # proceeds still reach the payout
    assert w3.eth.get_balance(acc[9]) - before == PUBLIC_PRICE
    c.functions.unpause().transact({"from": acc[0]})
    mint(w3, c, acc[3], 1, PUBLIC_PRICE)


# ---------------------------------------------------------------- proceeds

def test_only_the_payout_receives_and_balance_is_paid_minus_withdrawn(w3, drop):
    c, tree, t0 = drop
    acc = w3.eth.accounts
    mine_at(w3, t0 + 100)
    mint(w3, c, acc[2], 3, 3 * PRICE, 3, tree.proof(acc[2], 3))
    caller_before, payout_before = w3.eth.get_balance(acc[5]), w3.eth.get_balance(acc[9])
    r = w3.eth.wait_for_transaction_receipt(c.functions.withdraw().transact({"from": acc[5]}))
    assert [(e.args.to, e.args.amount) for e in c.events.Withdrawn().process_receipt(r, errors=DISCARD)] == [(acc[9], 3 * PRICE)]
    assert w3.eth.get_balance(acc[9]) - payout_before == 3 * PRICE
    assert w3.eth.get_balance(acc[5]) == caller_before - r.gasUsed * r.effectiveGasPrice   # the caller got nothing
    mine_at(w3, t0 + 200)
    mint(w3, c, acc[3], 2, 2 * PUBLIC_PRICE)
    assert w3.eth.get_balance(c.address) == 3 * PRICE + 2 * PUBLIC_PRICE - c.functions.totalWithdrawn().call()
    # Plain ETH sent to the contract is refused: the balance only grows by mints.
    with pytest.raises(Exception):
        w3.eth.send_transaction({"from": acc[3], "to": c.address, "value": 1})
    c.functions.withdraw().transact({"from": acc[0]})
    assert c.functions.totalWithdrawn().call() == 3 * PRICE + 2 * PUBLIC_PRICE
    assert w3.eth.get_balance(c.address) == 0


def test_withdraw_without_payout_and_to_a_payout_that_refuses(w3, helpers):
    acc = w3.eth.accounts
    bare = deploy_collection(w3)
    assert reverts(bare.functions.withdraw(), {"from": acc[1]}) == "ZeroPayout()"
    rejecting = deploy_helper(w3, helpers, "Rejecting")
    c = deploy_collection(w3)
    t0 = chain_now(w3)
    set_sale(w3, c, [public(t0 + 10)], payout=rejecting.address)
    mine_at(w3, t0 + 10)
    mint(w3, c, acc[1], 1, PUBLIC_PRICE)
    assert reverts(c.functions.withdraw(), {"from": acc[1]}) == "PayoutRejected()"
    assert w3.eth.get_balance(c.address) == PUBLIC_PRICE and c.functions.totalWithdrawn().call() == 0


def test_reentrancy_from_the_payout_is_refused(w3, helpers):
    acc = w3.eth.accounts
    attacker = deploy_helper(w3, helpers, "Reentering")
    c = deploy_collection(w3)
    attacker.functions.setTarget(c.address).transact({"from": acc[0]})
    t0 = chain_now(w3)
    set_sale(w3, c, [public(t0 + 10, price=0)], payout=attacker.address)
    mine_at(w3, t0 + 10)
    c.functions.mint(1, 0, []).transact({"from": acc[1]})
    # A free mint leaves nothing to pay out, so fund the payout path with a priced sale on a second contract.
    c2 = deploy_collection(w3)
    attacker.functions.setTarget(c2.address).transact({"from": acc[0]})
    t1 = chain_now(w3)
    set_sale(w3, c2, [public(t1 + 10)], payout=attacker.address)
    mine_at(w3, t1 + 10)
    mint(w3, c2, acc[1], 1, PUBLIC_PRICE)
    c2.functions.withdraw().transact({"from": acc[1]})
    guard = "ReentrancyGuardReentrantCall()"
    assert decode_revert(ART.abi, bytes(attacker.functions.withdrawError().call())) == guard
    assert decode_revert(ART.abi, bytes(attacker.functions.mintError().call())) == guard
    assert attacker.functions.received().call() == PUBLIC_PRICE          # paid once, not twice
    assert c2.functions.totalMinted().call() == 1 and w3.eth.get_balance(c2.address) == 0


# ---------------------------------------------------------------- fair reveal

def fair_drop(w3, supply=10, start_id=1):
    acc = w3.eth.accounts
    c = deploy_collection(w3, supply=supply, start_id=start_id)
    c.functions.mintBatch(acc[0], 2, start_id).transact({"from": acc[0]})
    t0 = chain_now(w3)
    set_sale(w3, c, [public(t0 + 10, per_wallet=supply)], fair=True)
    return c, t0


@pytest.mark.parametrize("start_id", [0, 1, 7])
def test_placeholder_until_reveal_then_the_offset_mapping(w3, start_id):
    acc = w3.eth.accounts
    supply = 10
    c, t0 = fair_drop(w3, supply, start_id)
    assert c.functions.tokenURI(start_id).call() == PLACEHOLDER
    assert reverts(c.functions.commitReveal(), {"from": acc[0]}) == "SaleNotOpen()"
    mine_at(w3, t0 + 10)
    mint(w3, c, acc[1], 8, 8 * PUBLIC_PRICE)
    assert {c.functions.tokenURI(start_id + i).call() for i in range(supply)} == {PLACEHOLDER}
    assert reverts(c.functions.reveal(), {"from": acc[1]}) == "RevealNotCommitted()"
    assert reverts(c.functions.commitReveal(), {"from": acc[1]}) == f"OwnableUnauthorizedAccount(account={acc[1]})"
    r = w3.eth.wait_for_transaction_receipt(c.functions.commitReveal().transact({"from": acc[0]}))
    target = r.blockNumber + c.functions.REVEAL_DELAY().call()
    assert [e.args.blockNumber for e in c.events.RevealCommitted().process_receipt(r, errors=DISCARD)] == [target]
    assert reverts(c.functions.commitReveal(), {"from": acc[0]}) == f"RevealAlreadyCommitted(blockNumber={target})"
    # anvil runs calls and gas estimates with the latest block's number: at the target itself it is still
    # too early (its hash is not known inside it), one block later the reveal goes through.
    mine_blocks(w3, target - w3.eth.block_number)
    assert reverts(c.functions.reveal(), {"from": acc[1]}) == f"RevealTooEarly(blockNumber={target})"
    mine_blocks(w3, 1)
    r = w3.eth.wait_for_transaction_receipt(c.functions.reveal().transact({"from": acc[3]}))
    offset = int.from_bytes(bytes(w3.eth.get_block(target).hash), "big") % supply
    assert [e.args.offset for e in c.events.Revealed().process_receipt(r, errors=DISCARD)] == [offset]
    assert [(e.args._fromTokenId, e.args._toTokenId) for e in c.events.BatchMetadataUpdate().process_receipt(r, errors=DISCARD)] == \
        [(start_id, start_id + supply - 1)]
    assert c.functions.revealed().call() and c.functions.revealOffset().call() == offset
    uris = [c.functions.tokenURI(t).call() for t in range(start_id, start_id + supply)]
    assert uris == [f"ipfs://meta/{revealed_token_id(t, start_id, supply, offset)}.json"
                    for t in range(start_id, start_id + supply)]
    assert sorted(uris) == sorted(f"ipfs://meta/{t}.json" for t in range(start_id, start_id + supply))  # a permutation
    # Set once: neither a second reveal nor a new commitment can change it.
    assert reverts(c.functions.reveal(), {"from": acc[1]}) == "AlreadyRevealed()"
    assert reverts(c.functions.commitReveal(), {"from": acc[0]}) == "AlreadyRevealed()"
    mine_blocks(w3, 300)
    assert c.functions.revealOffset().call() == offset


def test_a_missed_window_commits_again(w3):
    acc = w3.eth.accounts
    c, t0 = fair_drop(w3)
    mine_at(w3, t0 + 10)
    r = w3.eth.wait_for_transaction_receipt(c.functions.commitReveal().transact({"from": acc[0]}))
    first = r.blockNumber + 5
    # Still inside blockhash's 256-block window (calls run at the latest block's number): the last chance.
    mine_blocks(w3, first + 256 - w3.eth.block_number)
    assert c.functions.reveal().call({"from": acc[1]}) == []
    mine_blocks(w3, 1)
    assert reverts(c.functions.reveal(), {"from": acc[1]}) == f"RevealWindowMissed(blockNumber={first})"
    r = w3.eth.wait_for_transaction_receipt(c.functions.commitReveal().transact({"from": acc[0]}))
    second = r.blockNumber + 5
    assert second > first and c.functions.revealBlock().call() == second
    mine_blocks(w3, 6)
    c.functions.reveal().transact({"from": acc[1]})
    assert c.functions.revealed().call()
    assert c.functions.revealOffset().call() == int.from_bytes(bytes(w3.eth.get_block(second).hash), "big") % 10


def test_without_fair_reveal_uris_are_the_ids_and_there_is_nothing_to_reveal(w3):
    acc = w3.eth.accounts
    c = deploy_collection(w3, supply=5)
    c.functions.mintBatch(acc[0], 5, 1).transact({"from": acc[0]})
    t0 = chain_now(w3)
    set_sale(w3, c, [public(t0 + 10)], fair=False)
    mine_at(w3, t0 + 10)
    assert [c.functions.tokenURI(t).call() for t in range(1, 6)] == [f"ipfs://meta/{t}.json" for t in range(1, 6)]
    assert reverts(c.functions.commitReveal(), {"from": acc[0]}) == "NoFairReveal()"


# ---------------------------------------------------------------- plain sentences

def test_every_error_in_the_abi_has_one_plain_sentence():
    names = {x["name"] for x in ART.abi if x["type"] == "error"}
    sentences = error_sentences()
    assert set(sentences) == names
    for name, s in sentences.items():
        assert s[0].isupper() and s.endswith(".") and "(" not in s and len(s) < 160, name
    assert json.loads(ERRORS_JSON.read_text("utf-8")) == sentences


def test_explain_revert_takes_exceptions_data_and_names(w3, drop):
    c, tree, t0 = drop
    with pytest.raises(ContractLogicError) as ei:
        c.functions.mint(1, 0, []).transact({"from": w3.eth.accounts[1], "value": PRICE})
    want = error_sentences()["SaleNotOpen"]
    assert explain_revert(ei.value) == want
    assert explain_revert(_revert_data(ei.value)) == want
    assert explain_revert("SaleNotOpen()") == want == explain_revert("SaleNotOpen")
    assert "not listed" in explain_revert("0xdeadbeef")


# ---------------------------------------------------------------- source check (verification, local half)

def _deploy_code(w3, abi, code, *args):
    h = w3.eth.contract(abi=abi, bytecode=code).constructor(*args).transact({"from": w3.eth.accounts[0]})
    return w3.eth.wait_for_transaction_receipt(h).contractAddress


def test_recompiled_sources_match_deployed_collections(w3):
    from contracts.source_check import check_deployed, compiler_version, standard_json_input

    std = standard_json_input()
    assert "RobozCollection.sol" in std["sources"] and "erc721a/contracts/ERC721A.sol" in std["sources"]
    assert not any(u.startswith("bench/") for u in std["sources"])
    assert std["settings"]["optimizer"] == {"enabled": True, "runs": 200} and std["settings"]["evmVersion"] == "cancun"
    assert compiler_version().startswith("0.8.30+commit.") and len(compiler_version()) == len("0.8.30+commit.") + 8
    # Different immutables (supply, first id) and a sale set up: still the same runtime code.
    for supply, start in ((20, 1), (10_000, 0)):
        c = deploy_collection(w3, supply=supply, start_id=start)
        assert check_deployed(w3, c.address) == []


def test_source_check_tells_other_code_from_other_source_text(w3):
    from contracts.source_check import _compile, check_deployed, standard_json_input

    other = load_artifact("OZMintLoop")
    addr = _deploy_code(w3, other.abi, other.bytecode, 1)
    assert check_deployed(w3, addr)[-1].startswith(f"runtime code at {addr} is ")
    assert check_deployed(w3, w3.eth.accounts[5]) == [f"no contract code at {w3.eth.accounts[5]}"]
    # The same contract with one more comment: same code, other metadata hash.
    std = standard_json_input()
    std["sources"]["RobozCollection.sol"]["content"] += "\n// a comment the deployer added\n"
    _, c = _compile(std)
    owner = w3.eth.accounts[0]
    addr = _deploy_code(w3, ART.abi, "0x" + c["evm"]["bytecode"]["object"], "R", "R", 5, 1, "ipfs://m/",
                        "ipfs://m/c.json", "0x" + "00" * 20, 0, owner, "0x" + "00" * 20, 0)
    assert [p for p in check_deployed(w3, addr) if "metadata hash does not" in p]
    # A change in the code itself.
    std["sources"]["RobozCollection.sol"]["content"] = std["sources"]["RobozCollection.sol"]["content"].replace(
        "uint256 public constant REVEAL_DELAY = 5;", "uint256 public constant REVEAL_DELAY = 6;")
    _, c = _compile(std)
    addr = _deploy_code(w3, ART.abi, "0x" + c["evm"]["bytecode"]["object"], "R", "R", 5, 1, "ipfs://m/",
                        "ipfs://m/c.json", "0x" + "00" * 20, 0, owner, "0x" + "00" * 20, 0)
    assert [p for p in check_deployed(w3, addr) if "differs from the compiled sources" in p]


def test_sourcify_files_are_what_the_bytecode_commits_to(w3, tmp_path):
    import hashlib

    from eth_utils import keccak

    from contracts.source_check import compiler_version, write_sourcify_files
    from metadata.unixfs import pb_node, unixfs_data

    paths = write_sourcify_files(tmp_path / "verify")
    meta_text = (tmp_path / "verify" / "metadata.json").read_text("utf-8")
    meta = json.loads(meta_text)
    assert meta["settings"]["compilationTarget"] == {"RobozCollection.sol": "RobozCollection"}
    assert meta["compiler"]["version"] == compiler_version()
    for unit, entry in meta["sources"].items():
        content = (tmp_path / "verify" / "sources" / unit).read_bytes()
        assert "0x" + keccak(content).hex() == entry["keccak256"], unit
    std = json.loads((tmp_path / "verify" / "standard-input.json").read_text("utf-8"))
    assert set(std["sources"]) == set(meta["sources"])
    assert len(paths) == 2 + len(meta["sources"])
    # The CBOR tail of the committed runtime code holds the IPFS hash (CIDv0: a one-block UnixFS file)
    # of exactly this metadata.json.
    node = pb_node(unixfs_data(2, data=meta_text.encode(), filesize=len(meta_text.encode())), [])
    multihash = b"\x12\x20" + hashlib.sha256(node).digest()
    runtime = bytes.fromhex(json.loads((ARTIFACTS_DIR / "RobozCollection.json").read_text())["deployedBytecode"][2:])
    assert b"ipfs" + b"\x58\x22" + multihash in runtime[-(int.from_bytes(runtime[-2:], "big") + 2):]
