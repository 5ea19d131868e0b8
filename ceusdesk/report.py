"""Analysis report: a PDF (reportlab, so the CLI needs no Qt) and the same facts as JSON beside it.

The report shows the nine slot thumbnails with the ROI, each slot's time, the result with its phase-set
badge (EARLY SET / FULL SET), the model's provenance, the study's warnings and "research use only".
With ``deidentify`` it carries no patient name, id or birth date, no absolute dates or times, and no
file paths (folder names often hold a patient's name): clips are named ``clip-01`` … instead.
"""
from __future__ import annotations

import copy
import io
import json
import logging
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from . import RESEARCH_USE
from . import __version__ as CEUSDESK_VERSION
from .preprocess import PREPROCESS_VERSION, Roi
from .protocol import SLOT_NAMES, format_t

log = logging.getLogger(__name__)

BADGE_TEXT = {"full": "FULL SET", "early": "EARLY SET", "incomplete": "INCOMPLETE"}
BADGE_DETAIL = {
    "full": "B-mode to the 10-min Kupffer phase",
    "early": "≤2 min only - no Kupffer phase",
    "incomplete": "phases missing: no classification",
}
PATIENT_FIELDS = ("name", "id", "birth_date", "sex", "study_date")
_DATE = re.compile(r"\b\d{4}-?\d{2}-?\d{2}(?:[T ]\d{2}:?\d{2}(?::?\d{2}(?:\.\d+)?)?)?\b")
_CLOCK = re.compile(r"\b\d{1,2}:\d{2}:\d{2}\b")


@dataclass
class ReportInput:
    """Everything a report shows. ``study`` is ``Study.to_json()``; ``result`` the analyze result."""

    study: dict[str, Any]
    result: dict[str, Any]
    roi: Roi
    panels: Mapping[str, np.ndarray | None] = field(default_factory=dict)  # slot → RGB uint8 panel
    rois: Mapping[str, Roi] = field(default_factory=dict)  # per-slot ROI (defaults to ``roi``)
    patient: Mapping[str, str | None] = field(default_factory=dict)  # PATIENT_FIELDS
    study_path: str | None = None


def badge_text(phase_set: str | None) -> str:
    return BADGE_TEXT.get(str(phase_set), str(phase_set or "").upper())


def badge_detail(phase_set: str | None) -> str:
    """The line under the badge: which phases the result rests on."""
    return BADGE_DETAIL.get(str(phase_set), "")


def _alias_paths(doc: dict[str, Any]) -> dict[str, str]:
    """Stable aliases clip-01 … for every path the document mentions (clips first, in their order)."""
    paths: list[str] = [str(c.get("path")) for c in doc.get("clips", []) if c.get("path")]
    for s in (doc.get("slots") or {}).values():
        if s and s.get("path"):
            paths.append(str(s["path"]))
    for w in doc.get("warnings", []):
        if w.get("path"):
            paths.append(str(w["path"]))
    aliases: dict[str, str] = {}
    for p in paths:
        if p not in aliases:
            aliases[p] = f"clip-{len(aliases) + 1:02d}"
    return aliases


def _scrub(text: str, aliases: Mapping[str, str], secrets: Sequence[str]) -> str:
    for original in sorted(aliases, key=len, reverse=True):  # longest first: a path may contain another
        text = text.replace(original, aliases[original])
    for s in secrets:
        if s:
            text = text.replace(s, "[removed]")
    text = _DATE.sub("[date removed]", text)
    return _CLOCK.sub("[time removed]", text)


def deidentify_study(
    study: dict[str, Any], patient: Mapping[str, str | None] | None = None
) -> dict[str, Any]:
    """A copy of ``Study.to_json()`` without paths, absolute times or patient identifiers."""
    doc = copy.deepcopy(study)
    aliases = _alias_paths(doc)
    secrets = [str(v) for k, v in (patient or {}).items() if v and k in ("name", "id", "birth_date")]
    for c in doc.get("clips", []):
        if c.get("path"):
            c["path"] = aliases[str(c["path"])]
        c.pop("start", None)  # acquisition date and time
    for s in (doc.get("slots") or {}).values():
        if s and s.get("path"):
            s["path"] = aliases[str(s["path"])]
    doc["warnings"] = [
        {"path": aliases.get(str(w.get("path")), "") if w.get("path") else "",
         "message": _scrub(str(w.get("message", "")), aliases, secrets)}
        for w in doc.get("warnings", [])
    ]
    injection = dict(doc.get("injection") or {})
    for key in ("time", "datetime"):
        if key in injection:
            injection[key] = None  # a time of day on a known date identifies the visit: removed
    doc["injection"] = injection
    for key in ("root", "study", "patient", "study_date", "patient_id", "patient_name"):
        doc.pop(key, None)
    return doc


def report_document(inp: ReportInput, *, deidentify: bool = False) -> dict[str, Any]:
    """The JSON written beside the PDF: the analyze document plus ROI, patient block and report facts."""
    study = deidentify_study(inp.study, inp.patient) if deidentify else copy.deepcopy(inp.study)
    doc: dict[str, Any] = dict(study)
    doc["roi"] = list(inp.roi)
    doc["rois"] = {k: list(v) for k, v in inp.rois.items() if tuple(v) != tuple(inp.roi)} or None
    doc["result"] = copy.deepcopy(inp.result)
    doc["patient"] = None if deidentify else {k: inp.patient.get(k) for k in PATIENT_FIELDS if inp.patient}
    if not deidentify and inp.study_path:
        doc["study_path"] = str(inp.study_path)
    doc["report"] = {
        "created": None if deidentify else datetime.now(UTC).isoformat(timespec="seconds"),
        "deidentified": bool(deidentify),
        "ceusdesk_version": CEUSDESK_VERSION,
        "preprocess_version": PREPROCESS_VERSION,
        "research_use_only": RESEARCH_USE,
    }
    return doc


# ---------------------------------------------------------------- PDF

def roi_thumbnail(panel: np.ndarray, roi: Roi | None, max_side: int = 360) -> Image.Image:
    """The panel with the ROI drawn in yellow, scaled so its longer side is ``max_side``."""
    img = Image.fromarray(np.ascontiguousarray(panel)).convert("RGB")
    scale = max_side / max(img.size)
    if roi is not None:
        draw = ImageDraw.Draw(img)
        x, y, w, h = roi
        width = max(1, int(round(2 / scale)))
        draw.rectangle([x, y, x + w - 1, y + h - 1], outline=(255, 214, 0), width=width)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.LANCZOS)




def _pdf_bytes(doc: dict[str, Any], inp: ReportInput) -> bytes:
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Image as RLImage
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    from reportlab.platypus.flowables import KeepTogether

    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=10)
    warn_style = ParagraphStyle("warn", parent=body, fontSize=8.5, leading=11,
                                textColor=colors.HexColor("#8a4b00"))
    ruo = ParagraphStyle("ruo", parent=body, fontName="Helvetica-Bold", fontSize=10,
                         textColor=colors.HexColor("#b00020"))
    result = doc["result"]
    phase_set = result.get("phase_set")
    story: list[Any] = [
        Paragraph("ceusdesk - CEUS focal liver lesion report", styles["Title"]),
        Paragraph(escape(RESEARCH_USE), ruo),
        Spacer(1, 3 * mm),
    ]

    badge_colour = colors.HexColor("#1b7f3b" if phase_set == "full" else "#b36b00")
    badge = Table([[badge_text(phase_set)]], colWidths=[60 * mm], rowHeights=[14 * mm])
    badge.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, -1), badge_colour),
        ("TEXTCOLOR", (0, 0), (-1, -1), colors.white),
        ("FONTNAME", (0, 0), (-1, -1), "Helvetica-Bold"),
        ("FONTSIZE", (0, 0), (-1, -1), 20),
        ("ALIGN", (0, 0), (-1, -1), "CENTER"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]))
    probs = result.get("probabilities") or {}
    threshold = result.get("threshold")
    call = str(result.get("call", "-"))
    call_line = f"Call: <b>{escape(call)}</b>"
    if result.get("malignant_probability") is not None:
        call_line += f" (malignant probability {float(result['malignant_probability']):.3f}"
        call_line += f", threshold {float(threshold):.2f})" if threshold is not None else ")"
    rows = [["class", "probability"]] + [[k.replace("_", " "), f"{float(v):.3f}"] for k, v in probs.items()]
    prob_table = Table(rows, colWidths=[45 * mm, 25 * mm])
    prob_table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
    ]))
    story += [
        Table([[[badge, Spacer(1, 1 * mm),
                 Paragraph(escape(badge_detail(phase_set).replace("≤", "<=")), body)],  # Helvetica lacks ≤
                [Paragraph(call_line, body), Spacer(1, 2 * mm), prob_table]]],
              colWidths=[68 * mm, 100 * mm], style=[("VALIGN", (0, 0), (-1, -1), "TOP")]),
        Spacer(1, 4 * mm),
    ]

    # nine slot thumbnails, three per row, each with its time and status
    slots = doc.get("slots") or {}
    names = list(slots) or list(SLOT_NAMES)
    cells = []
    for name in names:
        info = slots.get(name)
        panel = inp.panels.get(name)
        if panel is not None:
            thumb = roi_thumbnail(panel, inp.rois.get(name, inp.roi))
            buf = io.BytesIO()
            thumb.save(buf, format="JPEG", quality=88)  # PNG of speckle is ~10x larger
            buf.seek(0)
            w = 52 * mm
            flow: Any = RLImage(buf, width=w, height=w * thumb.height / thumb.width)
        else:
            flow = Paragraph("<i>missing</i>", small)
        t_text = format_t(info.get("t_s") if info else None, decimals=1, ascii_only=True)
        caption = f"<b>{escape(name)}</b>  t = {t_text}"
        if info and info.get("source"):
            caption += f"  ({escape(str(info['source']))})"
        cells.append([flow, Paragraph(caption, small)])
    grid_rows = [cells[i:i + 3] for i in range(0, len(cells), 3)]
    grid_rows[-1] += [""] * (3 - len(grid_rows[-1]))
    grid = Table(grid_rows, colWidths=[58 * mm] * 3)
    grid.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("ALIGN", (0, 0), (-1, -1), "CENTER")]))
    story += [Paragraph("Phase slots (ROI in yellow, time after injection m:ss)", styles["Heading3"]), grid]

    importance = result.get("phase_importance") or {}
    if importance:
        imp = ", ".join(f"{escape(k)} {float(v):+.3f}" for k, v in importance.items())
        story += [Paragraph(f"Phase importance (change of malignant probability without the slot): {imp}",
                            small)]

    model = result.get("model") or {}
    inj = doc.get("injection") or {}
    x, y, w, h = inp.roi
    prov = [
        f"Model: {escape(str(model.get('name')))} version {escape(str(model.get('version')))}",
        f"Model uid: {escape(str(model.get('uid')))}",
        f"Model sha256: {escape(str(model.get('sha256')))}",
        f"ceusdesk {escape(CEUSDESK_VERSION)}, preprocess version {escape(PREPROCESS_VERSION)}",
        f"Injection time: {escape(str(inj.get('time') or 'removed'))}"
        f" (source: {escape(str(inj.get('source')))})",
        f"ROI (contrast-panel pixels): x={x}, y={y}, w={w}, h={h}",
    ]
    if doc.get("patient"):
        p = doc["patient"]
        shown = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in p.items() if v)
        prov.insert(0, "Patient: " + escape(shown))
    else:
        prov.insert(0, "De-identified report: no patient name, id, birth date, dates or file paths.")
    if doc.get("study_path"):
        prov.append(f"Study: {escape(str(doc['study_path']))}")
    if doc["report"].get("created"):
        prov.append(f"Report created {escape(doc['report']['created'])}")
    story += [KeepTogether([Paragraph("Provenance", styles["Heading3"])]
                           + [Paragraph(line, small) for line in prov])]

    warnings = doc.get("warnings") or []
    story.append(Paragraph(f"Warnings ({len(warnings)})", styles["Heading3"]))
    for wr in warnings or [{"path": "", "message": "none"}]:
        text = f"{escape(str(wr.get('path') or ''))}: {escape(str(wr.get('message')))}" if wr.get("path") \
            else escape(str(wr.get("message")))
        story.append(Paragraph(text, warn_style))
    story += [Spacer(1, 4 * mm), Paragraph(escape(RESEARCH_USE), ruo)]

    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=12 * mm,
                      bottomMargin=12 * mm, title="ceusdesk report", author="ceusdesk",
                      subject=RESEARCH_USE).build(story)
    return out.getvalue()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write to a temp file beside ``path`` and rename: a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_report(pdf_path: str | Path, inp: ReportInput, *, deidentify: bool = False) -> tuple[Path, Path]:
    """Write the PDF and ``<same name>.json`` beside it; returns both paths."""
    pdf_path = Path(pdf_path)
    if pdf_path.suffix.lower() != ".pdf":
        pdf_path = pdf_path.with_name(pdf_path.name + ".pdf")
    doc = report_document(inp, deidentify=deidentify)
    json_path = pdf_path.with_suffix(".json")
    _atomic_write(pdf_path, _pdf_bytes(doc, inp))
    text = json.dumps(doc, indent=2, ensure_ascii=False, default=str) + "\n"
    _atomic_write(json_path, text.encode("utf-8"))
    log.info("report written: %s and %s", pdf_path.name, json_path.name)
    return pdf_path, json_path


# ---------------------------------------------------------------- from a Study (core API)

def patient_of(study: Any) -> dict[str, str | None]:
    """Patient name/id/birth date/study date from the study's first clip that has them (for the report)."""
    out: dict[str, str | None] = {k: None for k in PATIENT_FIELDS}
    for entry in getattr(study, "clips", []):
        clip = getattr(entry, "clip", entry)
        if out["id"] is None and getattr(clip, "patient_id", None):
            out["id"] = str(clip.patient_id)
        if out["name"] is None and getattr(clip, "patient_name", None):
            out["name"] = str(clip.patient_name)
        if out["birth_date"] is None and getattr(clip, "patient_birth_date", None):
            out["birth_date"] = str(clip.patient_birth_date)
        if out["study_date"] is None and getattr(clip, "start", None) is not None:
            out["study_date"] = clip.start.date().isoformat()
    return out


def report_input_from_study(
    study: Any, result: Mapping[str, Any], roi: Roi, rois: Mapping[str, Roi] | None = None
) -> ReportInput:
    """Collect the slot panels (``ceusdesk.frames.panel_image``) and patient block for a report."""
    from .frames import panel_image  # the core's frame grabber; imported late so report stays light

    panels: dict[str, np.ndarray | None] = {}
    for name, sf in (study.slots or {}).items():
        panels[name] = None if sf is None else panel_image(sf)
    return ReportInput(
        study=study.to_json(), result=dict(result), roi=tuple(roi), panels=panels,
        rois=dict(rois or {}), patient=patient_of(study), study_path=str(getattr(study, "root", "") or ""),
    )
