"""Result panel: the EARLY SET / FULL SET badge with the slots not acquired, chips for what the user
confirmed (an estimated injection time, the contrast side), the call and how it follows from the numbers
(malignant = HCC + non-HCC malignant against the operating threshold of the phase set used, on a
benign-vs-malignant bar with the uncertain band), the three probabilities, and under Details the phase
importance (the model's sensitivity to masking a phase) and the model's provenance; below the call, the
enhancement evidence (features, readout, curve: :class:`EvidencePanel`)."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from ceusdesk import RESEARCH_USE
from ceusdesk.base.protocol import SLOT_NAMES
from ceusdesk.gui.call_view import IMPORTANCE_SCALE, CallBar, ImportanceBars
from ceusdesk.gui.evidence_panel import EvidencePanel
from ceusdesk.gui.widgets import Details, named
from ceusdesk.gui.widgets import wrapped as _wrapped
from ceusdesk.outputs.wording import (
    CLASS_LABELS,
    UNCERTAIN_BAND,
    badge_detail,
    badge_text,
    call_source_text,
    explain_call,
    gaps_text,
)

IMPORTANCE_NOTE = (f"The model's sensitivity to masking each phase: how much the malignant probability "
                   f"changes when that phase is hidden from the model (bars to ±{IMPORTANCE_SCALE:g}). "
                   "A property of the model, not a clinical finding.")


def _bar(maximum: int = 1000) -> QProgressBar:
    bar = QProgressBar()
    bar.setRange(0, maximum)
    bar.setTextVisible(True)
    return bar


class ResultPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.result: dict[str, Any] | None = None
        self.badge = named(QLabel("NO RESULT", alignment=Qt.AlignmentFlag.AlignCenter), "badge")
        self.badge.setProperty("phaseSet", "incomplete")
        self.badge_detail = _wrapped("", alignment=Qt.AlignmentFlag.AlignCenter, objectName="badgeDetail")
        self.gaps = _wrapped("", objectName="badgeGaps", alignment=Qt.AlignmentFlag.AlignCenter)
        self.chips = _wrapped("", objectName="estimatedChip", alignment=Qt.AlignmentFlag.AlignCenter)
        self.chips.hide()
        self.due = _wrapped("", objectName="kupfferDue", alignment=Qt.AlignmentFlag.AlignCenter)
        self.due.hide()
        self.call = _wrapped("Draw the ROI and press Analyze (Ctrl+R).", objectName="callLine")
        self.call_bar = CallBar()
        self.explain = _wrapped("", objectName="callExplained")
        self.probs: dict[str, QProgressBar] = {}
        grid = QGridLayout()
        grid.setVerticalSpacing(2)
        for i, (key, label) in enumerate(CLASS_LABELS.items()):
            grid.addWidget(QLabel(label), i, 0)
            self.probs[key] = _bar()
            self.probs[key].setAccessibleName(f"{label} probability")
            self.probs[key].setToolTip(f"{label} probability")
            grid.addWidget(self.probs[key], i, 1)
        self.evidence = EvidencePanel()
        self.importance = ImportanceBars(SLOT_NAMES)
        self.model = _wrapped("model: —")
        self.model.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        details = QWidget()
        dl = QVBoxLayout(details)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.addWidget(_wrapped(IMPORTANCE_NOTE, objectName="importanceNote"))
        dl.addWidget(self.importance)
        dl.addWidget(self.model)
        self.details = Details("Details: phase importance, model", details)
        self.ruo = _wrapped(RESEARCH_USE, objectName="researchUse")
        lay = QVBoxLayout(self)
        lay.setSpacing(4)
        lay.addWidget(self.badge)
        lay.addWidget(self.badge_detail)
        lay.addWidget(self.gaps)
        lay.addWidget(self.chips)
        lay.addWidget(self.due)
        lay.addWidget(self.call)
        lay.addWidget(self.call_bar)
        lay.addWidget(self.explain)
        lay.addLayout(grid)
        lay.addWidget(self.evidence)
        lay.addWidget(self.details)
        lay.addStretch(1)
        lay.addWidget(self.ruo)
        self.clear()

    def _set_badge(self, text: str, phase_set: str) -> None:
        self.badge.setText(text)
        self.badge_detail.setText(badge_detail(phase_set) if text != "NO RESULT" else "")
        self.badge_detail.setVisible(bool(self.badge_detail.text()))
        self.badge.setProperty("phaseSet", phase_set)
        self.badge.style().unpolish(self.badge)
        self.badge.style().polish(self.badge)

    def set_due(self, text: str) -> None:
        """"Kupffer phase due at 10:42 (in 3:05)" while an early-set exam may still be running."""
        self.due.setText(text)
        self.due.setVisible(bool(text))

    def clear(self, message: str = "Draw the ROI and press Analyze (Ctrl+R).") -> None:
        self.result = None
        self._set_badge("NO RESULT", "incomplete")
        self.gaps.setText("")
        self.gaps.hide()
        self.chips.hide()
        self.call.setText(message)
        self.call_bar.set_values(None, None)
        self.call_bar.hide()
        self.explain.setText("")
        self.explain.hide()
        for bar in self.probs.values():
            bar.setValue(0)
            bar.setFormat("—")
        self.importance.set_values({})
        self.evidence.clear()
        self.model.setText("model: —")

    def show_result(self, result: dict[str, Any], gaps: list[str] | None = None,
                    chips: list[str] | None = None, slot_times: dict[str, float] | None = None) -> None:
        """``gaps``: the slots not acquired (the badge's second line); ``chips``: what the result rests on
        that the user confirmed (an estimated injection time, a contrast side chosen by hand);
        ``slot_times``: slot → its frame's time (s), marked on the evidence curve."""
        self.result = result
        phase_set = str(result.get("phase_set"))
        self._set_badge(badge_text(phase_set), phase_set)
        self.gaps.setText(gaps_text(gaps or []))
        self.gaps.show()
        self.chips.setText("<br>".join(chips or []))
        self.chips.setVisible(bool(chips))
        mal = result.get("malignant_probability")
        thr = result.get("threshold")
        text = (f"Call: <b>{str(result.get('call', '—')).upper()}</b>"
                f" <small>from the {call_source_text(result)}</small>")
        if mal is not None and thr is not None and abs(float(mal) - float(thr)) < UNCERTAIN_BAND:
            text += " <span style='color:#ffb300'>(uncertain: near the threshold)</span>"
        self.call.setText(text)
        self.call_bar.set_values(None if mal is None else float(mal), None if thr is None else float(thr))
        self.call_bar.show()
        self.explain.setText(explain_call(result))
        self.explain.setVisible(bool(self.explain.text()))
        for key, bar in self.probs.items():
            p = float((result.get("probabilities") or {}).get(key, 0.0))
            bar.setValue(round(p * 1000))
            bar.setFormat(f"{p:.3f}")
        self.importance.set_values(result.get("phase_importance") or {})
        self.evidence.show_evidence(result.get("evidence"), slot_times or {})
        m = result.get("model") or {}
        self.model.setText(f"model: <b>{m.get('name')}</b> {m.get('version')}<br>uid {m.get('uid')}"
                           f"<br><small>sha256 {str(m.get('sha256'))[:16]}…</small>")
