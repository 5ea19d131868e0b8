"""``ceusdesk gui [STUDY] [--roi X,Y,W,H] [--liver-roi X,Y,W,H] [--analyze] [--screenshot PNG]
[--screenshot-view window|evidence] [--size WxH]``: the desktop app.

The flags serve automation (docs, tests): open STUDY, set the ROI (and the reference liver ROI), analyze,
save a screenshot of the window once the result shows (``--screenshot-view evidence``: with the result
panel scrolled to the enhancement evidence), and exit.
"""
from __future__ import annotations

import argparse
import os
import sys

from ceusdesk.base.errors import BadRoi, CeusdeskError

# what --screenshot shows: the window as it opens, or the result panel scrolled to the evidence
SCREENSHOT_VIEWS = ("window", "evidence")


class FlagsConflict(CeusdeskError):
    """Flags the app cannot follow together (exit 2, like any usage error)."""

    exit_code = 2


def window_size(text: str) -> tuple[int, int]:
    """``1024x700`` → (1024, 700); argparse turns the error into exit 2 with the usage line."""
    w, _, h = text.lower().partition("x")
    if not (w.isdigit() and h.isdigit() and 200 <= int(w) <= 10000 and 200 <= int(h) <= 10000):
        raise argparse.ArgumentTypeError(f"{text!r}: give WIDTHxHEIGHT in pixels, e.g. 1024x700")
    return int(w), int(h)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("gui", help="the desktop app", description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("study", nargs="?", help="a study folder, DICOMDIR or file to open")
    p.add_argument("--roi", help="X,Y,W,H in contrast-panel pixels")
    p.add_argument("--liver-roi", metavar="X,Y,W,H",
                   help="reference liver ROI for the enhancement evidence, in contrast-panel pixels, as the "
                        "ROI editor's Liver ROI mode sets it (default: placed beside the lesion)")
    p.add_argument("--analyze", action="store_true", help="analyze once the study is open")
    p.add_argument("--screenshot", metavar="PNG", help="save a screenshot of the window, then exit")
    p.add_argument("--screenshot-view", choices=SCREENSHOT_VIEWS,
                   help="window (default): the window as it opens; evidence: the result panel scrolled so "
                        "the enhancement evidence's features and curve are in view (needs --analyze)")
    p.add_argument("--size", metavar="WxH", type=window_size,
                   help="window size in logical pixels, e.g. 1024x700 (QT_SCALE_FACTOR=1.5 scales it)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    # here, not at the top: importing ceusdesk.cli.gui stays light (it loads onnxruntime, still before Qt)
    from ceusdesk.cli.analyze import parse_roi_arg  # as analyze checks an ROI: four finite integers, in range

    roi = parse_roi_arg(args.roi, "--roi") if args.roi else None
    liver_roi = parse_roi_arg(args.liver_roi, "--liver-roi") if args.liver_roi else None
    if args.analyze and roi is None:
        raise BadRoi("--analyze needs --roi X,Y,W,H")
    if liver_roi is not None and args.study is None:
        raise FlagsConflict("--liver-roi needs a STUDY to open: it is set on the study's contrast image")
    view = args.screenshot_view or "window"
    if args.screenshot_view and not args.screenshot:
        raise FlagsConflict("--screenshot-view needs --screenshot PNG")
    if view == "evidence" and not args.analyze:
        raise FlagsConflict("--screenshot-view evidence needs --analyze (and --roi): the evidence comes "
                            "with a result")

    if args.screenshot and sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # automation on a headless machine
    # Windows: onnxruntime's DLLs must load before PySide6's, so before the app module is imported
    from ceusdesk.gui import preload_onnxruntime

    preload_onnxruntime()
    from ceusdesk.gui.app import run

    return run(args.study, roi=roi, liver_roi=liver_roi, analyze=args.analyze, screenshot=args.screenshot,
               size=args.size, screenshot_view=view)
