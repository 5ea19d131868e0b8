"""The clip list: every clip with kind, times, slot, and warnings that cannot be overlooked."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QMimeData, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QListWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ceusdesk.base.protocol import format_t
from ceusdesk.gui.widgets import named
from ceusdesk.gui.wording import in_app_words
from ceusdesk.ingest.records import Warn

CLIP_MIME = "application/x-ceusdesk-clip"
COLUMNS = ("file", "slot", "kind", "frames", "start", "end")  # the slot next to the name: seen when narrow


class _ClipTable(QTableWidget):
    """Rows drag out as clip indexes, to drop on a slot card."""

    def mimeData(self, items: Sequence[QTableWidgetItem]) -> QMimeData:
        mime = QMimeData()
        if items:
            mime.setData(CLIP_MIME, str(items[0].row()).encode("ascii"))
        return mime

    def mimeTypes(self) -> list[str]:
        return [CLIP_MIME]


class ClipList(QWidget):
    clipSelected = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.banner = named(QLabel(), "warningBanner")
        self.banner.setWordWrap(True)
        self.banner.hide()
        self.table = _ClipTable(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setDragEnabled(True)
        self.table.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setAccessibleName("Clips")
        self.table.setToolTip("Every clip of the study; drag a row onto a slot card to assign it")
        self.setMinimumWidth(200)
        self.table.itemSelectionChanged.connect(self._selection)
        self.warnings = QListWidget()
        self.warnings.setWordWrap(True)  # a long warning wraps rather than being cut off
        self.warnings.setAccessibleName("Warnings")
        self.warnings.setMaximumHeight(130)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.banner)
        lay.addWidget(self.table, 1)
        lay.addWidget(QLabel("Warnings"))
        lay.addWidget(self.warnings)

    def set_study(self, study: Any) -> None:
        self.table.setRowCount(0)
        self.warnings.clear()
        for row, entry in enumerate(study.clips):
            clip = entry.clip
            cells = [study.rel(clip.path),
                     entry.slot or (f"excluded: {in_app_words(entry.excluded)}" if entry.excluded else "—"),
                     str(clip.kind), str(clip.n_frames), format_t(entry.start_s), format_t(entry.end_s)]
            self.table.insertRow(row)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(str(clip.path) if col == 0 else text)
                self.table.setItem(row, col, item)
        warnings = list(study.warnings)
        if getattr(study, "injection_source", None) == "estimated":
            warnings.insert(0, Warn("", "injection time is estimated: check it before analyzing"))
        for w in warnings:
            self.warnings.addItem(f"{study.rel(w.path) + ': ' if w.path else ''}{in_app_words(w.message)}")
            line = self.warnings.item(self.warnings.count() - 1)
            line.setToolTip(line.text())
        if warnings:
            self.banner.setText(f"⚠ {len(warnings)} warning{'s' if len(warnings) > 1 else ''} "
                                f"— read them below before analyzing")
            self.banner.show()
        else:
            self.banner.hide()

    def current(self) -> int | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return rows[0].row() if rows else None

    def _selection(self) -> None:
        row = self.current()
        if row is not None:
            self.clipSelected.emit(row)
