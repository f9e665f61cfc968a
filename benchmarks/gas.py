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
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from web3 import Web3  # noqa: E402

from contracts.chain import start_anvil  # noqa: E402
from contracts.compile import load_artifact  # noqa: E402

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


def main() -> int:
    node = start_anvil(extra=("--gas-limit", "100000000"))
    try:
        w3 = Web3(Web3.HTTPProvider(node.url))
        rows = {}
        for label, dep in (("RobozCollection (ERC721A)", deploy_roboz), ("OpenZeppelin ERC721 _mint loop", deploy_oz)):
            deploy_gas = dep(w3, 1000)[1]
            single = {n: mint_gas(w3, dep, n, n) for n in SIZES}
            batched = mint_gas(w3, dep, BATCHED_TOTAL, BATCH)
            rows[label] = (deploy_gas, single, batched)
        both = {n: batch_vs_deploy(w3, n) for n in DEPLOY_SIZES}
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
    return 0 if a <= 2000 else 1


if __name__ == "__main__":
    sys.exit(main())
