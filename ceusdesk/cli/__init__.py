"""``ceusdesk`` command line: inspect, analyze, demo, gui, selftest, send.

Each subcommand lives in its own module exposing ``add_parser(subparsers)`` that registers the
subcommand and sets ``func`` (called with the parsed args, returns an exit code). With ``--json``,
stdout carries only the JSON document; progress and messages go to stderr. A
:class:`~ceusdesk.base.errors.CeusdeskError` becomes one line on stderr and its exit code, never a traceback.

The JSON is standard (RFC 8259) and ASCII: a number that is not finite (a time or measurement that
cannot be known) becomes null, and text from a file name that is not valid UTF-8 shows its bytes as
``\\xNN`` escapes, so every JSON parser reads the document and every terminal prints it.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import math
import re
import sys
from collections.abc import Callable
from typing import Any

from ceusdesk.base.errors import CeusdeskError

# module names under ceusdesk.cli; a module not written yet is skipped so the CLI still works
SUBCOMMANDS = ("inspect", "analyze", "demo", "gui", "selftest", "send")

EXIT_CODES_DOC = """exit codes:
  0  success
  1  unexpected error (a bug: please report it with the log)
  2  usage error or bad ROI
  3  nothing readable in the input, or a frame the analysis needs cannot be decoded
  4  incomplete phase set: no classification
  5  model package refused
  6  contrast panel unsure: pass --contrast-panel left|right (no classification)
  7  result computed and printed, but a report, its JSON, the DICOM results or the audit log could not
     be written
  8  send: not every object was stored in the PACS (the files stay where they were)
  130 cancelled
"""


def json_safe(obj: Any) -> Any:
    """``obj`` with non-finite numbers as None and undecodable file-name bytes as ``\\xNN`` text.

    Only values that may legitimately be unknown reach here as NaN/Inf (times, measurements); a model's
    probabilities are checked before (ceusdesk.inference.engine) and never arrive non-finite.
    """
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, str):
        return readable_text(obj)
    if isinstance(obj, dict):
        return {readable_text(str(k)): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    item = getattr(obj, "item", None)  # numpy scalars
    if callable(item) and not isinstance(obj, (bool, int)):
        return json_safe(item())
    return obj


def readable_text(text: str) -> str:
    """``text`` with the lone surrogates Python uses for undecodable file-name bytes as ``\\xNN``."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes (``\\n``, ``\\x1b``): a file name or a
    manifest field cannot start a forged line or send terminal escape sequences."""
    return _CONTROL.sub(lambda m: repr(m[0])[1:-1], readable_text(text))


def printable_doc(obj: Any) -> Any:
    """``obj`` with :func:`printable` applied to every string (for the text summaries)."""
    if isinstance(obj, str):
        return printable(obj)
    if isinstance(obj, dict):
        return {printable_doc(k): printable_doc(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [printable_doc(v) for v in obj]
    return obj


def say(text: str) -> None:
    """One message line on stderr, its variable parts made printable."""
    print(printable(text), file=sys.stderr)


def document_json(doc: dict[str, Any]) -> str:
    """The standard-JSON text of ``doc`` (see :func:`json_safe`); raises ValueError if NaN slipped in."""
    return json.dumps(json_safe(doc), indent=2, allow_nan=False)


def print_document(doc: dict[str, Any], as_json: bool, fmt: Callable[[dict[str, Any]], str]) -> None:
    """The command's result on stdout: the JSON document alone, or its readable form."""
    text = document_json(doc) + "\n" if as_json else fmt(printable_doc(doc))
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:  # undecodable file-name bytes, or a console code page lacking a character
        enc = sys.stdout.encoding or "ascii"
        sys.stdout.write(text.encode(enc, "backslashreplace").decode(enc))
    sys.stdout.flush()


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
    if not args.verbose:
        # pydicom logs every failed decoder plugin as an ERROR with its traceback; ceusdesk already says
        # in one line which frame of which file could not be decoded (-v shows pydicom's detail)
        logging.getLogger("pydicom").setLevel(logging.CRITICAL)
        # libraries' Python warnings (pydicom's "referenced SOP Instance … does not exist", with the
        # absolute path) repeat what ceusdesk says in its own warnings: shown with -v only
        logging.captureWarnings(True)
        logging.getLogger("py.warnings").setLevel(logging.ERROR)
    try:
        return int(args.func(args) or 0)
    except CeusdeskError as err:
        say(f"ceusdesk: {err}")
        return err.exit_code
    except KeyboardInterrupt:
        print("ceusdesk: cancelled", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
