"""``ceusdesk`` command line: inspect, analyze, demo, gui, selftest.

Each subcommand lives in its own module exposing ``add_parser(subparsers)`` that registers the
subcommand and sets ``func`` (called with the parsed args, returns an exit code). With ``--json``,
stdout carries only the JSON document; progress and messages go to stderr. A
:class:`~ceusdesk.errors.CeusdeskError` becomes one line on stderr and its exit code, never a traceback.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

from ..errors import CeusdeskError

# module names under ceusdesk.cli; a module not written yet is skipped so the CLI still works
SUBCOMMANDS = ("inspect", "analyze", "demo", "gui", "selftest")

EXIT_CODES_DOC = """exit codes:
  0  success
  1  unexpected error (a bug: please report it with the log)
  2  usage error or bad ROI
  3  nothing readable in the input
  4  incomplete phase set: no classification
  5  model package refused
  6  contrast panel unsure: pass --contrast-panel left|right (no classification)
  7  result computed and printed, but a report, its JSON or the audit log could not be written
  130 cancelled
"""


def print_document(doc: dict[str, Any], as_json: bool, fmt: Callable[[dict[str, Any]], str]) -> None:
    """The command's result on stdout: the JSON document alone, or its readable form."""
    if as_json:
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(fmt(doc))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ceusdesk",
        description="Characterize focal liver lesions on Sonazoid CEUS. Research use only.",
        epilog=EXIT_CODES_DOC,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as err:
            if err.name == f"{__name__}.{name}":
                continue
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args) or 0)
    except CeusdeskError as err:
        print(f"ceusdesk: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("ceusdesk: cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
