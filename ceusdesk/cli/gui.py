"""``ceusdesk gui [STUDY] [--roi X,Y,W,H] [--analyze] [--screenshot PNG] [--size WxH]``: the desktop app.

The flags serve automation (docs, tests): open STUDY, set the ROI, analyze, save a screenshot of the whole
window once the result shows, and exit.
"""
from __future__ import annotations

import argparse
import os
import sys

from ..errors import BadRoi
from ..preprocess import parse_roi


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
    p.add_argument("--analyze", action="store_true", help="analyze once the study is open")
    p.add_argument("--screenshot", metavar="PNG", help="save a screenshot of the window, then exit")
    p.add_argument("--size", metavar="WxH", type=window_size,
                   help="window size in logical pixels, e.g. 1024x700 (QT_SCALE_FACTOR=1.5 scales it)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from ..inputs import check_roi_numbers  # finite and in range, as analyze checks it

    try:
        roi = check_roi_numbers(parse_roi(args.roi), "--roi") if args.roi else None
    except (ValueError, OverflowError) as err:  # OverflowError: "inf" has no integer
        raise BadRoi(f"--roi: {err}") from err
    if args.analyze and roi is None:
        raise BadRoi("--analyze needs --roi X,Y,W,H")

    if args.screenshot and sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # automation on a headless machine
    # Windows: onnxruntime's DLLs must load before PySide6's, so before the app module is imported
    from ..gui import preload_onnxruntime

    preload_onnxruntime()
    from ..gui.app import run

    return run(args.study, roi=roi, analyze=args.analyze, screenshot=args.screenshot, size=args.size)
