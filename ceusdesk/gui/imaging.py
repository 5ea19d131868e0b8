"""numpy RGB frames ↔ Qt images, and the ROI drawn on a thumbnail."""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap

ROI_COLOUR = QColor(255, 214, 0)
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


def thumbnail(arr: np.ndarray | None, roi: tuple[int, int, int, int] | None, size: int,
              dpr: float = 1.0) -> QPixmap:
    """A square-bounded pixmap of the panel with the ROI outlined; grey when there is no image.

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
    if roi is not None:
        s = scaled.width() / img.width()
        x, y, w, h = roi
        p = QPainter(pm)
        p.setPen(QPen(ROI_COLOUR, 2 * dpr))
        p.drawRect(QRect(round(x * s), round(y * s), max(2, round(w * s)), max(2, round(h * s))))
        p.end()
    pm.setDevicePixelRatio(dpr)
    return pm
