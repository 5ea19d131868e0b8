"""How the call follows from the numbers, drawn: the benign-vs-malignant bar with the operating threshold
and the uncertain band round it, and the phase-importance bars (signed, on a fixed scale)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import QRectF, QSize
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from ceusdesk.outputs.wording import UNCERTAIN_BAND

BENIGN = QColor("#3a8f5c")
MALIGNANT = QColor("#c0504d")
BAND = QColor(255, 179, 0, 90)
TRACK = QColor("#15171b")
TEXT = QColor("#e6e6e6")
IMPORTANCE_SCALE = 0.5  # the bars' fixed full scale (Δ malignant probability); longer ones are cut and marked


class CallBar(QWidget):
    """0 … 1 malignant probability: green (benign) below the threshold tick, red above, the band
    threshold ± ``UNCERTAIN_BAND`` shaded amber, a marker at the case's value."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.value: float | None = None
        self.threshold: float | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("benign-versus-malignant bar")

    def set_values(self, value: float | None, threshold: float | None) -> None:
        self.value, self.threshold = value, threshold
        if value is None or threshold is None:
            self.setToolTip("no result")
        else:
            self.setToolTip(f"malignant probability {value:.2f}; operating threshold {threshold:.2f}; "
                            f"shaded: within ±{UNCERTAIN_BAND:.2f} of the threshold, an uncertain call")
        self.setAccessibleDescription(self.toolTip())
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(220, self.minimumSizeHint().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(120, 18 + self.fontMetrics().height() + 4)

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        fm = self.fontMetrics()
        x0, w = 4.0, max(1.0, self.width() - 8.0)
        bar = QRectF(x0, 2, w, 14)
        p.fillRect(bar, TRACK)
        if self.threshold is not None:
            t = min(max(self.threshold, 0.0), 1.0)
            lo, hi = max(0.0, t - UNCERTAIN_BAND), min(1.0, t + UNCERTAIN_BAND)
            if self.value is not None:
                v = min(max(self.value, 0.0), 1.0)
                p.fillRect(QRectF(x0, 4, w * v, 10), MALIGNANT if self.value >= self.threshold else BENIGN)
            p.fillRect(QRectF(x0 + w * lo, 0, w * (hi - lo), 18), BAND)
            p.setPen(QPen(TEXT, 2))
            p.drawLine(round(x0 + w * t), 0, round(x0 + w * t), 18)
        p.setPen(TEXT)
        y = 18 + fm.ascent() + 2
        p.drawText(round(x0), y, "benign")
        right = "malignant"
        p.drawText(round(x0 + w - fm.horizontalAdvance(right)), y, right)
        if self.threshold is not None:
            label = f"threshold {self.threshold:.2f}"
            lx = x0 + w * min(max(self.threshold, 0.0), 1.0) - fm.horizontalAdvance(label) / 2
            lx = min(max(lx, x0 + fm.horizontalAdvance("benign ")),
                     x0 + w - fm.horizontalAdvance(right + " ") - fm.horizontalAdvance(label))
            p.drawText(round(lx), y, label)
        p.end()


class ImportanceBars(QWidget):
    """One row per slot: a bar right (masking it raises the malignant probability) or left (lowers it),
    on the fixed scale ±``IMPORTANCE_SCALE``; "not used" for slots the analysis did not use."""

    def __init__(self, slots: Sequence[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.slots = list(slots)
        self.values: dict[str, float] = {}
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName("phase importance bars")

    def set_values(self, values: Mapping[str, float]) -> None:
        self.values = {k: float(v) for k, v in values.items()}
        lines = [f"{s}: {self.values[s]:+.3f}" if s in self.values else f"{s}: not used" for s in self.slots]
        self.setToolTip("\n".join(lines))
        self.setAccessibleDescription("; ".join(lines))
        self.update()

    def _row(self) -> int:
        return self.fontMetrics().height() + 2

    def minimumSizeHint(self) -> QSize:
        fm = self.fontMetrics()
        return QSize(fm.horizontalAdvance("10:00 ") + 80 + fm.horizontalAdvance(" +0.000"),
                     self._row() * (len(self.slots) + 1))

    def sizeHint(self) -> QSize:
        return QSize(240, self.minimumSizeHint().height())

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        fm = self.fontMetrics()
        row = self._row()
        name_w = fm.horizontalAdvance("10:00 ")
        value_w = fm.horizontalAdvance(" +0.000")
        x0, w = name_w, max(20, self.width() - name_w - value_w)
        mid = x0 + w / 2
        for i, slot in enumerate(self.slots):
            y = i * row
            p.setPen(TEXT)
            p.drawText(0, y + fm.ascent(), slot)
            p.fillRect(QRectF(x0, y + 2, w, row - 4), TRACK)
            if slot not in self.values:
                p.setPen(QColor("#8a8f98"))
                p.drawText(round(x0 + w + 4), y + fm.ascent(), "not used")
                continue
            v = self.values[slot]
            frac = min(abs(v) / IMPORTANCE_SCALE, 1.0)
            colour = MALIGNANT if v > 0 else BENIGN
            left = mid if v >= 0 else mid - w / 2 * frac
            p.fillRect(QRectF(left, y + 3, w / 2 * frac, row - 6), colour)
            if abs(v) > IMPORTANCE_SCALE:  # off the scale: an arrow-like cap
                p.setPen(QPen(TEXT, 2))
                edge = x0 + w if v > 0 else x0
                p.drawLine(round(edge), y + 2, round(edge), y + row - 2)
            p.setPen(TEXT)
            p.drawText(round(x0 + w + 4), y + fm.ascent(), f"{v:+.3f}")
        y = len(self.slots) * row
        p.setPen(QPen(QColor("#8a8f98"), 1))
        p.drawLine(round(mid), 0, round(mid), y)
        scale = f"−{IMPORTANCE_SCALE:g}"
        p.drawText(round(x0), y + fm.ascent(), scale)
        p.drawText(round(mid - fm.horizontalAdvance("0") / 2), y + fm.ascent(), "0")
        p.drawText(round(x0 + w - fm.horizontalAdvance(f"+{IMPORTANCE_SCALE:g}")), y + fm.ascent(),
                   f"+{IMPORTANCE_SCALE:g}")
        p.end()
