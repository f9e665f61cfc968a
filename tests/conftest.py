"""Shared pytest set-up. Each area keeps its fixtures in its own module, registered here."""

pytest_plugins = [
    "tests.fixtures_ipfs",
    "tests.fixtures_chain",
    "tests.fixtures_generator",
    "tests.fixtures_cli",
    "tests.fixtures_lanes",
]
