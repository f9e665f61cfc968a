"""Addresses a user typed: checked with EIP-55 before anything is sent to them.

A checksummed (mixed-case) address carries its own typo check: one changed character,
or one changed case, breaks it. An all-lower or all-upper address carries none, so a
typo in it would send the tokens to an address nobody holds: such an address is taken
only when the user says so (--allow-unchecksummed). The zero address is never taken:
tokens sent there are burnt, and the contract refuses a royalty receiver of zero.
"""

from __future__ import annotations

import re

from eth_utils import to_checksum_address

ZERO = "0x0000000000000000000000000000000000000000"
_HEX40 = re.compile(r"0x[0-9a-fA-F]{40}")


class AddressProblem(ValueError):
    """Why a typed address is refused: `message` names the field, `hint` the fix."""

    def __init__(self, message: str, hint: str):
        super().__init__(message)
        self.message, self.hint = message, hint


def checked_address(text: str, what: str, *, allow_unchecksummed: bool = False, allow_zero: bool = False) -> str:
    """`text` in its checksummed form, or AddressProblem naming `what` and the fix."""
    if not isinstance(text, str) or not _HEX40.fullmatch(text):
        shown = text if isinstance(text, str) and len(text) <= 60 else type(text).__name__
        raise AddressProblem(f"{what} {shown!r} is not an Ethereum address",
                             "expected 0x and 40 hex digits, copied from your wallet (mixed case: EIP-55)")
    body = text[2:]
    checksummed = to_checksum_address(text)
    if body.lower() == body.upper():
        pass                                   # digits only: the case carries nothing to check
    elif body == body.lower() or body == body.upper():
        if not allow_unchecksummed:
            case = "lower" if body == body.lower() else "upper"
            raise AddressProblem(
                f"{what} {text} is all {case} case: it has no EIP-55 checksum, so a typo in it cannot be detected",
                "copy the address again in its mixed-case (checksummed) form from your wallet or block explorer, "
                "or pass --allow-unchecksummed if you checked it character by character")
    elif checksummed != text:
        raise AddressProblem(
            f"{what} {text} fails its EIP-55 checksum: a character or its case was changed (a typo?)",
            "copy the address again from your wallet or block explorer; an address with a wrong checksum is never used")
    if checksummed == ZERO and not allow_zero:
        raise AddressProblem(f"{what} is the zero address: tokens or royalties sent there are lost for good",
                             "give the address of a wallet you control")
    return checksummed
