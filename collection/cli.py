"""`roboz-collection` entry point: parses arguments and dispatches to collection.commands.*."""

from __future__ import annotations

import argparse
import difflib
import importlib
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

from collection import __version__
from collection.commands import COMMAND_MODULES
from collection.render.threads import quiet_openmp
from buildfiles.errors import UserError

# Before anything imports torch: idle OpenMP threads sleep instead of spinning (collection/render/threads.py).
quiet_openmp()

DESCRIPTION = """\
Turn a VQGAN+CLIP practice into an NFT collection.

  manifest.yaml --plan--> plan.json --render--> images/ --metadata--> metadata/
      --preview--> contact-sheets/ gallery.html    --publish--> IPFS    --mint--> ERC-721
"""

EPILOG = """\
examples:
  roboz-collection init my-roboz
  roboz-collection build my-roboz/manifest.yaml --draft   # no weights needed: painted by the demo models
  roboz-collection models fetch                           # the real VQGAN and CLIP (about 1.3 GB), then:
  roboz-collection build my-roboz/manifest.yaml
  roboz-collection publish my-roboz/build --to car
  roboz-collection mint my-roboz/build --network local

Without the real weights, the demo models (a small pair trained on a toy world of drawn robots)
paint drafts; `--models tiny` (random weights, noise) is for plumbing checks.
"""


def _load_commands():
    return [importlib.import_module(f"collection.commands.{name}") for name in COMMAND_MODULES]


def build_parser() -> argparse.ArgumentParser:
    # allow_abbrev=False everywhere: `--draf` is an error, never silently `--draft` (and a flag added
    # later can never change what an old abbreviation meant).
    parser = argparse.ArgumentParser(
        prog="roboz-collection",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an unexpected error (anywhere on the line)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for mod in _load_commands():
        p = sub.add_parser(
            mod.NAME,
            help=mod.HELP,
            description=mod.HELP,
            epilog=getattr(mod, "EPILOG", None),
            formatter_class=argparse.RawDescriptionHelpFormatter,
            allow_abbrev=False,
        )
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def unknown_command(argv: list[str]) -> str | None:
    """One line for a first word that is no command (`biuld`), with the nearest command names; else None."""
    if not argv or argv[0].startswith("-") or argv[0] in COMMAND_MODULES:
        return None
    close = difflib.get_close_matches(argv[0], COMMAND_MODULES, n=2, cutoff=0.6)
    maybe = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return f"error: unknown command {argv[0]!r}{maybe}\nhint: `roboz-collection --help` lists the commands"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("ROBOZ_DEBUG") == "1"
    argv = [a for a in argv if a != "--debug"]  # accepted anywhere on the line
    bad = unknown_command(argv)
    if bad:
        print(bad, file=sys.stderr)
        return 2
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
    except Exception as e:  # a bug: one line, the traceback in a file (or on screen with --debug)
        if debug:
            traceback.print_exc()
            return 1
        where = save_traceback(e, args)
        print(f"error: unexpected {type(e).__name__}: {_one_line(e)} (a bug; the full traceback is in {where}; "
              f"please report it with that file and `roboz-collection --version`; --debug shows it here)", file=sys.stderr)
        return 1


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text[:300] + ("…" if len(text) > 300 else "")


def _log_dir(args: argparse.Namespace) -> Path:
    """The build directory's logs/ when the command names an existing one, else a temp folder."""
    candidates = [getattr(args, "build_dir", None), getattr(args, "out", None)]
    manifest = getattr(args, "manifest", None)
    if manifest is not None:
        candidates.append(Path(manifest).resolve().parent / ("build-draft" if getattr(args, "draft", False) else "build"))
    for c in candidates:
        if c is not None and Path(c).is_dir():
            return Path(c) / "logs"
    return Path(tempfile.gettempdir()) / "roboz-collection"


def save_traceback(e: BaseException, args: argparse.Namespace) -> Path:
    text = (f"roboz-collection {__version__}, python {sys.version.split()[0]}, {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n"
            f"command: {getattr(args, 'command', None)}\n\n" + "".join(traceback.format_exception(e)))
    name = f"error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    for d in (_log_dir(args), Path(tempfile.gettempdir()) / "roboz-collection"):
        try:
            d.mkdir(parents=True, exist_ok=True)
            (d / name).write_text(text, encoding="utf-8")
            return d / name
        except OSError:
            continue
    return Path("(nowhere: no writable folder)")


if __name__ == "__main__":
    sys.exit(main())
