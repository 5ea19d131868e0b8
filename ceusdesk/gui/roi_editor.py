"""ROI editor: draw the shared ROI with the mouse; it applies to every slot (the engine maps it onto panels
of another size and, with tracking on, follows the lesion). Once it exists, dragging on a slot other than
the reference one sets that slot's ROI only (adjusted, in that slot's panel pixels), until reset."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPainter, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ..preprocess import Roi, parse_roi
from .imaging import ROI_COLOUR, draw_liver, to_qimage
from .widgets import ElidedLabel, describe


class RoiCanvas(QWidget):
    """The panel image; press-drag-release draws a rectangle (emitted in image pixels)."""

    roiDrawn = Signal(tuple)  # noqa: N815

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.image = None
        self.roi: Roi | None = None
        self.liver: Roi | None = None  # the last analysis's reference liver ROI on this slot (drawn only)
        self._start: QPoint | None = None
        self._drag: QRect | None = None
        self.setMinimumSize(180, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.CrossCursor)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(380, 320)

    def set_image(self, arr: np.ndarray | None, roi: Roi | None, liver: Roi | None = None) -> None:
        self.image = None if arr is None else to_qimage(arr)
        self.roi = roi
        self.liver = liver
        self.update()

    def _geometry(self) -> tuple[float, float, float]:
        iw, ih = self.image.width(), self.image.height()
        s = min(self.width() / iw, self.height() / ih)
        return s, (self.width() - iw * s) / 2, (self.height() - ih * s) / 2

    def widget_to_image(self, pos: QPoint) -> tuple[int, int]:
        s, ox, oy = self._geometry()
        x = min(max((pos.x() - ox) / s, 0), self.image.width())
        y = min(max((pos.y() - oy) / s, 0), self.image.height())
        return round(x), round(y)

    def image_to_widget(self, x: float, y: float) -> QPoint:
        s, ox, oy = self._geometry()
        return QPoint(round(ox + x * s), round(oy + y * s))

    def mousePressEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if self.image is not None and e.button() == Qt.MouseButton.LeftButton:
            self._start = e.position().toPoint()
            self._drag = QRect(self._start, self._start)

    def mouseMoveEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if self._start is not None:
            self._drag = QRect(self._start, e.position().toPoint()).normalized()
            self.update()

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if self._start is None:
            return
        x0, y0 = self.widget_to_image(self._start)
        x1, y1 = self.widget_to_image(e.position().toPoint())
        self._start = self._drag = None
        x, y, w, h = min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)
        if w >= 4 and h >= 4:  # a click, not a drag: keep the old ROI
            self.roi = (x, y, w, h)
            self.roiDrawn.emit(self.roi)
        self.update()

    def paintEvent(self, _e) -> None:  # noqa: N802
        p = QPainter(self)
        p.fillRect(self.rect(), Qt.GlobalColor.black)
        if self.image is None:
            p.setPen(Qt.GlobalColor.gray)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "select a slot to draw the ROI")
            p.end()
            return
        s, ox, oy = self._geometry()
        w, h = self.image.width(), self.image.height()
        p.drawImage(QRect(round(ox), round(oy), round(w * s), round(h * s)), self.image)
        if self.liver is not None:
            x, y, w, h = self.liver
            draw_liver(p, QRect(self.image_to_widget(x, y), self.image_to_widget(x + w, y + h)))
        p.setPen(QPen(ROI_COLOUR, 2))
        if self.roi is not None:
            x, y, w, h = self.roi
            p.drawRect(QRect(self.image_to_widget(x, y), self.image_to_widget(x + w, y + h)))
        if self._drag is not None:
            p.setPen(QPen(ROI_COLOUR, 1, Qt.PenStyle.DashLine))
            p.drawRect(self._drag)
        p.end()


# what dragging on the shown slot does: set the shared ROI, or adjust this slot's ROI only
SHARED, PLACED, ADJUSTED = "shared", "placed", "adjusted"


class RoiEditor(QWidget):
    roiChanged = Signal(str, tuple)  # noqa: N815  slot it was drawn on, roi
    resetRequested = Signal(str)  # noqa: N815  slot whose hand-set ROI goes back to the shared one
    trackingChanged = Signal(bool)  # noqa: N815
    typed = Signal()  # an ROI typed in the box was taken

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.slot: str | None = None
        self.mode = SHARED
        # the title changes with the slot: it must not resize the canvas under the user's mouse (elided)
        self.title = ElidedLabel("ROI — select a slot", objectName="roiTitle")
        self.canvas = RoiCanvas()
        self.canvas.roiDrawn.connect(self._drawn)
        describe(self.canvas, "ROI canvas", "Drag a rectangle around the lesion")
        self.text = QLineEdit(placeholderText="X,Y,W,H")
        describe(self.text, "ROI X,Y,W,H", "Type the ROI as X,Y,W,H in panel pixels and press Enter "
                                           "(Ctrl+L, or Enter on a slot card, comes here)")
        self.text.setMinimumWidth(110)
        self.text.setMaximumWidth(170)
        self.text.returnPressed.connect(self._typed)
        self.track = QCheckBox("track lesion")
        describe(self.track, "Track lesion",
                 "Let the ROI follow the lesion from slot to slot (the analysis shows where)")
        self.track.toggled.connect(self.trackingChanged)
        self.reset = QPushButton("Reset to shared ROI", objectName="roiReset")
        describe(self.reset, "Reset to shared ROI",
                 "Forget this slot's hand-set ROI: the shared ROI is placed here again")
        self.reset.setEnabled(False)
        self.reset.clicked.connect(self._reset)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #ff8a80")
        self.error.hide()  # shown with a message only: on a short screen every line counts
        row = QHBoxLayout()
        for w in (self.text, self.track):
            row.addWidget(w)
        row.addStretch(1)
        row2 = QHBoxLayout()
        row2.addWidget(self.reset)
        row2.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.title)
        lay.addWidget(self.canvas, 1)
        lay.addLayout(row)
        lay.addLayout(row2)
        lay.addWidget(self.error)

    def show_slot(self, slot: str, panel: np.ndarray | None, roi: Roi | None, mode: str = SHARED,
                  liver: Roi | None = None) -> None:
        """Show ``slot`` with ``roi``; ``mode`` says what a drag does there (SHARED, PLACED, ADJUSTED);
        ``liver``: the current result's reference liver ROI on this slot, drawn dashed."""
        self.slot, self.mode = slot, mode
        if mode == ADJUSTED:
            self.title.setText(f"ROI for slot {slot} (adjusted)")
        elif mode == PLACED:
            self.title.setText(f"ROI for slot {slot} (shared ROI) - drag to adjust this slot only")
        else:
            self.title.setText(f"Shared ROI on slot {slot} - applies to every slot (drag to draw)")
        self.reset.setEnabled(mode == ADJUSTED)
        self.canvas.set_image(panel, roi, liver)
        self.text.setText("" if roi is None else ",".join(str(v) for v in roi))

    def _drawn(self, roi: tuple) -> None:
        self.text.setText(",".join(str(v) for v in roi))
        self.error.clear()
        self.error.hide()
        if self.slot is not None:
            self.roiChanged.emit(self.slot, tuple(roi))

    def _reset(self) -> None:
        if self.slot is not None:
            self.resetRequested.emit(self.slot)

    def _typed(self) -> None:
        try:
            roi = parse_roi(self.text.text())
        except ValueError as err:
            self.error.setText(str(err))
            self.error.show()
            return
        self.canvas.roi = roi
        self.canvas.update()
        self._drawn(roi)
        self.typed.emit()
