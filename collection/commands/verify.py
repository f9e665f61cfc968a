"""`roboz-collection verify BUILD_DIR`: show the contract's source on the explorer, after checking it locally."""

from __future__ import annotations

import argparse

from dataclasses import dataclass
from pathlib import Path

from collection.commands.argtypes import add_chain_arguments, add_keep_chain

NAME = "verify"
HELP = "check recompiled sources = deployed code, write Sourcify-style verify/, submit to Etherscan's API"
EPILOG = """\
examples:
  ETHERSCAN_API_KEY=... SEPOLIA_RPC_URL=https://... roboz-collection verify my-roboz/build --network sepolia
  roboz-collection verify my-roboz/build                  # local chain: the check and verify/ only
  roboz-collection verify my-roboz/build --rpc-url URL --api-url https://api-explorer.example/api

First, locally: the committed sources (contract and every import) are compiled again and
must give the runtime code deployed at the address mint.json names (immutables masked).
Only then verify/ is written (standard-input.json, the compiler's metadata.json, sources/)
and the standard-JSON input is submitted to Etherscan (API v2, one key for every chain,
from ETHERSCAN_API_KEY; never printed). A contract the explorer already shows is not
submitted again. A local chain has no explorer: nothing is submitted unless --api-url.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_chain_arguments(p, keystore=False, mainnet=False)
    p.add_argument("--api-url", default=None, metavar="URL",
                   help="an Etherscan-compatible verification API (default https://api.etherscan.io/v2/api)")
    p.add_argument("--poll-seconds", type=float, default=5.0, metavar="S", help="between status checks (default 5)")
    add_keep_chain(p)


@dataclass
class VerifyReport:
    chain_id: int
    address: str
    files: list[Path]
    explorer: str          # "verified", "already", "failed", or "skipped" (a local chain)
    message: str


def constructor_args(w3, deploy_tx: str | None, bytecode: str, address: str) -> str:
    """The deploy transaction's input after the creation code: the ABI-encoded constructor arguments."""
    from buildfiles.errors import UserError

    if not deploy_tx:
        raise UserError(f"mint.json does not record the transaction that deployed {address}",
                        hint="the constructor arguments are read from it: restore mint.json from a backup", exit_code=2)
    data = w3.eth.get_transaction(deploy_tx)["input"]
    data = data.hex() if isinstance(data, (bytes, bytearray)) else str(data)
    data, code = data.removeprefix("0x"), bytecode.removeprefix("0x")
    if not data.startswith(code):
        raise UserError(f"the deploy transaction {deploy_tx} does not start with the committed creation code",
                        hint="the contract was deployed from other sources or settings", exit_code=2)
    return data[len(code):]


def verify_build(build_dir: Path, *, network: str | None = None, rpc_url: str | None = None,
                 api_url: str | None = None, poll_seconds: float = 5.0, keep_chain: bool = False,
                 log=print) -> VerifyReport:
    from datetime import datetime, timezone

    from buildfiles.atomicio import write_json
    from buildfiles.errors import UserError
    from buildfiles.mint_journal import load_journal
    from buildfiles.urls import redact_url
    from contracts.compile import load_artifact
    from contracts.network import choose_target
    from contracts.rpc import connect
    from contracts.source_check import CONTRACT, UNIT, check_deployed, compiler_version, write_sourcify_files

    build_dir = Path(build_dir)
    journal = load_journal(build_dir)
    if not journal.chains:
        raise UserError(f"{journal.path} names no deployed contract",
                        hint=f"run `roboz-collection sale {build_dir}` (or `mint`) first", exit_code=2)
    target = choose_target(network, rpc_url, key_given=True)
    node = None
    if target.url is None:
        from contracts.chain import local_chain

        node, _ = local_chain(build_dir)
    try:
        w3, chain_id = connect(target.url or node.url, fix=target.fix)
        if target.expected_chain_id is not None and chain_id != target.expected_chain_id:
            raise UserError(f"wrong chain: chain {chain_id}, --network {target.network} is chain {target.expected_chain_id}",
                            hint=target.fix, exit_code=2)
        entry = journal.chain(chain_id)
        if entry is None or not entry.contract_address:
            raise UserError(f"mint.json names no contract on chain {chain_id}",
                            hint="run `roboz-collection sale` (or `mint`) on this chain first", exit_code=2)
        address = entry.contract_address
        log(f"recompiling the committed sources and comparing with the code at {address} (chain {chain_id})")
        problems = check_deployed(w3, address)
        if problems:
            raise UserError(f"the deployed code is not what the sources compile to: {'; '.join(problems[:3])}; "
                            "nothing was written or submitted",
                            hint="verify only a contract deployed from this checkout's sources", exit_code=1)
        args = constructor_args(w3, entry.deploy_tx, load_artifact(CONTRACT).bytecode, address)
        files = write_sourcify_files(build_dir / "verify")
        log(f"match: recompiled runtime code = deployed (immutables masked); wrote {build_dir / 'verify'}/")
    finally:
        if node is not None and not keep_chain:
            from contracts.chain import stop_local_chain

            stop_local_chain(build_dir)

    from buildfiles.chains import is_local_chain

    if is_local_chain(chain_id) and api_url is None:
        return VerifyReport(chain_id, address, files, "skipped", "a local chain has no explorer: nothing submitted")
    from contracts.etherscan import DEFAULT_API, Etherscan, Submission, api_key_from_env, standard_json_text

    from contracts.source_check import standard_json_input

    es = Etherscan(api_url or DEFAULT_API, api_key_from_env(), poll_s=poll_seconds)
    outcome = es.verify(Submission(chain_id=chain_id, address=address, standard_json=standard_json_text(standard_json_input()),
                                   contract_name=f"{UNIT}:{CONTRACT}", compiler_version="v" + compiler_version(),
                                   constructor_args=args), log=log)
    result = build_dir / "verify" / "etherscan.json"
    write_json(result, {"chain_id": chain_id, "address": address, "api": redact_url(api_url or DEFAULT_API),
                        "state": outcome.state, "guid": outcome.guid, "message": outcome.message,
                        "at": datetime.now(timezone.utc).isoformat(timespec="seconds")})
    files.append(result)
    if outcome.state == "failed":
        raise UserError(f"Etherscan could not verify {address}: {outcome.message}",
                        hint="the local check passed, so compare the compiler version and settings it used; "
                             f"details in {result}")
    return VerifyReport(chain_id, address, files, outcome.state, outcome.message)


def run(args: argparse.Namespace) -> int:
    from buildfiles.lock import build_lock

    with build_lock(args.build_dir, NAME):
        rep = verify_build(args.build_dir, network=args.network, rpc_url=args.rpc_url, api_url=args.api_url,
                           poll_seconds=args.poll_seconds, keep_chain=args.keep_chain)
    print(f"contract   {rep.address} on chain {rep.chain_id}")
    print(f"source     recompiled = deployed; {len(rep.files)} files in {Path(args.build_dir) / 'verify'}")
    shown = {"verified": "verified now", "already": "already verified", "skipped": "not submitted"}[rep.explorer]
    print(f"explorer   {shown}: {rep.message}")
    return 0
