"""The enhancement evidence beside the call: the disagreement line (highlighted) when the features and
the model point different ways, an amber "borderline" marker when a finding is within the measurement's
uncertainty, the features with their ranges, the readout, and the time-intensity curve (folding).
Derived measurements, not a diagnosis (docs/evidence.md)."""
from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ceusdesk.gui.curve_panel import CurvePanel
from ceusdesk.gui.widgets import Details
from ceusdesk.gui.widgets import wrapped as _wrapped
from ceusdesk.gui.wording import in_app_words
from ceusdesk.outputs.evidence_wording import (
    BORDERLINE_COLOUR,
    DERIVED_NOTE,
    borderline_features,
    feature_rows,
)

TITLE = f"Enhancement evidence — {DERIVED_NOTE.lower().rstrip('.')}"
BORDERLINE_NAMES = {"washout onset": "washout", "Kupffer defect": "Kupffer-phase defect"}
BORDERLINE_STYLE = (f"color:{BORDERLINE_COLOUR}; border:1px solid {BORDERLINE_COLOUR}; font-weight:bold; "
                    "padding:2px;")


class EvidencePanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.evidence: dict[str, Any] | None = None
        self.title = _wrapped(f"<b>{escape(TITLE)}</b>", objectName="evidenceTitle")
        self.disagreement = _wrapped("", objectName="evidenceDisagreement")
        self.disagreement.setStyleSheet("background:#b00020; color:white; font-weight:bold; padding:3px;")
        # a finding the measurement cannot tell (its range straddles the threshold): said, never firm
        self.borderline = _wrapped("", objectName="evidenceBorderline")
        self.borderline.setStyleSheet(BORDERLINE_STYLE)
        self.features = _wrapped("", objectName="evidenceFeatures")
        self.readout = _wrapped("", objectName="evidenceReadout")
        # where the reference liver ROI came from (set by the user or automatic) and what that implies
        # (an overlap with the lesion ROI): the core's own notes, shown, not only in a tooltip
        self.liver = _wrapped("", objectName="evidenceLiver")
        self.curve = CurvePanel()
        self.curve_section = Details("Curve: lesion vs liver over time", self.curve, expanded=True)
        # the lines are escaped HTML: read as such even without a tag, or "liver's" shows as "liver&#x27;s"
        for label in (self.disagreement, self.borderline, self.features, self.liver, self.readout):
            label.setTextFormat(Qt.TextFormat.RichText)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 0)
        lay.setSpacing(3)
        for w in (self.title, self.disagreement, self.borderline, self.features, self.liver, self.readout,
                  self.curve_section):
            lay.addWidget(w)
        self.clear()

    def clear(self) -> None:
        self.evidence = None
        self.curve.clear()
        for label in (self.disagreement, self.borderline, self.features, self.liver, self.readout):
            label.setText("")
        self.readout.setToolTip("")
        self.borderline.setToolTip("")
        self.borderline.hide()
        self.hide()

    def show_evidence(self, ev: Mapping[str, Any] | None, slot_times: Mapping[str, float]) -> None:
        """``ev``: ``result.evidence`` (None: the analysis has none; the panel stays hidden)."""
        self.clear()
        if not ev:
            return
        self.evidence = dict(ev)
        line = ev.get("disagreement")
        self.disagreement.setText(escape(str(line)) if line else "")
        self.disagreement.setVisible(bool(line))
        borderline = borderline_features(ev)
        rows = "".join(f"<tr><td>{escape(k)}&nbsp;</td><td>{_value(v, k in borderline)}</td></tr>"
                       for k, v in feature_rows(ev))
        self.features.setText(f"<table cellspacing='0' cellpadding='1'>{rows}</table>")
        self.features.setToolTip("\n\n".join(dict.fromkeys(borderline.values())))
        if borderline:
            names = ", ".join(BORDERLINE_NAMES[k] for k in borderline if k in BORDERLINE_NAMES)
            self.borderline.setText(f"BORDERLINE: {escape(names)} — the measurement cannot tell; not a "
                                    "finding (hover for why)")
            why = "\n\n".join(dict.fromkeys(borderline.values()))
            self.borderline.setToolTip(why)
            self.borderline.setAccessibleName(f"Borderline: {names}")
            self.borderline.setAccessibleDescription(why)
            self.borderline.show()
        self.liver.setText(escape(liver_line(ev)))
        # the first readout line is the "not a diagnosis" header, already the title
        lines = [str(x) for x in (ev.get("readout") or [])[1:]]
        self.readout.setText("<br>".join(escape(x) for x in lines))
        assumptions = ev.get("assumptions") or []
        self.readout.setToolTip("Assumed: " + "; ".join(str(a) for a in assumptions) if assumptions else "")
        self.curve.set_evidence(ev, slot_times)
        self.show()

    def text(self) -> str:
        """Everything shown as text (disagreement, features, readout), for tests and accessibility."""
        return "\n".join(w.text() for w in (self.title, self.disagreement, self.borderline, self.features,
                                             self.liver, self.readout))


def _value(text: str, borderline: bool) -> str:
    """A feature's value: bold; amber when borderline, so it never reads as a firm finding."""
    if borderline:
        return f"<b><span style='color:{BORDERLINE_COLOUR}'>{escape(text)}</span></b>"
    return f"<b>{escape(text)}</b>"


def liver_line(ev: Mapping[str, Any]) -> str:
    """"Liver ROI 120,80,30,30: liver ROI given by the user; …": the reference liver ROI and the core's
    notes about it (how it was placed, an overlap with the lesion ROI, why none could be placed)."""
    notes = [in_app_words(str(a)) for a in ev.get("assumptions") or []
             if "liver ROI" in str(a) or "liver region" in str(a)]
    roi = ev.get("liver_roi")
    head = "Liver ROI " + ",".join(str(int(v)) for v in roi) if roi else "Liver ROI: none"
    return f"{head}: {'; '.join(notes)}" if notes else head
