"""``python -m trainer synth --out DIR --cases N --seed S``: a phantom cohort (studies + cases.jsonl)."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from ceusdesk.base.protocol import default_protocol
from ceusdesk.phantom import PROFILES, PhantomOptions, synthesize_cohort

log = logging.getLogger(__name__)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"--size {text!r} must be WxH, e.g. 320x256") from err
    return w, h


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainer synth", description=__doc__)
    p.add_argument("--out", type=Path, required=True, help="output folder (studies + cases.jsonl)")
    p.add_argument("--cases", type=int, default=181, help="number of cases (default 181, as in the study)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mix", default="48,78,55", help="class mix benign,hcc,non_hcc_malignant")
    p.add_argument("--size", type=_size, default=None, help="panel WxH in pixels (default 320x256)")
    p.add_argument("--frames", type=int, default=None, help="frames per short clip")
    p.add_argument("--realistic", action="store_true", help="scanner-length clips (benchmarks, demo)")
    p.add_argument("--early-only", action="store_true", help="studies that stop after 2:00 (or 3:00)")
    p.add_argument("--missing", default="", help="comma-separated slots whose clips are left out")
    p.add_argument("--contrast-side", choices=("left", "right"), default=None)
    p.add_argument("--acquisition", choices=("clinical", "standard"), default="clinical",
                   help="clinical (default): scanners drawn per patient, real-life clip timing, some 3-6 min "
                        "clips missing, some two-lesion patients; standard: one scanner, on time, complete")
    p.add_argument("--scanner", choices=tuple(PROFILES), default=None, help="one scanner profile for all")
    p.add_argument("--dicomdir", action="store_true", help="USB-style tree with a DICOMDIR")
    p.add_argument("--video", action="store_true", help="MP4 clips instead of DICOM")
    p.add_argument("--encoding", choices=("jpeg", "rle", "raw"), default=None, help="one encoding for all")
    p.add_argument("--no-contrast-start", action="store_true", help="leave Contrast/Bolus Start Time out")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(args: argparse.Namespace) -> int:
    try:
        mix = tuple(int(v) for v in args.mix.split(","))
        missing = tuple(s.strip() for s in args.missing.split(",") if s.strip())
        bad = set(missing) - set(default_protocol().slot_names)
        if len(mix) != 3 or bad:
            raise ValueError(f"--mix needs three counts; unknown --missing slots: {sorted(bad)}")
        kw = {"panel_size": args.size} if args.size else {}
        options = PhantomOptions(
            realistic=args.realistic, frames_per_clip=args.frames, early_only=args.early_only,
            missing_slots=missing, contrast_side=args.contrast_side, dicomdir=args.dicomdir, video=args.video,
            write_contrast_start=not args.no_contrast_start, encoding=args.encoding,
            acquisition=args.acquisition, scanner=args.scanner, **kw)
    except ValueError as err:
        print(f"synth: {err}", file=sys.stderr)
        return 2
    bar = None
    if not args.no_progress:
        from tqdm import tqdm
        bar = tqdm(total=args.cases, unit="case", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.update(done - bar.n)

    try:
        synthesize_cohort(args.out, cases=args.cases, seed=args.seed, options=options, workers=args.workers,
                          class_mix=mix, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    log.info("wrote %s", args.out / "cases.jsonl")
    return 0


if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
