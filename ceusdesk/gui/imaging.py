"""numpy RGB frames ↔ Qt images, and the ROI drawn on a thumbnail."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap

ROI_COLOUR = QColor(255, 214, 0)
LIVER_COLOUR = QColor(0, 230, 118)  # the reference liver ROI: dashed, green, labelled "liver"
# the further squares the liver's level is read over (liver_reference): the same green, dimmer and finer
LIVER_REFERENCE_COLOUR = QColor(0, 230, 118, 130)
CONTRAST_COLOUR = QColor(255, 214, 0)
BMODE_COLOUR = QColor(0, 200, 255)


def to_qimage(arr: np.ndarray) -> QImage:
    """uint8 (H, W) or (H, W, 3) → a QImage that owns its pixels."""
    a = np.ascontiguousarray(arr)
    if a.ndim == 2:
        h, w = a.shape
        return QImage(a.data, w, h, a.strides[0], QImage.Format.Format_Grayscale8).copy()
    h, w, _ = a.shape
    return QImage(a.data, w, h, a.strides[0], QImage.Format.Format_RGB888).copy()


def draw_liver(p: QPainter, rect: QRect, width: float = 1.0) -> None:
    """The reference liver ROI: a dashed green rectangle with "liver" above it (inside when at the top)."""
    p.setPen(QPen(LIVER_COLOUR, width, Qt.PenStyle.DashLine))
    p.drawRect(rect)
    font = p.font()
    font.setPixelSize(max(8, round(9 * width)))
    p.setFont(font)
    p.setPen(QPen(LIVER_COLOUR, width))
    above = rect.top() - 2 >= font.pixelSize()
    y = rect.top() - 2 if above else rect.top() + font.pixelSize()
    p.drawText(rect.left() + 1, y, "liver")


def draw_liver_reference(p: QPainter, rect: QRect, width: float = 1.0) -> None:
    """One of the further squares the liver's level is read over: finer dashes, dimmer, no label, so the
    liver ROI (``draw_liver``) stays the one that reads as "the" reference."""
    pen = QPen(LIVER_REFERENCE_COLOUR, max(1.0, 0.5 * width), Qt.PenStyle.CustomDashLine)
    pen.setDashPattern([2, 3])
    p.setPen(pen)
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawRect(rect)


def thumbnail(arr: np.ndarray | None, roi: tuple[int, int, int, int] | None, size: int,
              dpr: float = 1.0, liver: tuple[int, int, int, int] | None = None,
              liver_extra: Sequence[tuple[int, int, int, int]] = ()) -> QPixmap:
    """A square-bounded pixmap of the panel with the ROI outlined (and the analysis's reference liver
    ROI, when given, with ``liver_extra``: the further squares its level was read over); grey when there
    is no image.

    ``size`` is in logical pixels; the pixmap holds ``size × dpr`` device pixels (the screen's density,
    ``QWidget.devicePixelRatioF()``), so thumbnails stay sharp at 150 % or 200 % scaling.
    """
    dpr = max(1.0, float(dpr))
    side = max(1, round(size * dpr))
    if arr is None:
        pm = QPixmap(side, side)
        pm.fill(QColor("#2a2e35"))
        pm.setDevicePixelRatio(dpr)
        return pm
    img = to_qimage(arr)
    scaled = img.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation)
    pm = QPixmap.fromImage(scaled)
    s = scaled.width() / img.width()

    def scaled_rect(r: tuple[int, int, int, int]) -> QRect:
        x, y, w, h = r
        return QRect(round(x * s), round(y * s), max(2, round(w * s)), max(2, round(h * s)))

    if roi is not None or liver is not None or liver_extra:
        p = QPainter(pm)
        for extra in liver_extra:
            draw_liver_reference(p, scaled_rect(extra), dpr)
        if liver is not None:
            draw_liver(p, scaled_rect(liver), dpr)
        if roi is not None:
            p.setPen(QPen(ROI_COLOUR, 2 * dpr))
            p.drawRect(scaled_rect(roi))
        p.end()
    pm.setDevicePixelRatio(dpr)
    return pm
