""""Which panel shows contrast?": both panels of one frame side by side, the user picks one.

Shown when the study cannot tell the contrast side from its cues (design.md, second wave: where ceusdesk
cannot tell, it asks in the app). Analyze stays disabled until the user has answered.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QPushButton, QWidget

from ceusdesk.gui.imaging import thumbnail
from ceusdesk.gui.widgets import named
from ceusdesk.gui.wording import in_app_words

SIDE_THUMB = 96  # the question and the viewer share a 700-pixel-high window


def evidence_text(evidence: list[dict[str, Any]]) -> str:
    """One line per cue: what it favours and how strongly."""
    lines = []
    for e in evidence:
        favours = e.get("favours") or "none"
        strength = e.get("strength")
        amount = f" ({float(strength):.2f})" if isinstance(strength, (int, float)) else ""
        lines.append(f"{e.get('cue', '?')}: {favours}{amount}")
    return "<br>".join(lines)


class SideQuestion(QGroupBox):
    chosen = Signal(str)  # "left" | "right"

    def __init__(self, parent: QWidget | None = None):
        super().__init__("Which panel shows contrast?", parent)
        self.setObjectName("sideQuestion")
        self.text = QLabel("The cues disagree or are weak: pick the contrast panel before analyzing.")
        self.text.setWordWrap(True)
        self.cues = QLabel()
        self.cues.setWordWrap(True)
        self.cues.setStyleSheet("font-size: 8pt; color: #aab")
        self.images = {side: QLabel(alignment=Qt.AlignmentFlag.AlignCenter) for side in ("left", "right")}
        self.buttons = {side: named(QPushButton(f"{side.capitalize()} is contrast"), f"{side}Contrast")
                        for side in ("left", "right")}
        lay = QGridLayout(self)
        lay.addWidget(self.text, 0, 0, 1, 3)
        for col, side in enumerate(("left", "right")):
            self.images[side].setFixedSize(SIDE_THUMB, SIDE_THUMB)
            lay.addWidget(self.images[side], 1, col)
            lay.addWidget(self.buttons[side], 2, col)
            self.buttons[side].setToolTip(f"The {side} panel shows contrast")
            self.buttons[side].setAccessibleName(f"{side.capitalize()} is contrast")
            self.buttons[side].clicked.connect(lambda _=False, s=side: self.chosen.emit(s))
        lay.addWidget(self.cues, 1, 2, 2, 1, Qt.AlignmentFlag.AlignTop)
        lay.setColumnStretch(2, 1)
        self.hide()

    def ask(self, images: dict[str, np.ndarray], evidence: list[dict[str, Any]], current: str | None,
            reason: str = "") -> None:
        for side, label in self.images.items():
            label.setPixmap(thumbnail(images.get(side), None, SIDE_THUMB, label.devicePixelRatioF()))
        shown = evidence_text(evidence)
        guess = ""
        if current:
            why = f" ({in_app_words(reason)})" if reason else ""
            guess = f"Best guess: {current}, not sure{why}."
        self.cues.setText(f"{guess}<br>{shown}" if shown else guess)
        self.show()
