"""``ceusdesk send DIR --to AET@HOST:PORT``: store the DICOM results `analyze --dicom-out` wrote in a PACS.

The one command that opens a network socket (opt-in, separate from analyzing). Exit 0 when every object
was stored, 8 when any was not (one line naming the destination and the DICOM status), 2 for a bad
destination or folder. The files are never removed.
"""
from __future__ import annotations

import argparse

from ceusdesk.base.errors import NothingReadable
from ceusdesk.cli import printable, say


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "send", help="store DICOM results (from analyze --dicom-out) in a PACS with C-STORE",
        description="Send every DICOM file in DIR to a DICOM storage SCP (a PACS) over one association. "
                    "The only ceusdesk command that opens a network connection. Files stay in DIR.")
    p.add_argument("folder", metavar="DIR", help="the folder analyze --dicom-out wrote")
    p.add_argument("--to", metavar="AET@HOST:PORT",
                   help="the PACS: its AE title, host and port (default: $CEUSDESK_SEND_TO, set by IT)")
    p.add_argument("--calling-aet", metavar="AET",
                   help="our AE title, as the PACS knows it (default: $CEUSDESK_CALLING_AET, else CEUSDESK)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="S", help="network timeout in seconds (30)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ceusdesk.outputs.dicom.send import (
        BadDestination,
        Destination,
        calling_aet,
        configured_destination,
        result_files,
        send,
    )

    destination = Destination.parse(args.to) if args.to else configured_destination()
    if destination is None:
        raise BadDestination("no destination: pass --to AET@HOST:PORT (or IT sets $CEUSDESK_SEND_TO)")
    if not args.timeout > 0:
        raise BadDestination(f"--timeout {args.timeout}: give a positive number of seconds")
    files, skipped = result_files(args.folder)
    for line in skipped:
        say(f"ceusdesk: skipped {line}")
    if not files:
        raise NothingReadable(f"{args.folder}: no DICOM files to send")
    report = send(files, destination, calling=calling_aet(args.calling_aet), timeout_s=args.timeout)
    for line in report.warnings:
        say(f"ceusdesk: stored with a warning: {line}")
    print(printable(f"stored {len(report.stored)} object(s) in {destination}: {', '.join(report.stored)}"))
    return 0
