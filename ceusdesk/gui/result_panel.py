"""Result panel: the EARLY SET / FULL SET badge with the slots not acquired, chips for what the user
confirmed (an estimated injection time, the contrast side), three probabilities, the call, phase
importance, the model's provenance and "research use only"."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from .. import RESEARCH_USE
from ..protocol import SLOT_NAMES
from ..report import badge_detail, badge_text, gaps_text

CLASS_LABELS = {"benign": "benign", "hcc": "HCC", "non_hcc_malignant": "non-HCC malignant"}


def _bar(maximum: int = 1000) -> QProgressBar:
    bar = QProgressBar()
    bar.setRange(0, maximum)
    bar.setTextVisible(True)
    return bar


class ResultPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.result: dict[str, Any] | None = None
        self.badge = QLabel("NO RESULT", objectName="badge", alignment=Qt.AlignmentFlag.AlignCenter)
        self.badge.setProperty("phaseSet", "incomplete")
        self.badge_detail = QLabel("", alignment=Qt.AlignmentFlag.AlignCenter)
        self.badge_detail.setWordWrap(True)
        self.badge_detail.setStyleSheet("font-size: 12pt; font-weight: bold")
        self.gaps = QLabel("", objectName="badgeGaps", alignment=Qt.AlignmentFlag.AlignCenter)
        self.gaps.setWordWrap(True)
        self.chips = QLabel("", objectName="estimatedChip", alignment=Qt.AlignmentFlag.AlignCenter)
        self.chips.setWordWrap(True)
        self.chips.hide()
        self.call = QLabel("Draw the ROI and press Analyze (Ctrl+R).")
        self.call.setWordWrap(True)
        self.call.setStyleSheet("font-size: 13pt")
        self.probs: dict[str, QProgressBar] = {}
        grid = QGridLayout()
        grid.setVerticalSpacing(2)
        for i, (key, label) in enumerate(CLASS_LABELS.items()):
            grid.addWidget(QLabel(label), i, 0)
            self.probs[key] = _bar()
            grid.addWidget(self.probs[key], i, 1)
        self.importance: dict[str, QProgressBar] = {}
        imp = QGridLayout()
        imp.setVerticalSpacing(1)  # nine rows must fit beside the badge at 1280×800
        imp.addWidget(QLabel("phase importance (Δ malignant probability without the slot)"), 0, 0, 1, 2)
        for i, slot in enumerate(SLOT_NAMES, start=1):
            imp.addWidget(QLabel(slot), i, 0)
            bar = _bar()
            bar.setMaximumHeight(14)
            self.importance[slot] = bar
            imp.addWidget(bar, i, 1)
        self.model = QLabel("model: —")
        self.model.setWordWrap(True)
        self.model.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.ruo = QLabel(RESEARCH_USE, objectName="researchUse")
        self.ruo.setWordWrap(True)
        lay = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(self.badge, 1)
        lay.addLayout(top)
        lay.addWidget(self.badge_detail)
        lay.addWidget(self.gaps)
        lay.addWidget(self.chips)
        lay.addWidget(self.call)
        lay.addLayout(grid)
        lay.addLayout(imp)
        lay.addWidget(self.model)
        lay.addStretch(1)
        lay.addWidget(self.ruo)

    def _set_badge(self, text: str, phase_set: str) -> None:
        self.badge.setText(text)
        self.badge_detail.setText(badge_detail(phase_set) if text != "NO RESULT" else "")
        self.badge.setProperty("phaseSet", phase_set)
        self.badge.style().unpolish(self.badge)
        self.badge.style().polish(self.badge)

    def clear(self, message: str = "Draw the ROI and press Analyze (Ctrl+R).") -> None:
        self.result = None
        self._set_badge("NO RESULT", "incomplete")
        self.gaps.setText("")
        self.chips.hide()
        self.call.setText(message)
        for bar in [*self.probs.values(), *self.importance.values()]:
            bar.setValue(0)
            bar.setFormat("—")
        self.model.setText("model: —")

    def show_result(self, result: dict[str, Any], gaps: list[str] | None = None,
                    chips: list[str] | None = None) -> None:
        """``gaps``: the slots not acquired (the badge's second line); ``chips``: what the result rests on
        that the user confirmed (an estimated injection time, a contrast side chosen by hand)."""
        self.result = result
        phase_set = str(result.get("phase_set"))
        self._set_badge(badge_text(phase_set), phase_set)
        self.gaps.setText(gaps_text(gaps or []))
        self.chips.setText("<br>".join(chips or []))
        self.chips.setVisible(bool(chips))
        mal = result.get("malignant_probability")
        thr = result.get("threshold")
        text = f"Call: <b>{str(result.get('call', '—')).upper()}</b>"
        if mal is not None:
            text += f" — malignant probability {float(mal):.2f}"
            which = str((result.get("model") or {}).get("threshold_source") or "")
            which = f", {which.split('.')[-1]} set" if which.startswith("thresholds.") else ""
            text += f" (threshold {float(thr):.2f}{which})" if thr is not None else ""
        self.call.setText(text)
        for key, bar in self.probs.items():
            p = float((result.get("probabilities") or {}).get(key, 0.0))
            bar.setValue(round(p * 1000))
            bar.setFormat(f"{p:.3f}")
        importance = result.get("phase_importance") or {}
        scale = max([abs(float(v)) for v in importance.values()] + [1e-9])
        for slot, bar in self.importance.items():
            if slot in importance:
                v = float(importance[slot])
                bar.setValue(round(abs(v) / scale * 1000))
                bar.setFormat(f"{v:+.3f}")
            else:
                bar.setValue(0)
                bar.setFormat("not used")
        m = result.get("model") or {}
        self.model.setText(f"model: <b>{m.get('name')}</b> {m.get('version')}<br>uid {m.get('uid')}"
                           f"<br><small>sha256 {str(m.get('sha256'))[:16]}…</small>")
