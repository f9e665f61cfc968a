"""Red team, issue 25: `mint` on a non-local chain (anvil started with Sepolia's chain id and a
freshly funded key) fed typos, wrong keys, lost or foreign receipts and no terminal. Each case
checks what matters: what was refused, and that nothing was sent (the sender's nonce) or
that exactly one contract holds exactly one copy of the collection."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
from eth_account import Account
from web3 import Web3

from buildfiles.errors import UserError
from contracts.addresses import ZERO
from contracts.chain import rpc_call, start_anvil
from contracts.compile import load_artifact
from contracts.guards import CODE_SIZE_LIMIT, MintRefused, Overrides, Refusals, check_code_size
from contracts.keys import KEY_ENV, PASSWORD_ENV
from contracts.mint import mint_build, runtime_code
from contracts.network import SEPOLIA_RPC_ENV
from contracts.recover import create_address, scan_sender
from tests.fixtures_chain import make_build_dir, read_json

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEPOLIA = 11155111
TRANSFER = "0x" + Web3.keccak(text="Transfer(address,address,uint256)").hex().removeprefix("0x")
ZERO_TOPIC = "0x" + "00" * 32


@pytest.fixture(autouse=True)
def no_key_env(monkeypatch):
    for k in (KEY_ENV, PASSWORD_ENV, SEPOLIA_RPC_ENV):
        monkeypatch.delenv(k, raising=False)


@pytest.fixture
def chain():
    """anvil posing as Sepolia: none of mint's local-chain allowances apply."""
    node = start_anvil(extra=("--chain-id", str(SEPOLIA)))
    yield node
    node.stop()


def fund(url: str, eth: int = 10) -> Account:
    acct = Account.create()
    rpc_call(url, "anvil_setBalance", [acct.address, hex(eth * 10**18)])
    return acct


@pytest.fixture
def key(monkeypatch, chain):
    acct = fund(chain.url)
    monkeypatch.setenv(KEY_ENV, "0x" + bytes(acct.key).hex())
    return acct


def use_key(monkeypatch, acct) -> None:
    monkeypatch.setenv(KEY_ENV, "0x" + bytes(acct.key).hex())


def nonce(url: str, address: str) -> int:
    return int(rpc_call(url, "eth_getTransactionCount", [address, "latest"]), 16)


def minted_ids(url: str, address: str) -> list[int]:
    w3 = Web3(Web3.HTTPProvider(url))
    logs = w3.eth.get_logs({"address": address, "fromBlock": 0, "toBlock": "latest", "topics": [TRANSFER, ZERO_TOPIC]})
    return sorted(int.from_bytes(bytes(log["topics"][3]), "big") for log in logs)


def owner_of(url: str, contract: str, token_id: int) -> str:
    w3 = Web3(Web3.HTTPProvider(url))
    abi = [{"type": "function", "name": "ownerOf", "stateMutability": "view",
            "inputs": [{"name": "id", "type": "uint256"}], "outputs": [{"name": "", "type": "address"}]}]
    return w3.eth.contract(address=contract, abi=abi).functions.ownerOf(token_id).call()


def public_build(tmp_path, name="b", **kw):
    return make_build_dir(tmp_path / name, provider="kubo", **kw)   # pinned, real renders: the guards pass


def cli(args, key_hex: str | None, **kw):
    env = {k: v for k, v in os.environ.items() if k not in (KEY_ENV, PASSWORD_ENV, SEPOLIA_RPC_ENV)}
    if key_hex:
        env[KEY_ENV] = key_hex
    return subprocess.run([sys.executable, "-m", "collection.cli", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=180, **kw)


def typo(address: str) -> str:
    """One hex digit changed, the case pattern kept: what a person mistypes."""
    i = next(i for i in range(2, 42) if address[i].isdigit())
    return address[:i] + str((int(address[i]) + 1) % 10) + address[i + 1:]


def flip_case(address: str) -> str:
    i = next(i for i in range(2, 42) if address[i].isalpha())
    return address[:i] + address[i].swapcase() + address[i + 1:]


# ---------------------------------------------------------------- addresses (EIP-55)

@pytest.mark.parametrize("variant", ["typo", "case"])
def test_to_with_a_broken_checksum_is_refused_and_nothing_is_sent(tmp_path, chain, key, variant):
    build = public_build(tmp_path, supply=2)
    wallet = Account.create().address
    bad = typo(wallet) if variant == "typo" else flip_case(wallet)
    assert Web3.is_address(bad)   # web3 alone would take it
    with pytest.raises(UserError, match=f"--to {bad} fails its EIP-55 checksum"):
        mint_build(build, rpc_url=chain.url, to=bad)
    assert nonce(chain.url, key.address) == 0 and not (build / "mint.json").exists()


def test_all_lower_case_to_needs_the_flag_and_then_gets_the_tokens(tmp_path, chain, key):
    build = public_build(tmp_path, supply=2)
    wallet = Account.create().address
    with pytest.raises(UserError, match="is all lower case: it has no EIP-55 checksum") as e:
        mint_build(build, rpc_url=chain.url, to=wallet.lower())
    assert "--allow-unchecksummed" in e.value.hint and nonce(chain.url, key.address) == 0
    rep = mint_build(build, rpc_url=chain.url, to=wallet.lower(), allow_unchecksummed=True)
    assert rep.verified and rep.to == wallet and owner_of(chain.url, rep.contract_address, 2) == wallet


def test_all_upper_case_to_is_refused_without_the_flag(tmp_path, chain, key):
    build = public_build(tmp_path, supply=1)
    wallet = Account.create().address
    with pytest.raises(UserError, match="is all upper case"):
        mint_build(build, rpc_url=chain.url, to="0x" + wallet[2:].upper())
    assert nonce(chain.url, key.address) == 0


def test_zero_address_is_refused_before_the_deploy(tmp_path, chain, key):
    build = public_build(tmp_path, supply=2)
    with pytest.raises(UserError, match="--to is the zero address"):
        mint_build(build, rpc_url=chain.url, to=ZERO)
    assert nonce(chain.url, key.address) == 0   # no gas spent on a deploy that would then revert


def test_royalty_receiver_without_checksum_in_the_plan_is_named(tmp_path, chain, key):
    build = public_build(tmp_path, supply=1)
    plan = read_json(build / "plan.json")
    plan["collection"]["royalties"]["receiver"] = Account.create().address.lower()
    (build / "plan.json").write_text(json.dumps(plan))
    with pytest.raises(UserError, match=r"collection.royalties.receiver \(manifest, in plan.json\) 0x[0-9a-f]{40} is all "
                                        "lower case"):
        mint_build(build, rpc_url=chain.url)
    assert nonce(chain.url, key.address) == 0


def test_to_a_contract_without_onERC721Received_is_refused(tmp_path, chain, key):
    build = public_build(tmp_path, supply=2)
    vault = Web3.to_checksum_address("0x" + "5a" * 20)
    rpc_call(chain.url, "anvil_setCode", [vault, "0x00"])   # code that accepts nothing (STOP)
    with pytest.raises(UserError, match=f"the recipient {vault} is a contract that does not accept ERC-721 tokens"):
        mint_build(build, rpc_url=chain.url, to=vault)
    assert nonce(chain.url, key.address) == 0


def test_to_a_contract_that_is_an_erc721_receiver_is_taken(tmp_path, chain, key):
    build = public_build(tmp_path, supply=2)
    receiver = Web3.to_checksum_address("0x" + "5b" * 20)
    # returns onERC721Received.selector for any call: PUSH4 sel PUSH1 224 SHL PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN
    rpc_call(chain.url, "anvil_setCode", [receiver, "0x63150b7a0260e01b60005260206000f3"])
    rep = mint_build(build, rpc_url=chain.url, to=receiver)
    assert rep.verified and owner_of(chain.url, rep.contract_address, 1) == receiver


# ---------------------------------------------------------------- every refusal at once, before anything

def test_three_problems_are_reported_in_one_run(tmp_path, chain):
    build = make_build_dir(tmp_path / "b", supply=3, tiny=True, provider="car")   # test renders, unpinned
    poor = Account.create()                                                        # and 0 ETH
    p = cli(["mint", str(build), "--rpc-url", chain.url, "--yes"], "0x" + bytes(poor.key).hex())
    assert p.returncode == 2 and "Traceback" not in p.stderr, p.stderr
    err = p.stderr
    assert err.splitlines()[0] == "error: 3 problems; nothing was sent"
    assert "1. 3 of 3 tokens are test or demo renders" in err
    assert "2. publish.json shows only car" in err
    assert "3. insufficient funds:" in err and "has 0 ETH on chain 11155111, this run needs up to" in err
    assert err.count("fix: ") == 3 and "--allow-test-renders" in err and "--allow-unpinned" in err
    assert not (build / "mint.json").exists()


def test_refusals_come_with_every_problem_of_the_api(tmp_path, chain, monkeypatch):
    build = make_build_dir(tmp_path / "b", supply=2, provider="car")
    use_key(monkeypatch, fund(chain.url))
    with pytest.raises(MintRefused) as e:
        mint_build(build, rpc_url=chain.url, to=ZERO)
    msgs = [m for m, _ in e.value.problems]
    assert any("zero address" in m for m in msgs) and any("no IPFS provider" in m for m in msgs)


def test_code_size_over_eip170_is_refused_before_the_deploy():
    r = Refusals()
    check_code_size("Big", "0x" + "00" * CODE_SIZE_LIMIT, "0x00", r)
    assert not r
    check_code_size("Big", "0x" + "00" * (CODE_SIZE_LIMIT + 1), "0x00", r)
    (msg, hint), = r.problems
    assert "Big's runtime code is 24,577 bytes, above the 24,576-byte limit of EIP-170" in msg and "recompile" in hint


def test_the_committed_contract_fits_eip170():
    size = len(runtime_code("RobozCollection").removeprefix("0x")) // 2
    assert 0 < size <= CODE_SIZE_LIMIT, size


# ---------------------------------------------------------------- no terminal

def test_off_a_terminal_nothing_is_sent_without_yes(tmp_path, chain):
    build = public_build(tmp_path, supply=2)
    acct = fund(chain.url)
    key_hex = "0x" + bytes(acct.key).hex()
    p = cli(["mint", str(build), "--rpc-url", chain.url], key_hex, stdin=subprocess.DEVNULL)
    assert p.returncode == 2 and "no terminal to confirm the transactions to chain 11155111" in p.stderr
    assert "pass --yes" in p.stderr and nonce(chain.url, acct.address) == 0
    p = cli(["mint", str(build), "--rpc-url", chain.url, "--yes"], key_hex, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert "verified" in p.stdout and nonce(chain.url, acct.address) == 3   # deploy, setProvenanceHash, one batch


def test_off_a_terminal_a_finished_collection_needs_no_yes(tmp_path, chain, key):
    build = public_build(tmp_path, supply=2)
    mint_build(build, rpc_url=chain.url)
    p = cli(["mint", str(build), "--rpc-url", chain.url], "0x" + bytes(key.key).hex(), stdin=subprocess.DEVNULL)
    assert p.returncode == 0 and "0 minted now" in p.stdout, p.stderr   # nothing to send, nothing to confirm


# ---------------------------------------------------------------- receipts lost, foreign or wrong

def test_lost_mint_json_resumes_the_contract_and_mints_nothing_twice(tmp_path, chain, key):
    build = public_build(tmp_path, supply=5)
    said: list[str] = []

    def stop_after_first_batch(line: str) -> None:
        said.append(line)
        if line.startswith("sent mint of ids"):
            raise KeyboardInterrupt   # killed with the first batch sent

    with pytest.raises(KeyboardInterrupt):
        mint_build(build, rpc_url=chain.url, batch_size=2, log=stop_after_first_batch)
    first = read_json(build / "mint.json")["chains"][str(SEPOLIA)]["contract_address"]
    (build / "mint.json").unlink()
    logs: list[str] = []
    rep = mint_build(build, rpc_url=chain.url, batch_size=2, log=logs.append)
    assert rep.contract_address == first and rep.verified
    assert any("found this collection's contract on chain" in line and first in line for line in logs)
    assert minted_ids(chain.url, first) == [1, 2, 3, 4, 5]            # each id once
    abi = load_artifact().abi
    assert [d.address for d in scan_sender(Web3(Web3.HTTPProvider(chain.url)), abi, key.address).deployments] == [first]
    assert nonce(chain.url, key.address) == 5   # deploy, provenance, 3 batches: no second deploy
    assert read_json(build / "mint.json")["chains"][str(SEPOLIA)]["contract_address"] == first   # rewritten


def test_lost_mint_json_after_a_finished_run_sends_nothing(tmp_path, chain, key):
    build = public_build(tmp_path, supply=3)
    rep = mint_build(build, rpc_url=chain.url)
    sent = nonce(chain.url, key.address)
    (build / "mint.json").unlink()
    again = mint_build(build, rpc_url=chain.url)
    assert again.contract_address == rep.contract_address and again.txs_sent == 0
    assert nonce(chain.url, key.address) == sent and minted_ids(chain.url, rep.contract_address) == [1, 2, 3]


def test_two_earlier_deployments_are_named_not_guessed(tmp_path, chain, key):
    build = public_build(tmp_path, supply=2)
    a = mint_build(build, rpc_url=chain.url).contract_address
    (build / "mint.json").unlink()
    b = mint_build(build, rpc_url=chain.url, new_contract=True).contract_address
    assert a != b
    (build / "mint.json").unlink()
    sent = nonce(chain.url, key.address)
    with pytest.raises(UserError, match="2 contract\\(s\\) of this collection already exist") as e:
        mint_build(build, rpc_url=chain.url)
    assert a in str(e.value) and b in str(e.value) and "--new-contract" in e.value.hint
    assert nonce(chain.url, key.address) == sent


def test_an_earlier_version_of_the_collection_is_named_before_a_second_deploy(tmp_path, chain, key):
    old = mint_build(public_build(tmp_path, "old", supply=3), rpc_url=chain.url).contract_address
    build = public_build(tmp_path, "new", supply=4)            # re-planned: another supply and provenance
    sent = nonce(chain.url, key.address)
    with pytest.raises(UserError, match="deployed 1 contract\\(s\\) like this collection") as e:
        mint_build(build, rpc_url=chain.url)
    assert old in str(e.value) and "maxSupply 3" in str(e.value) and nonce(chain.url, key.address) == sent
    rep = mint_build(build, rpc_url=chain.url, new_contract=True)
    assert rep.contract_address != old and rep.verified and minted_ids(chain.url, rep.contract_address) == [1, 2, 3, 4]


def test_a_contract_of_another_kind_at_an_old_nonce_is_ignored(tmp_path, chain, key):
    w3 = Web3(Web3.HTTPProvider(chain.url))
    # the key's first transaction creates a contract that is not a collection (runtime code: STOP)
    tx = {"data": "0x6001600c60003960016000f300", "gas": 100_000, "nonce": 0, "chainId": SEPOLIA, "value": 0,
          "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(Account.sign_transaction(tx, key.key).raw_transaction))
    assert w3.eth.get_code(create_address(key.address, 0))
    rep = mint_build(public_build(tmp_path, supply=1), rpc_url=chain.url)
    assert rep.verified and rep.contract_address == create_address(key.address, 1)


def test_a_journal_from_another_collection_is_refused(tmp_path, chain, key):
    other = make_build_dir(tmp_path / "other", supply=2, name="Other Bots", symbol="OTB", provider="kubo")
    mint_build(other, rpc_url=chain.url)
    build = public_build(tmp_path, supply=2)
    shutil.copy(other / "mint.json", build / "mint.json")
    sent = nonce(chain.url, key.address)
    with pytest.raises(UserError, match="which is 'Other Bots' \\(OTB\\), not this build's 'Rusty Roboz' \\(RRZ\\): "
                                        "mint.json belongs to another collection"):
        mint_build(build, rpc_url=chain.url)
    assert nonce(chain.url, key.address) == sent


def test_a_key_for_another_account_is_refused_before_anything(tmp_path, chain, key, monkeypatch):
    build = public_build(tmp_path, supply=2)
    rep = mint_build(build, rpc_url=chain.url)
    stranger = fund(chain.url)
    use_key(monkeypatch, stranger)
    with pytest.raises(UserError, match=f"{stranger.address} does not own the contract at {rep.contract_address}"):
        mint_build(build, rpc_url=chain.url)
    assert nonce(chain.url, stranger.address) == 0


def test_a_journal_of_a_chain_that_was_reset_or_is_another_node(tmp_path, chain, key):
    build = public_build(tmp_path, supply=2)
    mint_build(build, rpc_url=chain.url)
    other = start_anvil(extra=("--chain-id", str(SEPOLIA)))   # same chain id, not the chain mint.json saw
    try:
        rpc_call(other.url, "anvil_setBalance", [key.address, hex(10**19)])
        with pytest.raises(UserError, match="no contract at 0x[0-9a-fA-F]{40} on chain 11155111, though mint.json "
                                            "records it"):
            mint_build(build, rpc_url=other.url)
        assert nonce(other.url, key.address) == 0
    finally:
        other.stop()


def test_a_journal_entry_filed_under_another_chain_id_is_one_line(tmp_path, chain, key):
    build = public_build(tmp_path, supply=1)
    mint_build(build, rpc_url=chain.url)
    doc = read_json(build / "mint.json")
    doc["chains"]["31337"] = doc["chains"].pop(str(SEPOLIA))     # key says 31337, entry says 11155111
    (build / "mint.json").write_text(json.dumps(doc))
    sent = nonce(chain.url, key.address)
    with pytest.raises(UserError, match="the entry under chain 31337 says chain_id 11155111"):
        mint_build(build, rpc_url=chain.url)
    assert nonce(chain.url, key.address) == sent


def test_network_name_and_rpc_chain_id_disagree(tmp_path, key):
    local = start_anvil()   # chain 31337 given as --network sepolia
    try:
        with pytest.raises(UserError, match="wrong chain: .* is chain 31337, --network sepolia is chain 11155111"):
            mint_build(public_build(tmp_path, supply=1), network="sepolia", rpc_url=local.url)
    finally:
        local.stop()


def test_public_guards_overridden_still_refuse_a_bad_address(tmp_path, chain, key):
    build = make_build_dir(tmp_path / "b", supply=1, tiny=True, provider="car")
    with pytest.raises(UserError, match="fails its EIP-55 checksum"):
        mint_build(build, rpc_url=chain.url, to=typo(Account.create().address),
                   overrides=Overrides(test_renders=True, unpinned=True))
    assert nonce(chain.url, key.address) == 0


def test_lost_mint_json_with_a_deploy_still_pending_waits_instead_of_deploying_again(tmp_path, monkeypatch):
    node = start_anvil(no_mining=True, extra=("--chain-id", str(SEPOLIA)))
    try:
        acct = fund(node.url)
        use_key(monkeypatch, acct)
        w3 = Web3(Web3.HTTPProvider(node.url))
        tx = {"data": "0x6001600c60003960016000f300", "gas": 100_000, "nonce": 0, "chainId": SEPOLIA, "value": 0,
              "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}
        w3.eth.send_raw_transaction(Account.sign_transaction(tx, acct.key).raw_transaction)   # a deploy in flight
        build = public_build(tmp_path, supply=1)
        with pytest.raises(UserError, match="has 1 transaction\\(s\\) sent but not mined yet") as e:
            mint_build(build, rpc_url=node.url)
        assert "wait until they are mined" in e.value.hint
        assert len(w3.eth.get_block("pending")["transactions"]) == 1   # nothing added
    finally:
        node.stop()


def test_damaged_files_and_a_bad_address_are_reported_together(tmp_path, chain, key):
    build = public_build(tmp_path, supply=4)
    (build / "images" / "2.png").write_bytes(b"retouched")
    (build / "images" / "3.png").write_bytes(b"retouched too")
    (build / "metadata" / "4.json").write_text('{"name": "Rusty')
    with pytest.raises(MintRefused) as e:
        mint_build(build, rpc_url=chain.url, to=typo(Account.create().address))
    text = str(e.value)
    assert "3 problems; nothing was sent" in text
    assert "images/2.png, images/3.png changed since `metadata` ran (their sha256 are not the one in provenance.json)" \
        in text and "--accept-edited 2,3" in text
    assert "metadata/4.json is not valid JSON" in text and "fails its EIP-55 checksum" in text
    assert nonce(chain.url, key.address) == 0 and not (build / "mint.json").exists()


def test_a_keystore_holding_another_accounts_key_is_refused(tmp_path, chain, monkeypatch):
    from contracts.keys import write_keystore

    mine, other = fund(chain.url), Account.create()
    path = write_keystore(tmp_path / "key.json", mine, "pw")
    doc = json.loads(path.read_text())
    doc["address"] = other.address[2:].lower()     # the file names one account, its key is another's
    path.write_text(json.dumps(doc))
    monkeypatch.setenv(PASSWORD_ENV, "pw")
    with pytest.raises(UserError, match=f"says it holds the key of 0x{other.address[2:].lower()}, but its key is "
                                        f"{mine.address}'s"):
        mint_build(public_build(tmp_path, supply=1), rpc_url=chain.url, keystore=path)
    assert nonce(chain.url, mine.address) == 0
