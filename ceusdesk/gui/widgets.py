"""Small widgets that keep the window usable on small screens: a label that elides (with the full text in
its tooltip), a folding "Details" section, one call to give a control its tooltip and accessible name, and
one to give it its object name (what the style sheet and the tests find it by)."""
from __future__ import annotations

from typing import TypeVar

from PySide6.QtCore import QObject, QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

_Q = TypeVar("_Q", bound=QObject)


def named(obj: _Q, name: str) -> _Q:
    """Give ``obj`` its object name (dark.qss styles it by that name); returns it.

    ``QPushButton("Run", objectName="run")`` does the same at run time, but PySide6's stubs only know the
    keyword properties of the class itself, not inherited ones such as ``objectName``."""
    obj.setObjectName(name)
    return obj


def describe(widget: QWidget, name: str, tip: str | None = None) -> QWidget:
    """Give ``widget`` an accessible name (screen readers) and a tooltip (mouse users); returns it."""
    widget.setAccessibleName(name)
    widget.setToolTip(tip or name)
    return widget


def wrapped(text: str = "", *, objectName: str = "",
            alignment: Qt.AlignmentFlag | None = None) -> QLabel:
    """A label that wraps its text (result and evidence lines in the narrow result dock)."""
    label = QLabel(text)
    if objectName:
        label.setObjectName(objectName)
    if alignment is not None:
        label.setAlignment(alignment)
    label.setWordWrap(True)
    return label


class ElidedLabel(QLabel):
    """Plain text that shrinks to "…" rather than pushing the window wider; the full text is its tooltip.

    ``tip`` adds an explanation after the full text in the tooltip.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None, *, tip: str = "",
                 min_chars: int = 6, **kwargs):
        super().__init__(parent, **kwargs)
        self._full = ""
        self._tip = tip
        self._min_chars = min_chars
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setText(text)

    def full_text(self) -> str:
        return self._full

    def is_elided(self) -> bool:
        return super().text() != self._full

    def setText(self, text: str) -> None:
        self._full = str(text)
        tip = "\n".join(t for t in (self._full, self._tip) if t)
        self.setToolTip(tip)
        self.setAccessibleName(self._full)
        self._elide()

    def text(self) -> str:
        """The full text (what the label says, however much of it fits)."""
        return self._full

    def _elide(self) -> None:
        width = max(0, self.contentsRect().width())
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, width) \
            if width else self._full
        super().setText(shown)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def sizeHint(self) -> QSize:
        fm = self.fontMetrics()
        m = self.contentsMargins()
        return QSize(fm.horizontalAdvance(self._full) + m.left() + m.right() + 2,
                     fm.height() + m.top() + m.bottom())

    def minimumSizeHint(self) -> QSize:
        fm = self.fontMetrics()
        m = self.contentsMargins()
        return QSize(fm.horizontalAdvance("M" * self._min_chars) + m.left() + m.right(),
                     fm.height() + m.top() + m.bottom())


class Details(QWidget):
    """A titled section folded by default: a ▸/▾ button shows or hides ``body``."""

    def __init__(self, title: str, body: QWidget, parent: QWidget | None = None, *, expanded: bool = False):
        super().__init__(parent)
        self.body = body
        self.toggle = named(QToolButton(), "detailsToggle")
        self.toggle.setText(title)
        self.toggle.setCheckable(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.toggled.connect(self.set_expanded)
        describe(self.toggle, f"{title}: show or hide")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.toggle)
        lay.addWidget(body)
        self.toggle.setChecked(expanded)
        self.set_expanded(expanded)

    def set_expanded(self, on: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.body.setVisible(on)
