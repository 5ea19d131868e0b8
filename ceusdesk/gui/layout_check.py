"""What a small screen would hide: visible widgets squeezed below their minimum size, labels whose text
does not fit and that carry no tooltip, thumbnails drawn below the screen's pixel density, controls with
no tooltip or accessible name. Used by the tests and by ``ceusdesk gui --screenshot`` (printed to stderr).
"""
from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QHeaderView,
    QLabel,
    QLineEdit,
    QScrollBar,
    QWidget,
)

from ceusdesk.gui.widgets import ElidedLabel

CONTROLS = (QAbstractButton, QLineEdit, QAbstractSlider)


def _name(w: QWidget) -> str:
    text = ""
    if isinstance(w, (QLabel, QAbstractButton, QLineEdit)):
        text = (w.full_text() if isinstance(w, ElidedLabel) else w.text())[:40]
    return f"{type(w).__name__}({w.objectName() or ''}{', ' + repr(text) if text else ''})"


def _shown(w: QWidget, top: QWidget) -> bool:
    return w.isVisible() and w.isVisibleTo(top) and w.width() > 0 and w.height() > 0


def clipped(top: QWidget) -> list[str]:
    """Visible widgets smaller than their minimum size hint, and labels cut without a tooltip."""
    out = []
    for w in top.findChildren(QWidget):
        if not _shown(w, top) or isinstance(w, (QScrollBar, QHeaderView)):
            continue  # a table's header scrolls with it
        hint = w.minimumSizeHint()
        short_w = hint.isValid() and w.width() + 1 < hint.width()
        short_h = hint.isValid() and w.height() + 1 < hint.height()
        if isinstance(w, QLabel) and w.wordWrap() and w.hasHeightForWidth():
            short_w = False  # a wrapping label is checked by height for its width
            short_h = w.height() + 1 < w.heightForWidth(w.width())
        if short_w or short_h:
            out.append(f"{_name(w)} is {w.width()}x{w.height()}, needs {hint.width()}x{hint.height()}")
        if isinstance(w, ElidedLabel) and w.is_elided() and not w.toolTip():
            out.append(f"{_name(w)} is elided without a tooltip")
    return out


def undescribed(top: QWidget) -> list[str]:
    """Visible controls (buttons, fields, sliders) without a tooltip or an accessible name."""
    out = []
    for w in top.findChildren(QWidget):
        if not isinstance(w, CONTROLS) or isinstance(w, QScrollBar) or not _shown(w, top):
            continue
        if w.objectName().startswith("qt_"):
            continue  # Qt's own parts (a dock's float button, a scroll area's corner)
        if not w.toolTip() or not w.accessibleName():
            out.append(_name(w))
    return out


def low_density_pixmaps(top: QWidget) -> list[str]:
    """Labels whose pixmap is drawn at fewer device pixels than the screen has."""
    out = []
    for w in top.findChildren(QLabel):
        pm = w.pixmap()
        if not _shown(w, top) or pm is None or pm.isNull():
            continue
        if pm.devicePixelRatio() + 1e-3 < w.devicePixelRatioF():
            out.append(f"{_name(w)} pixmap at {pm.devicePixelRatio():g}x "
                       f"on a {w.devicePixelRatioF():g}x screen")
    return out
