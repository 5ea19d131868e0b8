"""``ceusdesk analyze STUDY --roi X,Y,W,H``: classify the lesion under the ROI (research use only).

With ``--json`` stdout carries inspect's document plus ``roi`` and ``result`` (design.md); otherwise a
summary that opens with the phase set the result rests on. Refusals are one line on stderr with the exit
codes listed by ``ceusdesk --help``: 2 no/bad ROI, 3 nothing readable, 4 incomplete set, 5 model refused,
6 contrast panel unsure. A result whose report or audit record cannot be written is still printed; each
output that failed gets one line on stderr and the exit code is 7.
"""
from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ceusdesk.analysis import AnalysisRequest, analysis_document, analyze_study, record_analysis
from ceusdesk.base.errors import BadRoi, OutputNotWritten
from ceusdesk.base.roi import Roi, check_roi_numbers, parse_roi
from ceusdesk.cli import print_document, say
from ceusdesk.cli.inspect import add_study_arguments, study_from_args
from ceusdesk.inference import LoadedModel, get_model
from ceusdesk.model_package.resolve import resolve_model
from ceusdesk.outputs.report import ReportLayoutFailed
from ceusdesk.outputs.wording import SET_TITLES, call_source_text
from ceusdesk.study.records import Study

THRESHOLD_WORDS = {"thresholds.early": "for the early set", "thresholds.full": "for the full set",
                   "threshold": "for both sets: older package",
                   "fusion.sets.early.threshold": "of the fused call, early set",
                   "fusion.sets.full.threshold": "of the fused call, full set"}


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="classify a lesion (benign / HCC / non-HCC malignant) - research use only",
        description="Read a study, place the ROI on every phase slot and classify the lesion with the "
                    "model package (--model, else $CEUSDESK_MODEL, else the bundled package). Needs at "
                    "least the early set (B, 0:30, 1:00, 2:00). Research use only.",
    )
    add_study_arguments(p)
    p.add_argument("--roi", metavar="X,Y,W,H",
                   help="lesion ROI in contrast-panel pixels: top-left corner, width, height (required)")
    p.add_argument("--model", metavar="MANIFEST", help="model package manifest.json (or its folder)")
    p.add_argument("--track-roi", action="store_true",
                   help="follow the lesion across slots by template matching (bounded shift)")
    p.add_argument("--slot-roi", action="append", default=[], metavar="SLOT=X,Y,W,H",
                   help="the ROI of one slot, set by hand in that slot's panel pixels (repeatable); "
                        "used as is, never moved by tracking")
    p.add_argument("--liver-roi", metavar="X,Y,W,H",
                   help="reference liver ROI for the enhancement evidence, in contrast-panel pixels "
                        "(default: placed beside the lesion at its depth)")
    p.add_argument("--json", action="store_true", help="print only the JSON document on stdout")
    p.add_argument("--report", metavar="FILE.pdf", help="also write a PDF report and FILE.json beside it")
    p.add_argument("--dicom-out", metavar="DIR",
                   help="also write the result as DICOM into DIR, joining the source study: a TID 1500 "
                        "SR, a key object selection of the frames used, the PDF report encapsulated and a "
                        "presentation state drawing the ROIs (video/still input: the PDF only). Send them "
                        "with `ceusdesk send DIR`")
    p.add_argument("--deidentify", action="store_true",
                   help="the report (and the DICOM results) leave out patient name, id, birth date, dates "
                        "and file paths")
    p.set_defaults(func=run)


def roi_from_args(text: str | None) -> Roi:
    if not text:
        raise BadRoi("no ROI given: pass --roi X,Y,W,H in contrast-panel pixels (see `ceusdesk inspect`)")
    return parse_roi_arg(text, "--roi")


def parse_roi_arg(text: str, flag: str) -> Roi:
    """X,Y,W,H as given on the command line: finite, in range (inputs.check_roi_numbers) or BadRoi."""
    try:
        roi = parse_roi(text)
    except (ValueError, OverflowError) as err:  # OverflowError: "inf" has no integer
        raise BadRoi(f"{flag} {text!r}: expected X,Y,W,H as four finite integers") from err
    return check_roi_numbers(roi, flag)


def slot_rois_from_args(items: list[str] | None) -> dict[str, Roi]:
    """``--slot-roi SLOT=X,Y,W,H`` items → {slot: roi}; the slot names are checked by the engine."""
    out: dict[str, Roi] = {}
    for item in items or []:
        slot, sep, text = str(item).partition("=")
        slot = slot.strip()
        if not sep or not slot:
            raise BadRoi(f"--slot-roi {item!r}: expected SLOT=X,Y,W,H, e.g. 3:00=120,80,40,40")
        if slot in out:
            raise BadRoi(f"--slot-roi: slot {slot} is given twice")
        out[slot] = parse_roi_arg(text, f"--slot-roi {slot}")
    return out


def analyze_from_args(args: argparse.Namespace, *, evidence: bool = True
                      ) -> tuple[Study, LoadedModel, dict[str, Any], Roi]:
    """Open the study and load the model side by side, then run the one analysis
    (:func:`ceusdesk.analysis.analyze_study`); shared by analyze, demo and selftest."""
    t0 = time.perf_counter()
    roi = roi_from_args(args.roi)
    slot_rois = slot_rois_from_args(getattr(args, "slot_roi", None))
    liver_text = getattr(args, "liver_roi", None)
    liver = parse_roi_arg(liver_text, "--liver-roi") if liver_text else None
    manifest = resolve_model(getattr(args, "model", None))

    def timed_load() -> tuple[LoadedModel, float]:
        t = time.perf_counter()
        return get_model(manifest), (time.perf_counter() - t) * 1000.0

    # hashing the package and building the session overlap with reading the study
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="model-load") as pool:
        loading = pool.submit(timed_load)
        t = time.perf_counter()
        study = study_from_args(args)
        open_ms = (time.perf_counter() - t) * 1000.0
        model, load_ms = loading.result()
    request = AnalysisRequest(roi=roi, rois=slot_rois, track_roi=bool(getattr(args, "track_roi", False)),
                              liver_roi=liver)
    result = analyze_study(study, model, request, evidence=evidence)
    result["timings_ms"].update({"open_study": round(open_ms, 2), "load_model": round(load_ms, 2),
                                 "command": round((time.perf_counter() - t0) * 1000.0, 2)})
    return study, model, result, roi


def run(args: argparse.Namespace) -> int:
    study, _model, result, roi = analyze_from_args(args)
    doc = analysis_document(study, result, roi)
    failed = write_report_and_audit(args, study, doc["result"], roi)
    if failed:
        doc["outputs_not_written"] = failed
    print_document(doc, args.json, format_summary)  # the result stands even when an output failed
    if failed:
        for f in failed:
            say(f"ceusdesk: {f['output']} not written: {f['reason']}")
        raise OutputNotWritten(f"the result above was computed, but {len(failed)} output(s) could not be "
                               "written: " + ", ".join(f["output"] for f in failed))
    return 0


# what writing an output can raise: file system errors, names the OS or a codec cannot take, and a
# report reportlab cannot lay out
OUTPUT_ERRORS = (OSError, UnicodeError, ReportLayoutFailed)


def write_report_and_audit(args: argparse.Namespace, study: Study, result: dict[str, Any],
                           roi: Roi) -> list[dict[str, str]]:
    """``--report``: PDF + JSON (ceusdesk.outputs.pdf, shared with the app); ``--dicom-out``: the DICOM
    results (ceusdesk.outputs.dicom). Every analysis is audited.

    Returns one ``{output, path, reason}`` per output that could not be written (empty: all written);
    a failed output does not stop the others or the audit record.
    """
    from ceusdesk.outputs.report import report_input_from_study

    failed: list[dict[str, str]] = []
    report = None
    deidentify = bool(getattr(args, "deidentify", False))
    inp = None
    if getattr(args, "report", None) or getattr(args, "dicom_out", None):
        inp = report_input_from_study(study, result, roi, {k: tuple(v) for k, v in result["rois"].items()})
    if inp is not None and getattr(args, "report", None):
        from ceusdesk.outputs.pdf import write_report

        try:
            report, js = write_report(args.report, inp, deidentify=deidentify)
            say(f"report written: {report} and {js.name}")
        except OUTPUT_ERRORS as err:
            failed.append({"output": "report", "path": str(args.report), "reason": _reason(err)})
    if inp is not None and getattr(args, "dicom_out", None):
        from ceusdesk.outputs.dicom import export_results

        try:
            say(export_results(args.dicom_out, study, result, inp, deidentify=deidentify).message)
        except OUTPUT_ERRORS as err:
            failed.append({"output": "DICOM results", "path": str(args.dicom_out), "reason": _reason(err)})
    try:
        record_analysis(study, result, roi, "cli", report=report)
    except OUTPUT_ERRORS as err:
        failed.append({"output": "audit log", "path": str(getattr(err, "filename", "") or ""),
                       "reason": _reason(err)})
    return failed


def _reason(err: BaseException) -> str:
    """One line: the OS's words (with the file it names), else the exception's."""
    text = str(err).replace("\n", " ")
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def format_summary(doc: dict[str, Any]) -> str:
    """analyze's JSON document as the text a user reads; the first line is the phase set."""
    r = doc["result"]
    p = r["probabilities"]
    lines = [f"{SET_TITLES.get(r['phase_set'], r['phase_set'].upper())} - slots used: "
             + ", ".join(r["slots_used"])]
    not_used = [n for n, s in doc["slots"].items() if s is not None and n not in r["slots_used"]]
    if not_used:
        lines.append(f"  present but not used by an early-set classification: {', '.join(not_used)}")
    if doc.get("missing"):
        lines.append(f"  not acquired: {', '.join(doc['missing'])}")  # every slot with no frame, any set
    lines += [
        "",
        f"call       {r['call'].upper()}  (malignant probability {r['malignant_probability']:.3f}, "
        f"threshold {r['threshold']:.3f} {THRESHOLD_WORDS.get(r['model'].get('threshold_source'), '')})",
        f"call from  {call_source_text(r)}",
        f"classes    benign {p['benign']:.3f}   HCC {p['hcc']:.3f}   "
        f"non-HCC malignant {p['non_hcc_malignant']:.3f}",
        "importance change in malignant probability with the slot masked out:",
        "           " + "   ".join(f"{k} {v:+.3f}" for k, v in r["phase_importance"].items()),
        f"roi        {','.join(map(str, doc['roi']))} (contrast panel)",
    ]
    moved = {k: v for k, v in r["rois"].items() if v != doc["roi"]}
    if moved:
        sources = r.get("roi_sources", {})
        per_slot = "  ".join(f"{k} {','.join(map(str, v))}" + (f" ({sources[k]})" if k in sources else "")
                             for k, v in moved.items())
        lines.append(f"           per slot: {per_slot}")
    if r.get("evidence"):
        from ceusdesk.evidence.readout import summary_lines

        lines += summary_lines(r["evidence"])
    m = r["model"]
    lines.append(f"model      {m['name']} {m['version']} (uid {m['uid']}, sha256 {m['sha256'][:12]}…)")
    if m.get("manifest_sha256"):
        pinned = "pinned by this app" if m.get("manifest_pinned") else "not pinned by this app"
        lines.append(f"           manifest {m['manifest_sha256'][:12]}… ({pinned})")
    t = r["timings_ms"]
    lines.append(f"time       {t.get('command', t['total']):.0f} ms (inference {t['inference']:.0f} ms)")
    warnings = [f"{w['path']}: {w['message']}" for w in doc.get("warnings", [])] + list(r["warnings"])
    if warnings:
        lines.append(f"{len(warnings)} warning(s):")
        lines += [f"  {w}" for w in warnings]
    lines += ["", r["research_use_only"]]
    return "\n".join(lines) + "\n"
