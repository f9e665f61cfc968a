"""`roboz-collection variations "BASE {colour}"`: a prompt's variations painted side by side on one contact sheet."""

from __future__ import annotations

import argparse

NAME = "variations"
HELP = "paint a base prompt x its variations (values, a trait, styles, seeds, iterations) as one contact sheet"
EPILOG = ""


def add_arguments(p: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    return 0
