"""The manifest's `sale:` section: exact prices, UTC starts, EIP-55 payout, allowlist CSV lines,
every error named at its manifest line (and CSV line); plan.json carries the sale only when asked."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from collection.plan.manifest import ManifestError, load_manifest
from collection.plan.sale import SaleSpec, parse_allowlist, parse_start, price_to_wei

PAYOUT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"       # anvil account 1, EIP-55
LISTED = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"       # anvil account 2

HEAD = """\
collection:
  name: Drop Test
  symbol: DT
  supply: 6
render: {models: tiny}
prompt:
  template: "a {c} robot"
traits:
  c: {red: 1, blue: 1, green: 1, pink: 1, grey: 1, gold: 1}
"""

SALE = f"""\
sale:
  payout: "{PAYOUT}"
  reserve: 1
  reveal: fair
  phases:
    - name: allowlist
      start: "2026-12-20T18:00:00Z"
      price: "0.01"
      per_wallet: 2
      allowlist: allowlist.csv
    - name: public
      start: "2026-12-21T18:00:00Z"
      price: "0.02"
      per_wallet: 5
      supply: 3
"""


def write(tmp: Path, sale: str = SALE, csv: str | None = f"address,allowance\n{LISTED},3\n{PAYOUT}\n") -> Path:
    (tmp / "manifest.yaml").write_text(HEAD + sale, encoding="utf-8")
    if csv is not None:
        (tmp / "allowlist.csv").write_text(csv, encoding="utf-8")
    return tmp / "manifest.yaml"


def problems(path: Path) -> list[str]:
    with pytest.raises(ManifestError) as e:
        load_manifest(path)
    return [e.value.format(p) for p in e.value.problems]


def test_a_valid_sale_section_is_typed_exactly(tmp_path):
    m = load_manifest(write(tmp_path))
    s = m.sale
    assert s is not None and s.payout == PAYOUT and s.reserve == 1 and s.fair_reveal
    a, p = s.phases
    assert (a.name, a.start, a.start_unix, a.price_wei, a.per_wallet, a.supply) == (
        "allowlist", "2026-12-20T18:00:00Z", 1797789600, 10**16, 2, None)
    # the header line is skipped; a line without allowance takes the phase's per_wallet
    assert a.allowlist.entries == ((LISTED, 3), (PAYOUT, 2))
    assert a.allowlist.file == "allowlist.csv" and len(a.allowlist.sha256) == 64
    assert (p.price_wei, p.supply, p.allowlist) == (2 * 10**16, 3, None)
    assert SaleSpec.from_dict(json.loads(json.dumps(s.to_dict()))) == s


def test_a_manifest_without_sale_has_none(tmp_path):
    assert load_manifest(write(tmp_path, sale="", csv=None)).sale is None


@pytest.mark.parametrize("text,wei", [("0", 0), ("0.0", 0), ("1", 10**18), ("0.1", 10**17), ("2.5", 25 * 10**17),
                                      ("1.000000000000000001", 10**18 + 1), ("0.000000000000000001", 1)])
def test_prices_are_exact_decimal_wei(text, wei):
    assert price_to_wei(text) == wei


@pytest.mark.parametrize("text", ["", ".5", "1e-2", "-1", "0.1.2", "1,5", "0.0000000000000000001", "80000000000"])
def test_bad_prices_are_refused(text):
    with pytest.raises(ValueError):
        price_to_wei(text)


def test_unquoted_utc_timestamp_is_taken_but_a_zoneless_one_is_not():
    from datetime import datetime, timedelta, timezone

    assert parse_start(datetime(2026, 12, 20, 18, tzinfo=timezone.utc)) == ("2026-12-20T18:00:00Z", 1797789600)
    for bad in (datetime(2026, 12, 20, 18), datetime(2026, 12, 20, 18, tzinfo=timezone(timedelta(hours=2))),
                "2026-12-20 18:00:00", "2026-12-20T18:00:00+00:00", "2026-02-30T18:00:00Z", "tomorrow"):
        with pytest.raises(ValueError):
            parse_start(bad)


def test_errors_name_the_manifest_line(tmp_path):
    sale = SALE.replace('price: "0.01"', "price: 0.01").replace('start: "2026-12-21T18:00:00Z"',
                                                                 'start: "2026-12-19T18:00:00Z"')
    sale = sale.replace("per_wallet: 5", "per_walet: 5")
    got = problems(write(tmp_path, sale))
    lines = HEAD.count("\n")
    assert any(g.startswith("sale.phases[0].price: write the price in quotes") and f"manifest.yaml:{lines + 8})" in g
               for g in got), got
    assert any(g.startswith("sale.phases[1].start: 2026-12-19T18:00:00Z is not after the previous phase's start")
               and f"manifest.yaml:{lines + 12})" in g for g in got), got
    assert any("unknown key 'per_walet'; did you mean 'per_wallet'?" in g and f"manifest.yaml:{lines + 14})" in g
               for g in got), got
    assert any("sale.phases[1]: missing required key 'per_wallet'" in g for g in got), got


def test_payout_checksum_zero_and_type(tmp_path):
    bad = PAYOUT[:-2] + "c8"       # one letter's case changed: EIP-55 fails
    got = problems(write(tmp_path, SALE.replace(PAYOUT, bad)))
    assert len(got) == 1 and "fails its EIP-55 checksum" in got[0] and PAYOUT in got[0] and "manifest.yaml:11" in got[0]
    assert load_manifest(write(tmp_path, SALE.replace(PAYOUT, PAYOUT.lower()))).sale.payout == PAYOUT
    got = problems(write(tmp_path, SALE.replace(PAYOUT, "0x" + "0" * 40)))
    assert "zero address" in got[0]
    got = problems(write(tmp_path, SALE.replace(f'"{PAYOUT}"', "12")))
    assert "sale.payout: must be an address in quotes" in got[0]


def test_csv_errors_name_the_csv_line(tmp_path):
    csv = f"# friends\n{LISTED},3\n\nnot-an-address\n{LISTED.lower()},1\n{PAYOUT},0\n{PAYOUT},1,2\n"
    got = problems(write(tmp_path, csv=csv))
    assert len(got) == 4, got
    assert "allowlist.csv:4: 'not-an-address' is not an Ethereum address" in got[0]
    assert f"allowlist.csv:5: {LISTED.lower()} is listed twice (first on line 2)" in got[1]
    assert "allowlist.csv:6: allowance '0' must be a whole number of tokens, at least 1" in got[2]
    assert "allowlist.csv:7: has 3 fields" in got[3]
    assert all(g.startswith("sale.phases[0].allowlist: ") and g.endswith("(manifest.yaml:19)") for g in got)


def test_allowlist_file_missing_or_outside(tmp_path):
    got = problems(write(tmp_path, csv=None))
    assert "file 'allowlist.csv' not found" in got[0]
    got = problems(write(tmp_path, SALE.replace("allowlist.csv", "../elsewhere.csv"), csv=None))
    assert "is outside the project folder" in got[0]


def test_an_empty_allowlist_is_valid_here_and_refused_on_a_public_chain_later(tmp_path):
    m = load_manifest(write(tmp_path, csv="address\n# nobody yet\n"))
    assert m.sale.phases[0].allowlist.entries == ()


def test_counts_against_supply(tmp_path):
    got = problems(write(tmp_path, SALE.replace("reserve: 1", "reserve: 7")))
    assert any("reserve 7 is more than the collection's supply of 6" in g for g in got)
    got = problems(write(tmp_path, SALE.replace("supply: 3", "supply: 6")))
    assert any("phase supply 6 is more than the 5 tokens left for sale" in g for g in got)


def test_at_most_four_phases_and_known_reveal(tmp_path):
    one = '    - {name: p%d, start: "2026-12-2%dT18:00:00Z", price: "0", per_wallet: 1}\n'
    sale = SALE.split("  phases:\n")[0].replace("reveal: fair", "reveal: later") + "  phases:\n" + \
        "".join(one % (i, i) for i in range(1, 6))
    got = problems(write(tmp_path, sale))
    assert any(g.startswith("sale.phases: list should have at most 4 items") for g in got), got
    assert any(g.startswith("sale.reveal: input should be 'fair' or 'none'") for g in got), got


def test_parse_allowlist_pure():
    entries, probs = parse_allowlist(f"{LISTED}\n\n{PAYOUT}, 4\n", 2)
    assert entries == [(LISTED, 2), (PAYOUT, 4)] and probs == []


def test_plan_json_carries_sale_only_when_present(tmp_path):
    from collection.plan.plan_step import make_plan
    from buildfiles.plan import load_plan

    without = load_manifest(write(tmp_path, sale="", csv=None))
    make_plan(without, tmp_path / "a")
    raw = json.loads((tmp_path / "a" / "plan.json").read_text())
    assert "sale" not in raw and load_plan(tmp_path / "a").sale is None

    m = load_manifest(write(tmp_path))
    make_plan(m, tmp_path / "b")
    raw_b = json.loads((tmp_path / "b" / "plan.json").read_text())
    assert SaleSpec.from_dict(load_plan(tmp_path / "b").sale) == m.sale
    # the sale changes nothing else the plan holds
    for k in ("collection", "render", "inputs", "tokens", "categories"):
        assert raw_b[k] == raw[k]


def test_the_starter_manifest_shows_the_sale_commented_out_and_it_validates_uncommented(tmp_path):
    from collection.plan.templates import STARTER_MANIFEST

    assert "\n# sale:\n" in STARTER_MANIFEST and "\nsale:" not in STARTER_MANIFEST
    text = "\n".join(line[2:] if line.startswith("# ") and (line.startswith("# sale:") or line.startswith("#   "))
                     else line for line in STARTER_MANIFEST.splitlines()) + "\n"
    (tmp_path / "manifest.yaml").write_text(text.replace("init_image: jax.png", "init_image: jax"))
    (tmp_path / "allowlist.csv").write_text(f"{LISTED}\n")
    sale = load_manifest(tmp_path / "manifest.yaml").sale
    assert [p.name for p in sale.phases] == ["allowlist", "public"] and sale.reserve == 2
    assert sale.phases[0].allowlist.entries == ((LISTED, 2),)
