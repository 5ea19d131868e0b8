"""The analysis report as PDF (reportlab, so the CLI needs no Qt), written with its JSON beside it.
"""
from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageDraw
from reportlab.platypus.doctemplate import LayoutError

from ceusdesk import RESEARCH_USE
from ceusdesk import __version__ as CEUSDESK_VERSION
from ceusdesk.base.atomicio import write_atomic
from ceusdesk.base.protocol import SLOT_NAMES
from ceusdesk.base.roi import Roi
from ceusdesk.inference.preprocess import PREPROCESS_VERSION
from ceusdesk.outputs.report import PATIENT_FIELDS, ReportInput, ReportLayoutFailed, report_document
from ceusdesk.outputs.wording import (
    CLASS_LABELS,
    UNCERTAIN_BAND,
    badge_detail,
    badge_text,
    call_source_text,
    contrast_panel_line,
    explain_call,
    flag_text,
    gaps_text,
    injection_line,
    slot_caption,
)

if TYPE_CHECKING:  # a report reads files and patient fields that only a real study has
    pass

log = logging.getLogger(__name__)


LIVER_RGB = (0, 168, 107)  # report_evidence.LIVER_COLOUR


# the further liver reference squares: the same green at about half strength (the app's alpha 130)
LIVER_REFERENCE_RGBA = (*LIVER_RGB, 130)


def _dashed_rect(draw: ImageDraw.ImageDraw, roi: Roi, colour: tuple[int, ...], width: int,
                 dash: int | None = None, gap: int | None = None) -> None:
    x, y, w, h = roi
    dash = dash or 3 * width
    step = dash + (gap or dash)
    for x0 in range(x, x + w, step):  # top and bottom edges
        for yy in (y, y + h - 1):
            draw.line([(x0, yy), (min(x0 + dash, x + w - 1), yy)], fill=colour, width=width)
    for y0 in range(y, y + h, step):  # left and right edges
        for xx in (x, x + w - 1):
            draw.line([(xx, y0), (xx, min(y0 + dash, y + h - 1))], fill=colour, width=width)


def roi_thumbnail(panel: np.ndarray, roi: Roi | None, max_side: int = 360,
                  liver: Roi | None = None, liver_extra: Sequence[Roi] = ()) -> Image.Image:
    """The panel with the ROI drawn in yellow (and the evidence's reference liver ROI dashed in green,
    ``liver_extra``: the further squares its level was read over, finer and dimmer), scaled so its
    longer side is ``max_side``."""
    img = Image.fromarray(np.ascontiguousarray(panel)).convert("RGB")
    scale = max_side / max(img.size)
    width = max(1, int(round(2 / scale)))
    if liver_extra:
        # half the liver ROI's line, short dashes, blended: read as "also read", never as the reference
        fine = max(1, int(round(1 / scale)))
        layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
        ld = ImageDraw.Draw(layer)
        for extra in liver_extra:
            box = (int(extra[0]), int(extra[1]), int(extra[2]), int(extra[3]))
            _dashed_rect(ld, box, LIVER_REFERENCE_RGBA, fine, dash=2 * fine,
                         gap=3 * fine)
        img = Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")
    draw = ImageDraw.Draw(img)
    if liver is not None:
        lx, ly, lw, lh = (int(v) for v in liver)
        _dashed_rect(draw, (lx, ly, lw, lh), LIVER_RGB, width)
    if roi is not None:
        x, y, w, h = roi
        draw.rectangle([x, y, x + w - 1, y + h - 1], outline=(255, 214, 0), width=width)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.LANCZOS)


MAX_FIELD_CHARS = 160
"""Longest patient field printed (a DICOM name has 5 components of 64 characters at most): a longer one,
from a damaged or forged header, is cut with an ellipsis instead of breaking the page layout."""


def _field(value: object) -> str:
    text = str(value)
    return text if len(text) <= MAX_FIELD_CHARS else text[:MAX_FIELD_CHARS - 1] + "…"


def page_header(doc: Mapping[str, Any]) -> str:
    """The line atop every page: the patient (or "de-identified") and the exam date."""
    p = doc.get("patient") or {}
    if not p:
        return "De-identified report"
    who = " ".join(_field(p[k]) for k in ("name", "id") if p.get(k)) or "patient unnamed"
    return f"Patient: {who}  ·  exam date {p.get('study_date') or 'unknown'}"


def patient_lines(doc: Mapping[str, Any]) -> list[str]:
    """Page 1's patient block (plain text; the PDF escapes it)."""
    p = doc.get("patient") or {}
    if not p:
        return ["De-identified report: no patient name, id, birth date, dates or file paths."]
    names = {"name": "Name", "id": "Patient ID", "birth_date": "Birth date", "sex": "Sex",
             "study_date": "Exam date"}
    return [f"{names[k]}: {_field(p.get(k) or '-')}" for k in PATIENT_FIELDS]


def pdf_caption(info: Mapping[str, Any] | None, clips: Sequence[Mapping[str, Any]]) -> str:
    """Which frame fills a slot, as the PDF prints it under the thumbnail (``slot_caption``, ASCII)."""
    if not info:
        return "not acquired"
    frames = next((c.get("frames") for c in clips if c.get("path") == info.get("path")), None)
    return slot_caption(info.get("path"), info.get("frame_index"), frames, info.get("t_s"),
                        info.get("offset_s"), ascii_only=True)


def call_bar(malignant: float, threshold: float, width: float) -> Any:
    """The app's benign-vs-malignant bar for the PDF: 0 … 1, the case's malignant probability (green
    below the threshold, red above), a tick at the threshold and the uncertain band (±UNCERTAIN_BAND)."""
    from reportlab.graphics.shapes import Drawing, Line, Rect, String
    from reportlab.lib import colors

    def x(v: float) -> float:
        return width * min(max(float(v), 0.0), 1.0)

    d = Drawing(width, 22)
    d.add(Rect(0, 10, width, 10, fillColor=colors.HexColor("#e6e6e6"), strokeColor=None))
    colour = "#c0504d" if malignant >= threshold else "#3a8f5c"
    d.add(Rect(0, 11.5, x(malignant), 7, fillColor=colors.HexColor(colour), strokeColor=None))
    lo, hi = x(threshold - UNCERTAIN_BAND), x(threshold + UNCERTAIN_BAND)
    d.add(Rect(lo, 9, hi - lo, 12, fillColor=colors.Color(1, 0.70, 0, alpha=0.45), strokeColor=None))
    d.add(Line(x(threshold), 8, x(threshold), 22, strokeWidth=1.5))
    d.add(String(0, 0, "benign", fontSize=7))
    d.add(String(width, 0, "malignant", fontSize=7, textAnchor="end"))
    d.add(String(x(threshold), 0, f"threshold {threshold:.2f} (band +-{UNCERTAIN_BAND:.2f})", fontSize=7,
                 textAnchor="middle"))
    return d


def _pdf_safe(text: str) -> str:
    """Noto Sans and Helvetica lack ≤ and ≥: written as <= and >=."""
    return text.replace("≤", "<=").replace("≥", ">=")


def _evidence_flowables(ev: Mapping[str, Any], doc: Mapping[str, Any], small: Any, heading: Any) -> list[Any]:
    """Page 1, under the call: the time-intensity curve beside the feature table, then the readout and,
    highlighted, the line where the features and the model's call disagree (docs/evidence.md)."""
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Spacer, Table

    from ceusdesk.outputs.evidence_wording import DERIVED_NOTE, feature_rows, slot_times, tic_chart
    from ceusdesk.outputs.pdftext import markup

    used = (doc.get("result") or {}).get("slots_used")
    chart = tic_chart(ev, slot_times(doc.get("slots") or {}, used), 82 * mm, 52 * mm)
    rows = [[Paragraph(markup(name), small), Paragraph(markup(_pdf_safe(value)), small)]
            for name, value in feature_rows(ev)]
    features = Table(rows, colWidths=[30 * mm, 54 * mm],
                     style=[("GRID", (0, 0), (-1, -1), 0.3, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                            ("TOPPADDING", (0, 0), (-1, -1), 1), ("BOTTOMPADDING", (0, 0), (-1, -1), 1)])
    out: list[Any] = [
        Paragraph(f"Enhancement evidence - {markup(DERIVED_NOTE.lower().rstrip('.'))}", heading),
        Table([[chart, features]], colWidths=[84 * mm, 86 * mm], style=[("VALIGN", (0, 0), (-1, -1), "TOP")]),
        Paragraph("Curve: mean linearized intensity of the lesion (solid) and the liver ROI (dashed, green) "
                  "against time after injection (m:ss); grey lines: the slot frames used.", small),
    ]
    out += [Paragraph(markup(_pdf_safe(str(line))), small) for line in ev.get("readout") or []]
    if ev.get("disagreement"):
        alert = ParagraphStyle("disagree", parent=small, fontName="Helvetica-Bold", textColor=colors.white,
                               backColor=colors.HexColor("#b00020"), borderPadding=2)
        out += [Spacer(1, 1 * mm), Paragraph(markup(_pdf_safe(str(ev["disagreement"]))), alert)]
    return out + [Spacer(1, 4 * mm)]


def _numbered_canvas() -> type:
    """A reportlab canvas that writes "page x / y" once the number of pages is known."""
    from reportlab.lib.units import mm
    from reportlab.pdfgen.canvas import Canvas

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self.setFont("Helvetica", 8)
                self.drawRightString(self._pagesize[0] - 15 * mm, 7 * mm,
                                     f"page {self._pageNumber} / {total}")
                super().showPage()
            super().save()

    return NumberedCanvas


def _pdf_bytes(doc: dict[str, Any], inp: ReportInput) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Image as RLImage
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    from reportlab.platypus.flowables import KeepTogether

    from ceusdesk.outputs.evidence_wording import liver_reference_extras
    from ceusdesk.outputs.pdftext import markup  # any script: CJK, Arabic, Hebrew names in embedded fonts

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
        Paragraph(markup(RESEARCH_USE), ruo),
        Spacer(1, 2 * mm),
        Table([[Paragraph(markup(line), small) for line in patient_lines(doc)[i:i + 3]]
               for i in range(0, len(patient_lines(doc)), 3)], colWidths=[60 * mm] * 3,
              style=[("BOX", (0, 0), (-1, -1), 0.5, colors.grey),
                     ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#f2f2f2"))]),
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
    call_line = f"Call: <b>{markup(call)}</b>"
    if result.get("malignant_probability") is not None:
        call_line += f" (malignant probability {float(result['malignant_probability']):.3f}"
        call_line += f", threshold {float(threshold):.2f})" if threshold is not None else ")"
    explained = explain_call(result)
    if explained:
        call_line += f"<br/><font size='8'>{markup(explained)}</font>"
    rows = [["class", "probability"]]
    rows += [[CLASS_LABELS.get(k, k), f"{float(v):.3f}"] for k, v in probs.items()]
    prob_table = Table(rows, colWidths=[45 * mm, 25 * mm])
    prob_table.setStyle(TableStyle([
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
    ]))
    amber = ParagraphStyle("amber", parent=body, fontName="Helvetica-Bold", fontSize=9, leading=11,
                           textColor=colors.white, backColor=colors.HexColor("#b36b00"), borderPadding=2)
    left: list[Any] = [badge, Spacer(1, 1 * mm),
                       # Noto Sans has no ≤ either
                       Paragraph(markup(badge_detail(phase_set).replace("≤", "<=")), body),
                       Paragraph(f"<b>{markup(gaps_text(doc.get('not_acquired') or []))}</b>", body)]
    chip = injection_line(doc, inp.injection_confirmed)
    if chip:
        left += [Spacer(1, 2 * mm), Paragraph(markup(chip), amber)]
    side = contrast_panel_line(doc)
    right: list[Any] = [Paragraph(call_line, body), Spacer(1, 2 * mm)]
    if result.get("malignant_probability") is not None and threshold is not None:
        right += [call_bar(float(result["malignant_probability"]), float(threshold), 95 * mm),
                  Spacer(1, 2 * mm)]
    right.append(prob_table)
    if side:
        right += [Spacer(1, 2 * mm), Paragraph(markup(side.capitalize()), body)]
    story += [
        Table([[left, right]], colWidths=[68 * mm, 100 * mm], style=[("VALIGN", (0, 0), (-1, -1), "TOP")]),
        Spacer(1, 4 * mm),
    ]
    if result.get("evidence"):
        story += _evidence_flowables(result["evidence"], doc, small, styles["Heading3"])

    # nine slot thumbnails, three per row, each with its time and status
    slots = doc.get("slots") or {}
    names = list(slots) or list(SLOT_NAMES)
    cells: list[Any] = []  # flowables, then "" to pad the last row
    w = 52 * mm
    shapes = [p.shape for p in inp.panels.values() if p is not None]
    placeholder_h = w * (shapes[0][0] / shapes[0][1] if shapes else 0.75)  # as tall as a thumbnail
    ev = result.get("evidence") or {}
    livers = ev.get("liver_rois") or {}
    # the evidence's reference slot: the first contrast slot it placed a liver ROI on (protocol order)
    extras = liver_reference_extras(ev, next((n for n in names if n in livers), None))
    for name in names:
        info = slots.get(name)
        panel = inp.panels.get(name)
        if panel is not None:
            thumb = roi_thumbnail(panel, inp.rois.get(name, inp.roi), liver=livers.get(name),
                                  liver_extra=extras.get(name, ()))
            buf = io.BytesIO()
            thumb.save(buf, format="JPEG", quality=88)  # PNG of speckle is ~10x larger
            buf.seek(0)
            flow: Any = RLImage(buf, width=w, height=w * thumb.height / thumb.width)
        else:  # a grey box the size of a thumbnail: the gap is seen, not just read
            flow = Table([[Paragraph("<i>not acquired</i>", small)]], colWidths=[w],
                         rowHeights=[placeholder_h],
                         style=[("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#d0d0d0")),
                                ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                                ("VALIGN", (0, 0), (-1, -1), "MIDDLE")])
        caption = f"<b>{markup(name)}</b>  {markup(pdf_caption(info, doc.get('clips') or []))}"
        if info and info.get("source") and info["source"] != "auto":
            caption += f"  ({markup(str(info['source']))})"
        flagged = flag_text(info)
        if flagged:
            caption += f"<br/><font color='#b36b00'><b>check: {markup(flagged)}</b></font>"
        cells.append([flow, Paragraph(caption, small)])
    grid_rows = [cells[i:i + 3] for i in range(0, len(cells), 3)]
    grid_rows[-1] += [""] * (3 - len(grid_rows[-1]))
    grid = Table(grid_rows, colWidths=[58 * mm] * 3)
    grid_style: list[tuple[Any, ...]] = [("VALIGN", (0, 0), (-1, -1), "TOP"),
                                         ("ALIGN", (0, 0), (-1, -1), "CENTER")]
    for i, name in enumerate(names):  # an amber frame round a doubtful slot
        if flag_text(slots.get(name)):
            grid_style.append(("BOX", (i % 3, i // 3), (i % 3, i // 3), 1.2, colors.HexColor("#ffb300")))
    grid.setStyle(TableStyle(grid_style))
    rois_drawn = "ROI in yellow, liver ROI dashed green" if livers else "ROI in yellow"
    if extras:
        rois_drawn += ", further liver squares read finer and dimmer"
    story += [Paragraph(f"Phase slots ({rois_drawn}; clip, frame of its frames, time after injection m:ss, "
                        "offset from the slot's target)", styles["Heading3"]), grid]

    importance = result.get("phase_importance") or {}
    if importance:
        imp = ", ".join(f"{markup(k)} {float(v):+.3f}" for k, v in importance.items())
        story += [Paragraph("Phase importance - the model's sensitivity to masking each phase (change of the "
                            f"malignant probability when the phase is hidden from the model; not a clinical "
                            f"finding): {imp}", small)]

    model = result.get("model") or {}
    inj = doc.get("injection") or {}
    x, y, w, h = inp.roi
    prov = [
        f"Model: {markup(str(model.get('name')))} version {markup(str(model.get('version')))}",
        f"Model uid: {markup(str(model.get('uid')))}",
        f"Model sha256: {markup(str(model.get('sha256')))}",
        f"Manifest sha256: {markup(str(model.get('manifest_sha256')))}",
        f"Call from: {markup(call_source_text(result))}",
        f"Operating threshold: {markup(str(threshold))}"
        f" ({markup(str(model.get('threshold_source', 'threshold')))})",
        f"ceusdesk {markup(CEUSDESK_VERSION)}, preprocess version {markup(PREPROCESS_VERSION)}",
        f"Injection time: {markup(str(inj.get('time') or 'removed'))}"
        f" (source: {markup(str(inj.get('source')))}"
        + (", confirmed by the user" if inj.get("source") == "estimated" and inp.injection_confirmed else "")
        + ")",
        f"ROI (contrast-panel pixels): x={x}, y={y}, w={w}, h={h}",
    ]
    if not doc.get("patient"):
        prov.insert(0, "De-identified report: no patient name, id, birth date, dates or file paths.")
    if doc.get("study_path"):
        prov.append(f"Study: {markup(str(doc['study_path']))}")
    if doc["report"].get("created"):
        prov.append(f"Report created {markup(doc['report']['created'])}")
    story += [KeepTogether([Paragraph("Provenance", styles["Heading3"])]
                           + [Paragraph(line, small) for line in prov])]

    warnings = list(doc.get("warnings") or [])
    warnings += [{"path": "", "message": m} for m in result.get("warnings") or []]  # the engine's notes
    story.append(Paragraph(f"Warnings ({len(warnings)})", styles["Heading3"]))
    for wr in warnings or [{"path": "", "message": "none"}]:
        text = f"{markup(str(wr.get('path') or ''))}: {markup(str(wr.get('message')))}" if wr.get("path") \
            else markup(str(wr.get("message")))
        story.append(Paragraph(text, warn_style))
    # the reader signs the report: the model's call is an input to their reading, not the reading
    field_style = [("LINEBELOW", (1, 0), (1, -1), 0.6, colors.black), ("FONTSIZE", (0, 0), (-1, -1), 9),
                   ("VALIGN", (0, 0), (-1, -1), "BOTTOM"), ("TOPPADDING", (0, 0), (-1, -1), 7)]
    story += [KeepTogether([
        Paragraph("Reader", styles["Heading3"]),
        Table([["Reader (name)", ""], ["Reading / comment", ""], ["", ""], ["Date", ""], ["Signature", ""]],
              colWidths=[35 * mm, 140 * mm], style=field_style)])]
    story += [Spacer(1, 4 * mm), Paragraph(markup(RESEARCH_USE), ruo)]

    header = Paragraph(markup(page_header(doc)), small)

    def frame(canvas: Any, _doc: Any) -> None:
        """Header and footer of every page (the page count is added by the canvas at the end)."""
        canvas.saveState()
        width, height = A4
        _, h = header.wrap(width - 30 * mm, 10 * mm)
        header.drawOn(canvas, 15 * mm, height - 8 * mm - h)
        canvas.setStrokeColor(colors.grey)
        canvas.line(15 * mm, height - 9.5 * mm - h, width - 15 * mm, height - 9.5 * mm - h)
        canvas.line(15 * mm, 11 * mm, width - 15 * mm, 11 * mm)
        canvas.setFont("Helvetica-Bold", 8)
        canvas.setFillColor(colors.HexColor("#b00020"))
        canvas.drawString(15 * mm, 7 * mm, RESEARCH_USE)
        canvas.restoreState()

    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=18 * mm,
                      bottomMargin=16 * mm, title="ceusdesk report", author="ceusdesk",
                      subject=RESEARCH_USE).build(story, onFirstPage=frame, onLaterPages=frame,
                                                  canvasmaker=_numbered_canvas())
    return out.getvalue()


def render_report(inp: ReportInput, *, deidentify: bool = False) -> tuple[dict[str, Any], bytes]:
    """The report's JSON document and its PDF, in memory (``write_report`` files them; the DICOM results
    encapsulate the same PDF)."""
    doc = report_document(inp, deidentify=deidentify)
    try:
        return doc, _pdf_bytes(doc, inp)
    except LayoutError as err:
        raise ReportLayoutFailed(f"the report could not be laid out ({' '.join(str(err).split())[:160]})") \
            from err


def write_report(pdf_path: str | Path, inp: ReportInput, *, deidentify: bool = False) -> tuple[Path, Path]:
    """Write the PDF and ``<same name>.json`` beside it; returns both paths."""
    pdf_path = Path(pdf_path)
    if pdf_path.suffix.lower() != ".pdf":
        pdf_path = pdf_path.with_name(pdf_path.name + ".pdf")
    doc, pdf = render_report(inp, deidentify=deidentify)
    json_path = pdf_path.with_suffix(".json")
    # both encoded before either is written: a name that is not valid UTF-8 (undecodable file-name
    # bytes) shows as \udcXX instead of failing the JSON after the PDF is on disk
    text = (json.dumps(doc, indent=2, ensure_ascii=False, default=str, allow_nan=False) + "\n"
            ).encode("utf-8", "backslashreplace")
    write_atomic(pdf_path, pdf)
    try:
        write_atomic(json_path, text)
    except OSError:
        pdf_path.unlink(missing_ok=True)  # both or neither
        raise
    log.info("report written: %s and %s", pdf_path.name, json_path.name)
    return pdf_path, json_path
