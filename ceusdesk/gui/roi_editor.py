"""ROI editor: draw the shared ROI with the mouse; it applies to every slot (the engine maps it onto panels
of another size and, with tracking on, follows the lesion). Once it exists, dragging on a slot other than
the reference one sets that slot's ROI only (adjusted, in that slot's panel pixels), until reset.

*Liver ROI* mode (the button, or Ctrl+Shift+L) edits the evidence's reference liver ROI instead, on the
reference slot's contrast image (contrast-panel pixels, like the shared ROI): drag to place it, drag
inside it to move it, drag an edge or corner to resize it; *Reset liver ROI* goes back to automatic
placement."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QImage, QMouseEvent, QPainter, QPen
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

from ceusdesk.base.roi import Roi, parse_roi
from ceusdesk.gui.imaging import LIVER_COLOUR, ROI_COLOUR, draw_liver, draw_liver_reference, to_qimage
from ceusdesk.gui.widgets import ElidedLabel, describe, named

HANDLE_PX = 6  # a press this near (screen pixels) an edge of the liver ROI resizes it; further in moves it
MIN_SIDE = 4  # image pixels: a smaller drag is a click, not an ROI
# the cursor over each part of the liver ROI (edges it grabs: l, r, t, b)
CURSORS = {"l": Qt.CursorShape.SizeHorCursor, "r": Qt.CursorShape.SizeHorCursor,
           "t": Qt.CursorShape.SizeVerCursor, "b": Qt.CursorShape.SizeVerCursor,
           "lt": Qt.CursorShape.SizeFDiagCursor, "rb": Qt.CursorShape.SizeFDiagCursor,
           "rt": Qt.CursorShape.SizeBDiagCursor, "lb": Qt.CursorShape.SizeBDiagCursor,
           "inside": Qt.CursorShape.SizeAllCursor}


class RoiCanvas(QWidget):
    """The panel image; press-drag-release draws a rectangle (emitted in image pixels). With
    ``editing_liver`` the drag acts on the liver ROI: a new one, or the shown one moved or resized."""

    roiDrawn = Signal(tuple)
    liverDrawn = Signal(tuple)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.image: QImage | None = None
        self.roi: Roi | None = None
        self.liver: Roi | None = None  # the reference liver ROI on this slot (the result's, or the user's)
        # the further squares the result read the liver's level over (automatic placement only)
        self.liver_extra: list[Roi] = []
        self.editing_liver = False
        self._start: QPoint | None = None
        self._drag: QRect | None = None
        self._grab: str | None = None  # what a liver drag holds: "new", "inside" or the edges ("lt", "r" …)
        self._liver_preview: Roi | None = None
        self.setMinimumSize(180, 120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.CrossCursor)

    def sizeHint(self) -> QSize:
        return QSize(380, 320)

    def set_image(self, arr: np.ndarray | None, roi: Roi | None, liver: Roi | None = None,
                  liver_extra: Sequence[Roi] = ()) -> None:
        self.image = None if arr is None else to_qimage(arr)
        self.roi = roi
        self.liver = liver
        self.liver_extra = list(liver_extra)
        self.update()

    def set_editing_liver(self, on: bool) -> None:
        self.editing_liver = bool(on)
        self.setMouseTracking(self.editing_liver)  # the cursor shows what a press would grab
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.update()

    def _shown(self) -> QImage:
        """The image the widget and image coordinates map between: a drag starts only over one
        (``mousePressEvent``), and the ROIs are painted only on one."""
        if self.image is None:
            raise RuntimeError("no image shown: widget and image pixels do not map")
        return self.image

    def _geometry(self) -> tuple[float, float, float]:
        image = self._shown()
        iw, ih = image.width(), image.height()
        s = min(self.width() / iw, self.height() / ih)
        return s, (self.width() - iw * s) / 2, (self.height() - ih * s) / 2

    def widget_to_image(self, pos: QPoint) -> tuple[int, int]:
        image = self._shown()
        s, ox, oy = self._geometry()
        x = min(max((pos.x() - ox) / s, 0), image.width())
        y = min(max((pos.y() - oy) / s, 0), image.height())
        return round(x), round(y)

    def image_to_widget(self, x: float, y: float) -> QPoint:
        s, ox, oy = self._geometry()
        return QPoint(round(ox + x * s), round(oy + y * s))

    def liver_part(self, pos: QPoint) -> str | None:
        """Which part of the liver ROI a press at ``pos`` grabs: "inside", the edges near it ("l", "rb" …),
        or None (outside: a press there draws a new one)."""
        if self.liver is None or self.image is None:
            return None
        x, y, w, h = self.liver
        a, b = self.image_to_widget(x, y), self.image_to_widget(x + w, y + h)
        # on a small ROI the edge zones must leave room to move it
        near = max(1, min(HANDLE_PX, (b.x() - a.x()) // 4, (b.y() - a.y()) // 4))
        px, py = pos.x(), pos.y()
        if not (a.x() - near <= px <= b.x() + near and a.y() - near <= py <= b.y() + near):
            return None
        edges = "l" if abs(px - a.x()) <= near else "r" if abs(px - b.x()) <= near else ""
        edges += "t" if abs(py - a.y()) <= near else "b" if abs(py - b.y()) <= near else ""
        return edges or "inside"

    def _held_liver(self) -> Roi | None:
        """The liver ROI a liver drag moves or resizes; None: the drag draws a new one (the press grabbed
        none, or the ROI went meanwhile)."""
        return None if self._grab in (None, "new") else self.liver

    def _liver_dragged(self, start: QPoint, pos: QPoint) -> Roi:
        """The liver ROI as the drag from ``start`` to ``pos`` leaves it (kept inside the image)."""
        image = self._shown()
        W, H = image.width(), image.height()
        grab, held = self._grab, self._held_liver()
        if grab is None or held is None:
            (x0, y0), (x1, y1) = self.widget_to_image(start), self.widget_to_image(pos)
            return min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)
        x, y, w, h = held
        if grab == "inside":
            s, _, _ = self._geometry()
            dx, dy = round((pos.x() - start.x()) / s), round((pos.y() - start.y()) / s)
            return min(max(x + dx, 0), max(0, W - w)), min(max(y + dy, 0), max(0, H - h)), w, h
        px, py = self.widget_to_image(pos)
        left, top, right, bottom = x, y, x + w, y + h
        if "l" in grab:
            left = min(px, right - MIN_SIDE)
        if "r" in grab:
            right = max(px, left + MIN_SIDE)
        if "t" in grab:
            top = min(py, bottom - MIN_SIDE)
        if "b" in grab:
            bottom = max(py, top + MIN_SIDE)
        return left, top, right - left, bottom - top

    def mousePressEvent(self, e: QMouseEvent) -> None:
        if self.image is not None and e.button() == Qt.MouseButton.LeftButton:
            self._start = e.position().toPoint()
            self._drag = QRect(self._start, self._start)
            if self.editing_liver:
                self._grab = self.liver_part(self._start) or "new"
                self._liver_preview = None

    def mouseMoveEvent(self, e: QMouseEvent) -> None:
        pos = e.position().toPoint()
        if self._start is None:
            if self.editing_liver:
                part = self.liver_part(pos)
                self.setCursor(CURSORS.get(part or "", Qt.CursorShape.CrossCursor))
            return
        if self.editing_liver:
            self._liver_preview = self._liver_dragged(self._start, pos)
        else:
            self._drag = QRect(self._start, pos).normalized()
        self.update()

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:
        if self._start is None:
            return
        pos = e.position().toPoint()
        if self.editing_liver:
            liver, new = self._liver_dragged(self._start, pos), self._held_liver() is None
            self._start = self._drag = self._grab = self._liver_preview = None
            # a click is not a drag: a new one must have a size, a grabbed one must have changed
            if liver[2] >= MIN_SIDE and liver[3] >= MIN_SIDE if new else liver != self.liver:
                self.liver = liver
                self.liverDrawn.emit(liver)
            self.update()
            return
        x0, y0 = self.widget_to_image(self._start)
        x1, y1 = self.widget_to_image(pos)
        self._start = self._drag = None
        x, y, w, h = min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)
        if w >= MIN_SIDE and h >= MIN_SIDE:  # a click, not a drag: keep the old ROI
            self.roi = (x, y, w, h)
            self.roiDrawn.emit(self.roi)
        self.update()

    def _widget_rect(self, r: Roi) -> QRect:
        x, y, w, h = r
        return QRect(self.image_to_widget(x, y), self.image_to_widget(x + w, y + h))

    def paintEvent(self, _e) -> None:
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
        if self._liver_preview is None:  # a liver ROI being moved is the user's: read alone
            for extra in self.liver_extra:
                draw_liver_reference(p, self._widget_rect(extra), 2.0 if self.editing_liver else 1.0)
        liver = self._liver_preview or self.liver
        if liver is not None:
            rect = self._widget_rect(liver)
            draw_liver(p, rect, 2.0 if self.editing_liver else 1.0)
            if self.editing_liver:  # corner handles: it can be grabbed there
                p.setPen(QPen(LIVER_COLOUR, 1))
                p.setBrush(LIVER_COLOUR)
                for c in (rect.topLeft(), rect.topRight(), rect.bottomLeft(), rect.bottomRight()):
                    p.drawRect(QRect(c - QPoint(2, 2), QSize(5, 5)))
                p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(QPen(ROI_COLOUR, 2))
        if self.roi is not None:
            p.drawRect(self._widget_rect(self.roi))
        if self._drag is not None and not self.editing_liver:
            p.setPen(QPen(ROI_COLOUR, 1, Qt.PenStyle.DashLine))
            p.drawRect(self._drag)
        p.end()


# what dragging on the shown slot does: set the shared ROI, adjust this slot's ROI only, or (Liver ROI
# mode, on the reference slot) place, move or resize the reference liver ROI
SHARED, PLACED, ADJUSTED, LIVER = "shared", "placed", "adjusted", "liver"


class RoiEditor(QWidget):
    roiChanged = Signal(str, tuple)
    resetRequested = Signal(str)
    trackingChanged = Signal(bool)
    typed = Signal()  # an ROI typed in the box was taken
    liverModeChanged = Signal(bool)
    liverChanged = Signal(tuple)
    liverResetRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.slot: str | None = None
        self.mode = SHARED
        # the title changes with the slot: it must not resize the canvas under the user's mouse (elided)
        self.title = ElidedLabel("ROI — select a slot", objectName="roiTitle")
        self.canvas = RoiCanvas()
        self.canvas.roiDrawn.connect(self._drawn)
        self.canvas.liverDrawn.connect(self._drawn)
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
        self.reset = named(QPushButton("Reset to shared ROI"), "roiReset")
        describe(self.reset, "Reset to shared ROI",
                 "Forget this slot's hand-set ROI: the shared ROI is placed here again")
        self.reset.setEnabled(False)
        self.reset.clicked.connect(self._reset)
        self.liver_button = named(QPushButton("Liver ROI"), "liverRoiButton")
        self.liver_button.setCheckable(True)
        describe(self.liver_button, "Liver ROI mode",
                 "Place, move or resize the reference liver ROI the evidence compares the lesion with, on "
                 "the reference slot's contrast image (Ctrl+Shift+L): drag to place it, drag inside it to "
                 "move it, drag an edge or corner to resize it; the X,Y,W,H box then takes the liver ROI. "
                 "Press again to go back to the lesion ROI")
        self.liver_button.toggled.connect(self._liver_toggled)
        self.liver_reset = named(QPushButton("Reset liver ROI"), "liverRoiReset")
        describe(self.liver_reset, "Reset liver ROI to automatic",
                 "Reset liver ROI to automatic: forget the liver ROI you set; the analysis places one "
                 "beside the lesion at the same depth")
        self.liver_reset.setEnabled(False)
        self.liver_reset.clicked.connect(self._reset_liver)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #ff8a80")
        self.error.hide()  # shown with a message only: on a short screen every line counts
        self.note = named(QLabel(), "liverRoiNote")  # what the evidence will say of the user's liver ROI
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #ffb74d")
        self.note.hide()
        # short rows: the editor must fit beside the viewer at 1024 px (tests/gui/test_screen_sizes.py)
        row = QHBoxLayout()
        for w in (self.text, self.track):
            row.addWidget(w)
        row.addStretch(1)
        row2 = QHBoxLayout()
        row2.addWidget(self.reset)
        row2.addStretch(1)
        row3 = QHBoxLayout()  # the evidence's reference liver ROI
        for b in (self.liver_button, self.liver_reset):
            row3.addWidget(b)
        row3.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.title)
        lay.addWidget(self.canvas, 1)
        lay.addLayout(row)
        lay.addLayout(row2)
        lay.addLayout(row3)
        lay.addWidget(self.error)
        lay.addWidget(self.note)

    def show_slot(self, slot: str, panel: np.ndarray | None, roi: Roi | None, mode: str = SHARED,
                  liver: Roi | None = None, liver_set: bool = False, liver_extra: Sequence[Roi] = ()) -> None:
        """Show ``slot`` with ``roi``; ``mode`` says what a drag does there (SHARED, PLACED, ADJUSTED,
        LIVER); ``liver``: the reference liver ROI on this slot, drawn dashed (the current result's, or
        the one the user set: ``liver_set``); ``liver_extra``: the further squares the result read the
        liver's level over, drawn finer and dimmer."""
        self.slot, self.mode = slot, mode
        if mode == LIVER:
            how = "set by you" if liver_set else "automatic" if liver is not None else "placed by Analyze"
            self.title.setText(f"Liver ROI on slot {slot} ({how}) - drag to place; drag inside to move, "
                               "an edge or corner to resize")
        elif mode == ADJUSTED:
            self.title.setText(f"ROI for slot {slot} (adjusted)")
        elif mode == PLACED:
            self.title.setText(f"ROI for slot {slot} (shared ROI) - drag to adjust this slot only")
        else:
            self.title.setText(f"Shared ROI on slot {slot} - applies to every slot (drag to draw)")
        self.reset.setEnabled(mode == ADJUSTED)
        self.set_liver_mode(mode == LIVER)
        self.canvas.set_image(panel, roi, liver, liver_extra)
        shown = liver if mode == LIVER else roi
        self.text.setText("" if shown is None else ",".join(str(v) for v in shown))

    def set_liver_mode(self, on: bool) -> None:
        """The Liver ROI button's state, set by the window (no ``liverModeChanged``)."""
        self.liver_button.blockSignals(True)
        self.liver_button.setChecked(on)
        self.liver_button.blockSignals(False)
        self.canvas.set_editing_liver(on)
        self.canvas.setToolTip("Drag to place the liver ROI; drag inside it to move it, an edge or corner to "
                               "resize it" if on else "Drag a rectangle around the lesion")

    def set_liver_state(self, user_set: bool, note: str = "") -> None:
        """Whether the user set the liver ROI (Reset is enabled), and what the evidence will note of it."""
        self.liver_reset.setEnabled(user_set)
        self.note.setText(note)
        self.note.setVisible(bool(note))

    def refuse(self, message: str) -> None:
        """An ROI that was not taken, and why (under the canvas, until the next one is taken)."""
        self.error.setText(message)
        self.error.show()

    def toggle_liver_mode(self, _checked: bool = False) -> None:
        """Liver ROI mode on / off, as the button does (Analysis ▸ Liver ROI mode, Ctrl+Shift+L)."""
        self.liver_button.toggle()

    def _reset_liver(self, _checked: bool = False) -> None:
        # a Python slot takes clicked()'s bool: forwarding the signal to a no-argument one is avoided
        self.liverResetRequested.emit()

    def _liver_toggled(self, on: bool) -> None:
        self.error.hide()
        self.liverModeChanged.emit(bool(on))

    def _drawn(self, roi: tuple) -> None:
        self.text.setText(",".join(str(v) for v in roi))
        self.error.clear()
        self.error.hide()
        if self.mode == LIVER:
            self.liverChanged.emit(tuple(roi))
        elif self.slot is not None:
            self.roiChanged.emit(self.slot, tuple(roi))

    def _reset(self) -> None:
        if self.slot is not None:
            self.resetRequested.emit(self.slot)

    def _typed(self) -> None:
        try:
            roi = parse_roi(self.text.text())
        except ValueError as err:
            self.refuse(str(err))
            return
        if self.mode == LIVER:
            self.canvas.liver = roi
        else:
            self.canvas.roi = roi
        self.canvas.update()
        self._drawn(roi)
        self.typed.emit()
