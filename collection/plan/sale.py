"""The manifest's `sale:` section: schema, validation with located errors, the allowlist CSV.

    sale:
      payout: "0x…"          # withdraw sends the proceeds here (EIP-55 checked)
      reserve: 2             # minted to the artist before any phase
      reveal: fair           # or none
      phases:                # 1 to 4, in start order
        - {name: allowlist, start: "2026-12-20T18:00:00Z", price: "0.01", per_wallet: 2, allowlist: allowlist.csv}
        - {name: public, start: "2026-12-21T18:00:00Z", price: "0.02", per_wallet: 5, supply: 100}

Prices are exact decimal strings in ETH and become wei by integer arithmetic: a YAML float
(0.1 is 0.1000000000000000055…) cannot say how many wei the artist meant. The allowlist CSV
holds `address[,allowance]` per line; errors name its line. `validate_sale` reports every
problem through the manifest's collector, so they come out with the rest, sorted by line.
`SaleSpec.to_dict()` is what plan.json carries (the allowlist's entries included, so a build
directory alone can drive the sale); `SaleSpec.from_dict` reads it back.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

MAX_PHASES = 4                      # the contract's limit (TooManyPhases)
MAX_ALLOWLIST_BYTES = 16 << 20      # 16 MiB: a 100,000-address list is about 5 MiB
MAX_ALLOWLIST_ENTRIES = 200_000
UINT32_MAX = 2**32 - 1              # perWallet and supply are uint32 on chain
UINT96_MAX = 2**96 - 1              # price is uint96 wei on chain
WEI_PER_ETH = 10**18
ZERO_ADDRESS = "0x" + "0" * 40

_PRICE = re.compile(r"(\d+)(?:\.(\d+))?")
_START = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?Z")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
Path_ = tuple[Any, ...]


# ---------------------------------------------------------------- schema (pydantic: structure and plain types)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PhaseModel(_Strict):
    name: str = Field(min_length=1, max_length=32)
    start: Any                      # checked by hand: quoting and the Z matter more than the type
    price: Any                      # checked by hand: a float must be refused with a reason
    per_wallet: StrictInt = Field(ge=1, le=UINT32_MAX)
    supply: StrictInt | None = Field(default=None, ge=1, le=UINT32_MAX)
    allowlist: str | None = Field(default=None, min_length=1)


class SaleModel(_Strict):
    payout: Any                     # checked by hand (EIP-55)
    reserve: StrictInt = Field(default=0, ge=0)
    reveal: Literal["fair", "none"]
    phases: list[PhaseModel] = Field(min_length=1, max_length=MAX_PHASES)


KNOWN_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("sale",): tuple(SaleModel.model_fields),
    ("sale", "phases", "*"): tuple(PhaseModel.model_fields),
}


# ---------------------------------------------------------------- the validated section


@dataclass(frozen=True)
class Allowlist:
    file: str                               # as the manifest names it, relative to the manifest
    sha256: str                             # of the CSV's bytes
    entries: tuple[tuple[str, int], ...]    # (EIP-55 address, allowance), in file order


@dataclass(frozen=True)
class PhaseSpec:
    name: str
    start: str                  # "YYYY-MM-DDTHH:MM:SSZ"
    start_unix: int
    price: str                  # as written: "0" and "0.0" mean the same wei, not the same intent
    price_wei: int
    per_wallet: int
    supply: int | None          # this phase's own cap; None: none
    allowlist: Allowlist | None

    @property
    def free_on_purpose(self) -> bool:
        """A price of exactly "0": free by choice, not a forgotten digit ("0.0", "0.00")."""
        return self.price == "0"


@dataclass(frozen=True)
class SaleSpec:
    payout: str                 # EIP-55
    reserve: int
    reveal: str                 # "fair" | "none"
    phases: tuple[PhaseSpec, ...]

    @property
    def fair_reveal(self) -> bool:
        return self.reveal == "fair"

    def to_dict(self) -> dict[str, Any]:
        """plan.json's `sale` object. price_wei is a decimal string: wei outgrow a double."""
        return {
            "payout": self.payout,
            "reserve": self.reserve,
            "reveal": self.reveal,
            "phases": [{
                "name": p.name, "start": p.start, "start_unix": p.start_unix, "price": p.price,
                "price_wei": str(p.price_wei), "per_wallet": p.per_wallet, "supply": p.supply,
                "allowlist": None if p.allowlist is None else {
                    "file": p.allowlist.file, "sha256": p.allowlist.sha256,
                    "entries": [[a, n] for a, n in p.allowlist.entries]},
            } for p in self.phases],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SaleSpec":
        """plan.json's `sale` object back (raises KeyError/TypeError/ValueError on damage)."""
        phases = []
        for p in d["phases"]:
            al = p.get("allowlist")
            phases.append(PhaseSpec(
                name=str(p["name"]), start=str(p["start"]), start_unix=int(p["start_unix"]), price=str(p["price"]),
                price_wei=int(p["price_wei"]), per_wallet=int(p["per_wallet"]),
                supply=None if p.get("supply") is None else int(p["supply"]),
                allowlist=None if al is None else Allowlist(
                    str(al["file"]), str(al["sha256"]), tuple((str(a), int(n)) for a, n in al["entries"]))))
        return cls(payout=str(d["payout"]), reserve=int(d["reserve"]), reveal=str(d["reveal"]), phases=tuple(phases))


# ---------------------------------------------------------------- pure parsers


def price_to_wei(text: str) -> int:
    """"0.01" -> 10**16, exactly. ValueError (with the reason) for anything else."""
    m = _PRICE.fullmatch(text)
    if not m:
        raise ValueError(f"'{text}' is not a decimal number of ETH like \"0.05\"")
    whole, frac = m.group(1), m.group(2) or ""
    if len(frac) > 18:
        raise ValueError(f"'{text}' has {len(frac)} decimals; ETH has 18 (1 wei = 0.000000000000000001)")
    wei = int(whole) * WEI_PER_ETH + int(frac.ljust(18, "0") or "0")
    if wei > UINT96_MAX:
        raise ValueError(f"'{text}' ETH is above the contract's largest price ({UINT96_MAX} wei)")
    return wei


def parse_start(value: Any) -> tuple[str, int]:
    """A phase start -> ("YYYY-MM-DDTHH:MM:SSZ", unix seconds). ValueError with the reason.

    YAML reads an unquoted timestamp as a datetime: one with the Z (UTC) is taken as meant;
    without a zone it would be read in nobody knows which zone, so it is refused."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("has no time zone: write UTC with a Z, e.g. \"2026-12-20T18:00:00Z\"")
        if value.utcoffset().total_seconds() != 0:
            raise ValueError("must be in UTC with a Z, e.g. \"2026-12-20T18:00:00Z\" (convert the local time)")
        dt = value.astimezone(timezone.utc)
    elif isinstance(value, str):
        if not _START.fullmatch(value):
            raise ValueError(f"'{value[:40]}' is not a UTC time in ISO 8601 with a Z, e.g. \"2026-12-20T18:00:00Z\"")
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"'{value}' is not a real date and time") from None
    else:
        raise ValueError(f"must be a UTC time like \"2026-12-20T18:00:00Z\", got {value!r}")
    if dt.microsecond:
        raise ValueError("must be whole seconds")
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ"), int(dt.timestamp())


def address_problem(text: str) -> str | None:
    """Why `text` is not an Ethereum address (bad shape, or mixed case failing EIP-55), or None."""
    if not _ADDRESS.fullmatch(text):
        return f"'{text[:50]}' is not an Ethereum address (0x and 40 hex digits)"
    digits = text[2:]
    if digits != digits.lower() and digits != digits.upper():
        from eth_utils import to_checksum_address

        good = to_checksum_address(text)
        if good != text:
            return f"'{text}' fails its EIP-55 checksum (a typo?); the checksummed form of these digits is {good}"
    return None


def checksummed(text: str) -> str:
    from eth_utils import to_checksum_address

    return to_checksum_address(text)


@dataclass(frozen=True)
class CsvProblem:
    line: int
    message: str


def parse_allowlist(text: str, default_allowance: int) -> tuple[list[tuple[str, int]], list[CsvProblem]]:
    """`address[,allowance]` per line -> entries in file order, and problems with their line numbers.

    Blank lines and lines starting with '#' are skipped, as is a first line that is a header
    ("address" or "address,allowance"). A repeated address is a problem (which allowance was meant?)."""
    entries: list[tuple[str, int]] = []
    problems: list[CsvProblem] = []
    seen: dict[str, int] = {}
    first = True
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        cells = [c.strip().strip('"') for c in line.split(",")]
        if first and cells[0].lower() in ("address", "wallet"):
            first = False
            continue
        first = False
        if len(cells) > 2:
            problems.append(CsvProblem(n, f"has {len(cells)} fields; a line is `address` or `address,allowance`"))
            continue
        why = address_problem(cells[0])
        if why:
            problems.append(CsvProblem(n, why))
            continue
        allowance = default_allowance
        if len(cells) == 2 and cells[1] != "":
            if not cells[1].isdigit() or int(cells[1]) < 1:
                problems.append(CsvProblem(n, f"allowance '{cells[1][:20]}' must be a whole number of tokens, at least 1"))
                continue
            allowance = int(cells[1])
            if allowance > UINT32_MAX:
                problems.append(CsvProblem(n, f"allowance {allowance} is above the limit of {UINT32_MAX}"))
                continue
        key = cells[0].lower()
        if key in seen:
            problems.append(CsvProblem(n, f"{cells[0]} is listed twice (first on line {seen[key]}); keep one line"))
            continue
        seen[key] = n
        entries.append((checksummed(cells[0]), allowance))
        if len(entries) > MAX_ALLOWLIST_ENTRIES:
            problems.append(CsvProblem(n, f"more than {MAX_ALLOWLIST_ENTRIES:,} addresses; split the drop into phases"))
            break
    return entries, problems


# ---------------------------------------------------------------- validation against the document


class Collector(Protocol):
    def add(self, path: Path_, message: str) -> None: ...


def validate_sale(c: Collector, raw: Any, root: Path, supply: int | None,
                  report_pydantic: Any) -> SaleSpec | None:
    """The `sale:` section checked; every problem goes to `c` at its YAML path. None when absent or bad.

    root: the manifest's folder (allowlist files must lie inside it). supply: the collection's
    numeric supply, or None for `supply: all` (then the counts are checked against the plan).
    report_pydantic(error, prefix): the manifest's translator of pydantic errors, so messages
    and unknown-key hints read like the rest of the manifest's."""
    if raw is None:
        return None
    at: Path_ = ("sale",)
    if not isinstance(raw, dict):
        c.add(at, "must be a mapping with payout, reserve, reveal and phases (see README, \"Sell it: a drop\")")
        return None
    before = _count(c)
    model: SaleModel | None = None
    try:
        model = SaleModel.model_validate(raw)
    except ValidationError as e:
        report_pydantic(e, at)

    payout = _check_payout(c, raw.get("payout"))
    phases = _check_phases(c, raw.get("phases"), root)

    reserve = raw.get("reserve", 0)
    if supply is not None and isinstance(reserve, int) and not isinstance(reserve, bool) and reserve > supply:
        c.add(at + ("reserve",), f"reserve {reserve} is more than the collection's supply of {supply}")
    if supply is not None and isinstance(reserve, int) and not isinstance(reserve, bool):
        for i, p in phases.items():
            if p.supply is not None and p.supply > supply - max(reserve, 0):
                c.add(at + ("phases", i, "supply"), f"phase supply {p.supply} is more than the {supply - reserve} tokens "
                      f"left for sale (supply {supply} minus reserve {reserve})")

    if model is None or payout is None or _count(c) != before or len(phases) != len(model.phases):
        return None
    return SaleSpec(payout=payout, reserve=model.reserve, reveal=model.reveal,
                    phases=tuple(phases[i] for i in range(len(model.phases))))


def _count(c: Collector) -> int:
    return len(getattr(c, "problems", ()))


def _check_payout(c: Collector, value: Any) -> str | None:
    at = ("sale", "payout")
    if value is None:
        return None  # pydantic reported the missing key
    if not isinstance(value, str):
        c.add(at, f"must be an address in quotes, e.g. \"0xAbC…\", got {value!r}")
        return None
    why = address_problem(value.strip())
    if why:
        c.add(at, why)
        return None
    if value.strip().lower() == ZERO_ADDRESS:
        c.add(at, "the zero address burns what is sent to it; name the wallet that should receive the proceeds")
        return None
    return checksummed(value.strip())


def _check_phases(c: Collector, raw: Any, root: Path) -> dict[int, PhaseSpec]:
    out: dict[int, PhaseSpec] = {}
    if not isinstance(raw, list):
        return out  # pydantic reported it
    names: dict[str, int] = {}
    last_start: tuple[int, str] | None = None
    for i, p in enumerate(raw[:MAX_PHASES]):
        at: Path_ = ("sale", "phases", i)
        if not isinstance(p, dict):
            continue
        ok = True
        name = p.get("name")
        if isinstance(name, str) and name.strip():
            key = name.strip().casefold()
            if key in names:
                c.add(at + ("name",), f"duplicate phase name '{name.strip()}' (first is phase {names[key] + 1})")
                ok = False
            names.setdefault(key, i)
        start = unix = None
        if "start" in p:
            try:
                start, unix = parse_start(p["start"])
            except ValueError as e:
                c.add(at + ("start",), str(e))
                ok = False
        if unix is not None:
            if last_start is not None and unix <= last_start[0]:
                c.add(at + ("start",), f"{start} is not after the previous phase's start ({last_start[1]}); "
                      "list phases in the order they open, each later than the one before")
                ok = False
            last_start = (unix, start)
        price = wei = None
        if "price" in p:
            price, wei = _check_price(c, at + ("price",), p["price"])
            ok = ok and wei is not None
        per_wallet = p.get("per_wallet")
        allowlist = None
        if p.get("allowlist") is not None and isinstance(p.get("allowlist"), str):
            default = per_wallet if isinstance(per_wallet, int) and not isinstance(per_wallet, bool) and per_wallet > 0 else 1
            allowlist = _load_allowlist(c, at + ("allowlist",), root, p["allowlist"].strip(), default)
            ok = ok and allowlist is not None
        supply = p.get("supply")
        if ok and isinstance(name, str) and start and unix is not None and price is not None and wei is not None \
                and isinstance(per_wallet, int) and not isinstance(per_wallet, bool):
            out[i] = PhaseSpec(name=name.strip(), start=start, start_unix=unix, price=price, price_wei=wei,
                               per_wallet=per_wallet, supply=supply if isinstance(supply, int) else None,
                               allowlist=allowlist)
    return out


def _check_price(c: Collector, at: Path_, value: Any) -> tuple[str | None, int | None]:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        c.add(at, f"must be a price in ETH in quotes, e.g. \"0.05\", got {value!r}")
        return None, None
    if isinstance(value, float):
        c.add(at, f"write the price in quotes, e.g. \"{value!r}\": YAML reads {value!r} as a binary float, "
                  "which cannot say exactly how many wei you mean")
        return None, None
    text = str(value).strip()   # an integer (2) is exact: "2" ETH
    try:
        return text, price_to_wei(text)
    except ValueError as e:
        c.add(at, str(e))
        return None, None


def _load_allowlist(c: Collector, at: Path_, root: Path, rel: str, default: int) -> Allowlist | None:
    full = (root / rel).resolve()
    if Path(rel).is_absolute() or not full.is_relative_to(root):
        c.add(at, f"'{rel}' is outside the project folder {root}; copy the file next to the manifest and name it relatively")
        return None
    try:
        if not full.is_file():
            c.add(at, f"file '{rel}' not found (looked for {full})")
            return None
        size = full.stat().st_size
        if size > MAX_ALLOWLIST_BYTES:
            c.add(at, f"'{rel}' is {size:,} bytes; the limit is {MAX_ALLOWLIST_BYTES:,}")
            return None
        data = full.read_bytes()
    except OSError as e:
        c.add(at, f"'{rel}' cannot be read ({e.strerror or e})")
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        c.add(at, f"'{rel}' is not UTF-8 text (byte {e.start}); save it as CSV (UTF-8)")
        return None
    entries, problems = parse_allowlist(text, default)
    name = Path(rel).name
    for p in problems[:20]:
        c.add(at, f"{name}:{p.line}: {p.message}")
    if len(problems) > 20:
        c.add(at, f"{name}: and {len(problems) - 20} more problems")
    if problems:
        return None
    return Allowlist(rel, hashlib.sha256(data).hexdigest(), tuple(entries))
