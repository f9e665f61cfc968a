"""`roboz-collection` entry point: parses arguments and dispatches to collection.commands.*."""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from collection import __version__
from collection.commands import COMMAND_MODULES
from buildfiles.errors import UserError

DESCRIPTION = """\
Turn a VQGAN+CLIP practice into an NFT collection.

  manifest.yaml --plan--> plan.json --render--> images/ --metadata--> metadata/
      --preview--> contact-sheets/ gallery.html    --publish--> IPFS    --mint--> ERC-721
"""

EPILOG = """\
examples:
  roboz-collection init my-roboz
  roboz-collection build my-roboz/manifest.yaml
  roboz-collection publish my-roboz/build --to car
  roboz-collection mint my-roboz/build --network local
"""


def _load_commands():
    return [importlib.import_module(f"collection.commands.{name}") for name in COMMAND_MODULES]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="roboz-collection",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _load_commands():
        p = sub.add_parser(
            mod.NAME,
            help=mod.HELP,
            description=mod.HELP,
            epilog=getattr(mod, "EPILOG", None),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except UserError as e:
        lines = e.lines()
        lines[0] = f"error: {lines[0]}"
        for line in lines:
            print(line, file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("interrupted: progress so far is saved; run the same command again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `roboz-collection plan ... | head` must not print a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
