"""``ceusdesk inspect STUDY``: what was found, when, and which frame fills each phase slot."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from ceusdesk.base.errors import BadStudyOption
from ceusdesk.cli import print_document
from ceusdesk.study.assemble import open_study


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "inspect",
        help="list a study's clips, injection time and phase slots",
        description="Read a study (a folder, a DICOMDIR or one file) and show its clips, the injection "
                    "time and the frame chosen for each phase slot. Never writes to the study.",
    )
    add_study_arguments(p)
    p.add_argument("--json", action="store_true", help="print only the JSON document on stdout")
    p.set_defaults(func=run)


def add_study_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments every command that reads a study shares (inspect, analyze, gui)."""
    p.add_argument("study", metavar="STUDY", help="folder, DICOMDIR or single file")
    p.add_argument("--injection-time", metavar="HH:MM:SS",
                   help="injection time on the scanner clock (wins over the DICOM tag and the estimate)")
    p.add_argument("--patient", metavar="ID", help="read this patient's study when the folder holds several")
    p.add_argument("--contrast-panel", choices=("left", "right"),
                   help="which side of a dual display is contrast (default: decided from the images)")
    p.add_argument("--assign", metavar="FILE=SLOT", action="append", default=[],
                   help="put a clip into a slot, e.g. --assign clip3.avi=2:00 (repeatable)")


def parse_assignments(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        file, sep, slot = item.rpartition("=")
        if not sep or not file or not slot:
            raise BadStudyOption(f"--assign {item!r} must be FILE=SLOT, e.g. clip3.avi=2:00")
        out[file] = slot
    return out


def study_from_args(args: argparse.Namespace):
    """Open the study the shared arguments describe, reporting progress on stderr when it is a terminal."""
    progress = _progress_printer() if sys.stderr.isatty() else None
    try:
        return open_study(
            args.study, injection_time=args.injection_time, patient=args.patient,
            contrast_panel=args.contrast_panel, assign=parse_assignments(args.assign), progress=progress,
        )
    finally:
        if progress is not None:
            print(file=sys.stderr)


def _progress_printer():
    def report(done: int, total: int) -> None:
        print(f"\rreading {done}/{total} files", end="", file=sys.stderr, flush=True)

    return report


def run(args: argparse.Namespace) -> int:
    study = study_from_args(args)
    doc = study.to_json()
    print_document(doc, args.json, format_table)
    return 0


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def _flag_text(flag: str, slot: dict[str, Any]) -> str:
    if flag == "far_from_target" and slot.get("offset_s") is not None:
        return f"{slot['offset_s']:+.0f} s from target"
    return flag.replace("_", " ")


def _side_note(doc: dict[str, Any]) -> str:
    if doc.get("contrast_panel_source") == "user":
        return "given by the user"
    if doc.get("contrast_panel_sure"):
        return "from the images"
    return "UNSURE: check it, analyze needs --contrast-panel left|right"


def format_table(doc: dict[str, Any]) -> str:
    """The JSON document as a readable report (injection, slots, clips, warnings)."""
    lines: list[str] = []
    inj = doc["injection"]
    if inj["time"]:
        how = inj["source"]
        if inj.get("uncertainty_s") is not None:
            how += f" ±{inj['uncertainty_s']:.0f} s" + (", WEAK: confirm it" if inj.get("weak") else "")
        lines.append(f"injection  {inj['time']} ({how})")
    else:
        lines.append("injection  unknown: pass --injection-time HH:MM:SS")
    if doc.get("contrast_panel"):
        lines.append(f"contrast   {doc['contrast_panel']} panel ({_side_note(doc)})")
        evidence = doc.get("contrast_panel_evidence") or []
        cues = [f"{c['cue']} {c['favours']} {c['strength']:.1f}" for c in evidence]
        if cues:
            lines.append(f"  cues     {', '.join(cues)}")
    phase = doc["phase_set"]
    missing = doc.get("missing") or []
    lines.append(f"phase set  {phase}" + (f" ({', '.join(missing)} not acquired)" if missing else ""))
    lines.append("")
    lines.append(f"{'slot':<6} {'t (s)':>7} {'frame':>6}  panel               file")
    for name, s in doc["slots"].items():
        if s is None:
            lines.append(f"{name:<6} {'-':>7} {'-':>6}  {'-':<19} -")
        else:
            panel = ",".join(str(v) for v in s["panel"])
            lines.append(f"{name:<6} {_num(s['t_s']):>7} {s['frame_index']:>6}  {panel:<19} {s['path']}"
                         + ("" if s["source"] == "auto" else f"  [{s['source']}]")
                         + "".join(f"  [{_flag_text(f, s)}]" for f in s.get("flags") or []))
    lines.append("")
    lines.append(f"{'start':>8} {'end':>8} {'frames':>6}  {'kind':<6} {'slot':<6} file")
    for c in doc["clips"]:
        slot = ",".join(c.get("slots") or []) or "-"
        note = f"  (excluded: {c['excluded']})" if c["excluded"] else ""
        lines.append(f"{_num(c['start_s']):>8} {_num(c['end_s']):>8} {c['frames']:>6}  {c['kind']:<6} "
                     f"{slot:<6} {c['path']}{note}")
    if doc["warnings"]:
        lines.append("")
        lines.append(f"{len(doc['warnings'])} warning(s):")
        lines += [f"  {w['path']}: {w['message']}" for w in doc["warnings"]]
    return "\n".join(lines) + "\n"
