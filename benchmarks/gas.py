"""Gas for deploying RobozCollection (ERC721A) and minting batches, against an
OpenZeppelin ERC721 `_mint`-loop baseline, and batch mint against mint-at-deploy
(ERC-2309), measured on a fresh anvil in the same run.

    .venv/bin/python benchmarks/gas.py

Each batch size gets a freshly deployed contract, so every row starts from the same
state. Marginal gas per token = (gas(1000) - gas(1)) / 999 within one transaction.
Target: ERC721A at most 2,000 gas per extra token.

Mint-at-deploy vs batch mint (what `mint` does by default: batches of 100) for 10, 1,000
and 10,000 tokens: deploy + mint gas in total, and the price ERC721A's lazy ownership
charges later: the first transfer of the last token of a batch / ERC-2309 chunk scans
back over every id before it.

Collector mints in sale mode (issue 20): a wallet's first mint of 1, 3 and 10 tokens in a public
phase and in an allowlist phase with a proof against a 10,000-address StandardMerkleTree, next to
the HashLips contract's collector mint (ERC721Enumerable, `_safeMint` loop, its Merkle whitelist
against 10,000 addresses too). Total transaction gas as the receipt reports it. Goal: a single
public mint <= 60,000, with a proof <= 70,000; the script prints where the gas of a single public
mint goes (from anvil's opcode trace, storage slots named from solc's storage layout).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from web3 import Web3  # noqa: E402

from eth_utils import keccak  # noqa: E402

from contracts.chain import start_anvil  # noqa: E402
from contracts.compile import SETTINGS, load_artifact, run_solc, standard_input  # noqa: E402
from contracts.merkle import StandardMerkleTree  # noqa: E402
from contracts.sale import PhaseConfig, set_sale_call  # noqa: E402

SIZES = (1, 10, 100, 1000)
BATCHED_TOTAL, BATCH = 1000, 100
DEPLOY_SIZES = (10, 1_000, 10_000)
CHUNK = 5000        # ERC721A's _mintERC2309 limit: one ConsecutiveTransfer per 5,000 ids
ZERO = "0x0000000000000000000000000000000000000000"


def deploy_roboz(w3, supply, mint_to=ZERO, chunk=0):
    a = load_artifact("RobozCollection")
    owner = w3.eth.accounts[0]
    h = w3.eth.contract(abi=a.abi, bytecode=a.bytecode).constructor(
        "Rusty Roboz", "RRZ", supply, 1, "ipfs://bafy/", "ipfs://bafy/collection.json", w3.eth.accounts[9], 500, owner,
        mint_to, chunk,
    ).transact({"from": owner, "gas": 60_000_000})
    r = w3.eth.wait_for_transaction_receipt(h)
    c = w3.eth.contract(address=r.contractAddress, abi=a.abi)
    return c, r.gasUsed, lambda to, n, first: c.functions.mintBatch(to, n, first)


def deploy_oz(w3, supply):
    a = load_artifact("OZMintLoop")
    owner = w3.eth.accounts[0]
    h = w3.eth.contract(abi=a.abi, bytecode=a.bytecode).constructor(1).transact({"from": owner})
    r = w3.eth.wait_for_transaction_receipt(h)
    c = w3.eth.contract(address=r.contractAddress, abi=a.abi)
    return c, r.gasUsed, lambda to, n, first: c.functions.mintBatch(to, n)


def mint_gas(w3, deployer, n, batch):
    _, _, mint = deployer(w3, n)
    owner, to = w3.eth.accounts[0], w3.eth.accounts[1]
    total, first = 0, 1
    while first <= n:
        q = min(batch, n - first + 1)
        h = mint(to, q, first).transact({"from": owner, "gas": 60_000_000})
        r = w3.eth.wait_for_transaction_receipt(h)
        assert r.status == 1
        total += r.gasUsed
        first += q
    return total


def first_transfer_gas(w3, c, token_id):
    holder, other = w3.eth.accounts[1], w3.eth.accounts[2]
    h = c.functions.transferFrom(holder, other, token_id).transact({"from": holder, "gas": 60_000_000})
    r = w3.eth.wait_for_transaction_receipt(h)
    assert r.status == 1
    return r.gasUsed


def batch_vs_deploy(w3, n):
    """(batch: deploy, mint, worst first transfer), [at deploy in chunks of CHUNK, of BATCH: (deploy incl. mint,
    worst first transfer)]."""
    owner, holder = w3.eth.accounts[0], w3.eth.accounts[1]
    c, deploy_gas, mint = deploy_roboz(w3, n)
    minted, first = 0, 1
    while first <= n:
        q = min(BATCH, n - first + 1)
        r = w3.eth.wait_for_transaction_receipt(mint(holder, q, first).transact({"from": owner, "gas": 60_000_000}))
        assert r.status == 1
        minted += r.gasUsed
        first += q
    batch = (deploy_gas, minted, first_transfer_gas(w3, c, min(BATCH, n)))
    at_deploy = []
    for chunk in (CHUNK, BATCH):
        c2, deploy_all, _ = deploy_roboz(w3, n, holder, chunk)
        assert c2.functions.totalSupply().call() == n and c2.functions.ownerOf(n).call() == holder
        at_deploy.append((deploy_all, first_transfer_gas(w3, c2, min(chunk, n))))
    return batch, at_deploy


# ---------------------------------------------------------------- collector mints (sale mode)

COLLECTOR_SIZES = (1, 3, 10)
LIST_SIZE = 10_000
PRICE_AL, PRICE_PUB = 10**16, 2 * 10**16
PUBLIC_GOAL, PROOF_GOAL = 60_000, 70_000


def _send(w3, fn, sender, value=0):
    r = w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender, "value": value, "gas": 5_000_000}))
    assert r.status == 1
    return r


def _mine_at(w3, t):
    w3.provider.make_request("evm_setNextBlockTimestamp", [t])
    w3.provider.make_request("evm_mine", [])


def _filler(n, seed):
    return [Web3.to_checksum_address(keccak(f"{seed}:{i}".encode())[:20]) for i in range(n)]


def _hashlips_tree(addresses):
    """HashLips' whitelist tree (merkletreejs, sortPairs): leaf keccak256(abi.encodePacked(address)),
    sorted leaves, commutative pair hash; proofs for OpenZeppelin MerkleProof.verify."""
    leaves = sorted(keccak(bytes.fromhex(a[2:])) for a in addresses)
    levels = [leaves]
    while len(levels[-1]) > 1:
        lv = levels[-1]
        levels.append([keccak(b"".join(sorted(lv[i:i + 2]))) if i + 1 < len(lv) else lv[i]
                       for i in range(0, len(lv), 2)])

    def proof(address):
        i, out = levels[0].index(keccak(bytes.fromhex(address[2:]))), []
        for lv in levels[:-1]:
            j = i ^ 1
            if j < len(lv):
                out.append(lv[j])
            i //= 2
        return out

    return levels[-1][0], proof


def collector_mints(w3):
    """{row label: {quantity: gas}} for first mints by fresh wallets, and the trace of one public mint."""
    acc = w3.eth.accounts
    owner = acc[0]
    fresh = iter(acc[1:])
    buyers = [next(fresh) for _ in range(4 * len(COLLECTOR_SIZES) + 4)]
    rows: dict[str, dict[int, int]] = {}

    # RobozCollection in sale mode: allowlist phase, then public phase.
    a = load_artifact("RobozCollection")
    h = w3.eth.contract(abi=a.abi, bytecode=a.bytecode).constructor(
        "Rusty Roboz", "RRZ", LIST_SIZE, 1, "ipfs://bafy/", "ipfs://bafy/collection.json", acc[9], 500, owner,
        ZERO, 0).transact({"from": owner, "gas": 60_000_000})
    c = w3.eth.contract(address=w3.eth.wait_for_transaction_receipt(h).contractAddress, abi=a.abi)
    _send(w3, c.functions.setProvenanceHash(b"\x01" * 32), owner)
    listed = buyers[:len(COLLECTOR_SIZES) + 2]
    values = [(x, 10) for x in listed] + [(x, 10) for x in _filler(LIST_SIZE - len(listed), "roboz")]
    tree = StandardMerkleTree.of(values)
    t0 = w3.eth.get_block("latest")["timestamp"]
    phases = [PhaseConfig("allowlist", t0 + 100, PRICE_AL, 0, 0, tree.root),
              PhaseConfig("public", t0 + 200, PRICE_PUB, 20, 0, "0x" + "00" * 32)]
    _send(w3, set_sale_call(c, phases, acc[9], True, "ipfs://bafy/placeholder.json"), owner)
    _mine_at(w3, t0 + 100)
    warm, *al_buyers = listed
    _send(w3, c.functions.mint(1, 10, tree.proof(warm, 10)), warm, PRICE_AL)   # not the contract's first mint
    rows["RobozCollection allowlist (proof, 10,000 listed)"] = {
        q: _send(w3, c.functions.mint(q, 10, tree.proof(b, 10)), b, q * PRICE_AL).gasUsed
        for q, b in zip(COLLECTOR_SIZES, al_buyers)}
    again = al_buyers[0]
    rows["  same wallet, its second mint"] = {1: _send(w3, c.functions.mint(1, 10, tree.proof(again, 10)), again,
                                                       PRICE_AL).gasUsed}
    proof_len = len(tree.proof(again, 10))
    _mine_at(w3, t0 + 200)
    pub_buyers = buyers[len(listed):len(listed) + len(COLLECTOR_SIZES)]
    receipts = {q: _send(w3, c.functions.mint(q, 0, []), b, q * PRICE_PUB) for q, b in zip(COLLECTOR_SIZES, pub_buyers)}
    rows["RobozCollection public"] = {q: r.gasUsed for q, r in receipts.items()}
    again = pub_buyers[0]
    rows["  same wallet, its second mint "] = {1: _send(w3, c.functions.mint(1, 0, []), again, PRICE_PUB).gasUsed}
    trace = gas_breakdown(w3, receipts[1], pub_buyers[0], c)

    # HashLips: public mint loop and Merkle whitelist mint.
    hl = load_artifact("HashLipsStyle")
    h = w3.eth.contract(abi=hl.abi, bytecode=hl.bytecode).constructor(PRICE_PUB, LIST_SIZE, 20).transact({"from": owner})
    d = w3.eth.contract(address=w3.eth.wait_for_transaction_receipt(h).contractAddress, abi=hl.abi)
    rest = buyers[len(listed) + len(COLLECTOR_SIZES):]
    wl = rest[:len(COLLECTOR_SIZES) + 1]
    root, hl_proof = _hashlips_tree(wl + _filler(LIST_SIZE - len(wl), "hashlips"))
    _send(w3, d.functions.setMerkleRoot(root), owner)
    _send(w3, d.functions.setWhitelistMintEnabled(True), owner)
    _send(w3, d.functions.mint(1), wl[0], PRICE_PUB)                                  # not the first mint
    rows["HashLips-style whitelistMint (proof, 10,000)"] = {
        q: _send(w3, d.functions.whitelistMint(q, hl_proof(b)), b, q * PRICE_PUB).gasUsed
        for q, b in zip(COLLECTOR_SIZES, wl[1:])}
    pub = [next(fresh) for _ in COLLECTOR_SIZES]
    rows["HashLips-style mint (ERC721Enumerable loop)"] = {
        q: _send(w3, d.functions.mint(q), b, q * PRICE_PUB).gasUsed for q, b in zip(COLLECTOR_SIZES, pub)}
    return rows, trace, proof_len


def _storage_labels(buyer, token_id):
    """storage slot -> variable name, from solc's storageLayout of RobozCollection (mapping entries
    for the buyer and the token id worked out the way solc lays them out)."""
    inp = standard_input()
    inp["settings"] = {**SETTINGS, "outputSelection": {"RobozCollection.sol": {"RobozCollection": ["storageLayout"]}}}
    _, out = run_solc(inp)
    layout = out["contracts"]["RobozCollection.sol"]["RobozCollection"]["storageLayout"]
    labels: dict[int, str] = {}
    for v in layout["storage"]:
        slot, size = int(v["slot"]), int(layout["types"][v["type"]]["numberOfBytes"])
        for k in range(max(1, size // 32)):
            name = v["label"] if size <= 32 else f"{v['label']}[{k}]"
            labels[slot + k] = labels[slot + k] + "+" + name if slot + k in labels else name   # packed together
        if v["type"].startswith("t_mapping"):
            for key, name in ((int(buyer, 16), "buyer"), (token_id, f"{token_id}")):
                h = int.from_bytes(keccak(key.to_bytes(32, "big") + slot.to_bytes(32, "big")), "big")
                labels[h] = f"{v['label']}[{name}]"
    return labels


def gas_breakdown(w3, receipt, buyer, contract):
    """(label, gas) rows: intrinsic gas, every SSTORE / cold SLOAD by variable, logs, the rest."""
    first_id = contract.events.Transfer().process_receipt(receipt)[0].args.tokenId
    labels = _storage_labels(buyer, first_id)
    res = w3.provider.make_request("debug_traceTransaction", [receipt.transactionHash.hex() if isinstance(
        receipt.transactionHash, bytes) else receipt.transactionHash, {"disableMemory": True, "disableStorage": True}])
    logs = res["result"]["structLogs"]
    tx = w3.eth.get_transaction(receipt.transactionHash)
    data = bytes(tx["input"])
    intrinsic = 21_000 + sum(16 if b else 4 for b in data)
    rows, used = [("base transaction 21,000 + calldata", intrinsic)], 0
    for step in logs:
        op = step["op"]
        if op in ("SSTORE", "SLOAD"):
            key = int(step["stack"][-1], 16)
            name = labels.get(key, f"slot {hex(key)[:10]}")
            if op == "SSTORE" or step["gasCost"] > 100:
                rows.append((f"{op} {name}", step["gasCost"]))
                used += step["gasCost"]
        elif op.startswith("LOG"):
            rows.append((f"{op} (event)", step["gasCost"]))
            used += step["gasCost"]
    rows.append(("everything else (opcodes, memory, warm reads, guards)", receipt.gasUsed - intrinsic - used))
    return rows


def main() -> int:
    # --steps-tracing: debug_traceTransaction returns opcode steps (the gas breakdown of a collector mint)
    node = start_anvil(extra=("--gas-limit", "100000000", "--accounts", "40", "--steps-tracing"))
    try:
        w3 = Web3(Web3.HTTPProvider(node.url))
        rows = {}
        for label, dep in (("RobozCollection (ERC721A)", deploy_roboz), ("OpenZeppelin ERC721 _mint loop", deploy_oz)):
            deploy_gas = dep(w3, 1000)[1]
            single = {n: mint_gas(w3, dep, n, n) for n in SIZES}
            batched = mint_gas(w3, dep, BATCHED_TOTAL, BATCH)
            rows[label] = (deploy_gas, single, batched)
        both = {n: batch_vs_deploy(w3, n) for n in DEPLOY_SIZES}
        collectors, trace, proof_len = collector_mints(w3)
    finally:
        node.stop()

    print("gas on anvil 1.7.1, solc 0.8.30 (optimizer 200 runs, cancun); one transaction per row unless noted\n")
    head = f"{'contract':32} {'deploy':>10} " + " ".join(f"{'mint ' + str(n):>12}" for n in SIZES)
    head += f" {'1000 in 10x100':>15} {'marginal/token':>15}"
    print(head)
    print("-" * len(head))
    marg = {}
    for label, (dg, single, batched) in rows.items():
        marg[label] = (single[1000] - single[1]) / 999
        print(f"{label:32} {dg:>10,} " + " ".join(f"{single[n]:>12,}" for n in SIZES)
              + f" {batched:>15,} {marg[label]:>15,.0f}")
    print()
    for label, (dg, single, batched) in rows.items():
        print(f"{label}: per token in a 1000-batch {single[1000] / 1000:,.0f}; "
              f"marginal 10->100 {(single[100] - single[10]) / 90:,.0f}; in batches of {BATCH}: {batched / BATCHED_TOTAL:,.0f}/token")
    print(f"\ndeploy + mint gas: batch mint (batches of {BATCH}, the `mint` default) vs mint-at-deploy (ERC-2309, "
          f"chunks of {CHUNK:,}: `mint --mint-at-deploy`; of {BATCH}: add `--batch-size {BATCH}`)\n")
    head = (f"{'tokens':>7} {'batch: deploy':>14} {'+ mint':>12} {'= total':>12} {'at deploy/' + format(CHUNK, ','):>17} "
            f"{'at deploy/' + str(BATCH):>15} {'1st transfer: batch':>20} {'at deploy/' + format(CHUNK, ','):>17} "
            f"{'at deploy/' + str(BATCH):>15}")
    print(head)
    print("-" * len(head))
    for n, ((dg, mg, tb), ((d1, t1), (d2, t2))) in both.items():
        print(f"{n:>7,} {dg:>14,} {mg:>12,} {dg + mg:>12,} {d1:>17,} {d2:>15,} {tb:>20,} {t1:>17,} {t2:>15,}")
    print("(1st transfer: transferFrom of the last id of the first batch / chunk, the longest ownership scan)")

    a, b = marg["RobozCollection (ERC721A)"], marg["OpenZeppelin ERC721 _mint loop"]
    print(f"\nmarginal gas per extra token: ERC721A {a:,.0f} vs OZ {b:,.0f} ({b / a:.1f}x); "
          f"target <= 2,000: {'met' if a <= 2000 else 'MISSED'}")

    print(f"\ncollector mints (sale mode): a wallet's first mint, total transaction gas from the receipt; "
          f"allowlist proofs have {proof_len} nodes\n")
    head = f"{'collector mint':48} " + " ".join(f"{str(q) + ' token' + ('s' if q > 1 else ''):>10}" for q in COLLECTOR_SIZES)
    print(head)
    print("-" * len(head))
    for label, gas in collectors.items():
        print(f"{label:48} " + " ".join(f"{gas[q]:>10,}" if q in gas else f"{'':>10}" for q in COLLECTOR_SIZES))
    pub1 = collectors["RobozCollection public"][1]
    al1 = collectors["RobozCollection allowlist (proof, 10,000 listed)"][1]
    print(f"\nwhere a single public mint's {pub1:,} gas goes:")
    for label, gas in trace:
        print(f"  {gas:>8,}  {label}")
    print(f"\ngoal: single public mint <= {PUBLIC_GOAL:,}: {pub1:,} ({'met' if pub1 <= PUBLIC_GOAL else 'missed'}); "
          f"with a proof <= {PROOF_GOAL:,}: {al1:,} ({'met' if al1 <= PROOF_GOAL else 'missed'})")
    print("A wallet's first token costs two zero-to-nonzero SSTOREs of 22,100 each (its owner record and its "
          "balance slot) on top of the 21,000 every transaction pays: 65,200 before any other opcode.")
    return 0 if a <= 2000 else 1


if __name__ == "__main__":
    sys.exit(main())
