"""`--network` choices come from one table (buildfiles.chains.NETWORKS): a network added there
reaches every command that talks to a chain, and contracts.network reads the same table."""

from __future__ import annotations

import pytest

import buildfiles.chains
from collection.cli import build_parser

CHAIN_COMMANDS = ("mint", "sale", "reveal", "withdraw", "verify")


def _network_choices(parser, command: str) -> tuple[str, ...]:
    sub = next(a for a in parser._subparsers._group_actions if a.dest == "command").choices[command]
    return tuple(next(a for a in sub._actions if "--network" in a.option_strings).choices)


@pytest.mark.parametrize("command", CHAIN_COMMANDS)
def test_every_chain_command_takes_the_networks_of_the_table(command):
    assert _network_choices(build_parser(), command) == tuple(buildfiles.chains.NETWORKS)


def test_a_network_added_to_the_table_reaches_the_cli(monkeypatch):
    monkeypatch.setitem(buildfiles.chains.NETWORKS, "holesky", 17000)
    parser = build_parser()
    for command in CHAIN_COMMANDS:
        assert "holesky" in _network_choices(parser, command)
    args = parser.parse_args(["mint", "some/build", "--network", "holesky"])
    assert args.network == "holesky"


def test_contracts_read_the_same_table():
    from contracts import network
    assert network.NETWORKS is buildfiles.chains.NETWORKS
