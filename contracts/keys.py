"""The signing key: from ROBOZ_PRIVATE_KEY, an encrypted keystore, or anvil's account 0 locally.

The key is never printed, logged or written: error messages name the source of a
bad key, never its value. anvil's ten default accounts come from a published
mnemonic, so anyone can spend from them: they are refused on any chain but a local one.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from buildfiles.chains import LOCAL_CHAIN_IDS, MAINNET_CHAIN_ID
from buildfiles.errors import UserError

KEY_ENV = "ROBOZ_PRIVATE_KEY"
PASSWORD_ENV = "ROBOZ_KEYSTORE_PASSWORD"   # for CI; people get a prompt

# anvil/hardhat defaults: mnemonic "test test test test test test test test test test test junk".
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
ANVIL_ADDRESSES = frozenset(a.lower() for a in (
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
    "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
    "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
))


def anvil_account(index: int = 0) -> LocalAccount:
    """One of anvil's public default accounts (local chains only)."""
    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


def is_anvil_default(address: str) -> bool:
    return address.lower() in ANVIL_ADDRESSES


def check_chain(chain_id: int, *, allow_mainnet: bool) -> None:
    if chain_id == MAINNET_CHAIN_ID and not allow_mainnet:
        raise UserError("refusing to send transactions to Ethereum mainnet (chain id 1)",
                        hint="pass --allow-mainnet if you really mean it; try --network sepolia first", exit_code=2)


def _keystore_password(path: Path) -> str:
    pw = os.environ.get(PASSWORD_ENV)
    if pw is not None:
        return pw
    if not sys.stdin.isatty():
        raise UserError(f"keystore {path} needs a password and there is no terminal to ask",
                        hint=f"set {PASSWORD_ENV} for non-interactive runs", exit_code=2)
    return getpass.getpass(f"password for {path.name}: ")


def load_keystore(path: Path, password: str | None = None) -> LocalAccount:
    path = Path(path)
    try:
        encrypted = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise UserError(f"keystore {path} not found", exit_code=2) from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise UserError(f"keystore {path} is not a JSON keystore file", exit_code=2) from None
    if password is None:
        password = _keystore_password(path)
    try:
        key = Account.decrypt(encrypted, password)
    except ValueError:
        raise UserError(f"could not decrypt keystore {path}: wrong password?", exit_code=2) from None
    account = Account.from_key(key)
    named = encrypted.get("address") if isinstance(encrypted, dict) else None
    if isinstance(named, str) and named.lower().removeprefix("0x") != account.address.lower().removeprefix("0x"):
        # The file says whose key it holds; a key for another account would sign as someone else.
        raise UserError(f"keystore {path} says it holds the key of 0x{named.removeprefix('0x')}, but its key is "
                        f"{account.address}'s", hint="the file was edited or mixed up: use the keystore of the "
                        "account you mean to sign with", exit_code=2)
    return account


def write_keystore(path: Path, account: LocalAccount, password: str) -> Path:
    """Encrypt a key into a keystore file (scrypt), e.g. for tests or to stop using env keys."""
    from buildfiles.atomicio import write_json

    return write_json(path, Account.encrypt(account.key, password))


def key_configured(keystore: Path | None) -> bool:
    """Whether the user gave a key at all (checked before connecting, to report what is missing in one go)."""
    return keystore is not None or bool(os.environ.get(KEY_ENV, "").strip())


def account_from_hex(text: str, source: str) -> LocalAccount:
    """A key given as hex: exactly 32 bytes (64 hex digits, 0x optional).

    eth-account pads a short key with zeros, so a key with a digit missing would silently
    become another account; refuse anything but 64 digits. Never echo the value: it may be
    a real key with a typo.
    """
    digits = text.strip().removeprefix("0x").removeprefix("0X")
    if len(digits) != 64 or any(c not in "0123456789abcdefABCDEF" for c in digits):
        what = f"{len(digits)} characters" if digits else "empty"
        raise UserError(f"{source} is not a valid private key ({what}; expected exactly 64 hex digits, 32 bytes)",
                        exit_code=2)
    try:
        return Account.from_key(bytes.fromhex(digits))
    except Exception:  # zero, or not below the curve order
        raise UserError(f"{source} is not a valid private key (out of range)", exit_code=2) from None


def load_account(chain_id: int, *, keystore: Path | None = None, missing_hint: str | None = None) -> LocalAccount:
    """The account that signs, checked against the chain it will sign for."""
    if keystore is not None:
        account = load_keystore(keystore)
        source = f"keystore {keystore}"
    elif os.environ.get(KEY_ENV):
        account = account_from_hex(os.environ[KEY_ENV], KEY_ENV)
        source = KEY_ENV
    elif chain_id in LOCAL_CHAIN_IDS:
        return anvil_account(0)
    else:
        raise UserError(f"no signing key for chain {chain_id}",
                        hint=missing_hint or f"set {KEY_ENV} or pass --keystore FILE (an encrypted eth keystore)",
                        exit_code=2)
    if is_anvil_default(account.address) and chain_id not in LOCAL_CHAIN_IDS:
        raise UserError(f"the key from {source} is one of anvil's public default keys; refusing it on chain {chain_id}",
                        hint="anyone can spend from these accounts: use your own key outside a local chain", exit_code=2)
    return account
