"""The nine-slot timeline: a card per slot (thumbnail with the ROI, time, status, an amber flag when its
frame is far from the target or its clip fills another slot too), drop a clip on a card to assign it; the
phase set with the slots not acquired; and the injection-time editor, with a chip and a confirm button
when the time is an estimate."""
from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QMouseEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..protocol import SLOT_NAMES, format_t
from . import backend
from .clip_list import CLIP_MIME
from .imaging import thumbnail

STATUS_TEXT = {"assigned": "assigned", "missing": "NOT ACQUIRED", "estimated": "estimated time",
               "manual": "set by hand"}
FLAG_TEXT = {"far_from_target": "far from target", "clip_reused": "clip reused"}
THUMB = 104


def flag_line(flags: list[str], offset_s: float | None) -> str:
    """The amber line on a card: why its frame is doubtful."""
    parts = []
    for f in flags:
        if f == "far_from_target" and offset_s is not None:
            parts.append(f"{offset_s:+.0f} s from target")
        else:
            parts.append(FLAG_TEXT.get(f, f.replace("_", " ")))
    return ", ".join(parts)


class SlotCard(QFrame):
    clicked = Signal(str)
    clipDropped = Signal(str, int)  # noqa: N815  slot, clip row
    clearRequested = Signal(str)  # noqa: N815

    def __init__(self, slot: str, parent: QWidget | None = None):
        super().__init__(parent, objectName="slotCard")
        self.slot = slot
        self.status = "missing"
        self.setAcceptDrops(True)
        self.title = QLabel(f"<b>{slot}</b>")
        self.image = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.image.setFixedSize(THUMB, THUMB)
        self.time = QLabel("—")
        self.state = QLabel(STATUS_TEXT["missing"])
        self.roi_note = QLabel("ROI adjusted", objectName="roiAdjusted")
        self.roi_note.setToolTip("This slot's ROI was set by hand (reset it in the ROI editor)")
        policy = self.roi_note.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # showing it must not resize the window's panes
        self.roi_note.setSizePolicy(policy)
        self.roi_note.hide()
        self.flags: list[str] = []
        self.flag_note = QLabel(objectName="slotFlag")
        self.flag_note.setWordWrap(True)
        self.flag_note.hide()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(2)
        top = QHBoxLayout()
        top.addWidget(self.title)
        top.addStretch(1)
        top.addWidget(self.time)
        lay.addLayout(top)
        lay.addWidget(self.image)
        lay.addWidget(self.state)
        lay.addWidget(self.roi_note)
        lay.addWidget(self.flag_note)
        self.set_image(None, None)

    def set_info(self, t_s: float | None, status: str) -> None:
        self.status = status
        self.time.setText(format_t(t_s))
        self.state.setText(STATUS_TEXT.get(status, status))
        self.setProperty("status", status)
        self.style().unpolish(self)
        self.style().polish(self)

    def set_flags(self, flags: list[str], text: str) -> None:
        """Amber card and a line naming the doubt; no flags: back to normal."""
        self.flags = list(flags)
        self.flag_note.setText(text)
        self.flag_note.setToolTip("This slot's frame is more than 10 s from its target, or its clip fills "
                                  "another slot too: check it, or put another frame in the slot")
        self.flag_note.setVisible(bool(flags))
        self.setProperty("flagged", "true" if flags else "false")
        self.style().unpolish(self)
        self.style().polish(self)

    def set_image(self, arr: np.ndarray | None, roi: tuple[int, int, int, int] | None) -> None:
        self.image.setPixmap(thumbnail(arr, roi, THUMB))

    def set_roi_adjusted(self, on: bool) -> None:
        self.roi_note.setVisible(on)

    def set_selected(self, on: bool) -> None:
        self.setProperty("selected", "true" if on else "false")
        self.style().unpolish(self)
        self.style().polish(self)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit(self.slot)

    def contextMenuEvent(self, event) -> None:  # noqa: N802
        menu = QMenu(self)
        menu.addAction("Clear the hand-set frame", lambda: self.clearRequested.emit(self.slot))
        menu.exec(event.globalPos())

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasFormat(CLIP_MIME):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        row = int(bytes(event.mimeData().data(CLIP_MIME)).decode("ascii"))
        event.acceptProposedAction()
        self.clipDropped.emit(self.slot, row)


class SlotTimeline(QWidget):
    slotSelected = Signal(str)  # noqa: N815
    clipDropped = Signal(str, int)  # noqa: N815
    clearRequested = Signal(str)  # noqa: N815
    injectionChanged = Signal(str)  # noqa: N815  HH:MM:SS, or "" for the study's own
    confirmInjection = Signal()  # noqa: N815  the user asked to confirm the estimated time

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.cards: dict[str, SlotCard] = {}
        self.selected: str | None = None
        grid = QGridLayout()
        grid.setSpacing(6)
        for i, name in enumerate(SLOT_NAMES):
            card = SlotCard(name)
            card.clicked.connect(self.select)
            card.clipDropped.connect(self.clipDropped)
            card.clearRequested.connect(self.clearRequested)
            self.cards[name] = card
            grid.addWidget(card, 0, i)
        self.phase = QLabel("phase set: —")
        self.inj_edit = QLineEdit(placeholderText="HH:MM:SS")
        self.inj_edit.setMaximumWidth(110)
        self.inj_edit.returnPressed.connect(self._apply_injection)
        self.inj_apply = QPushButton("Set injection time")
        self.inj_apply.clicked.connect(self._apply_injection)
        self.inj_reset = QPushButton("Reset")
        self.inj_reset.setToolTip("Use the study's own injection time (DICOM or estimated)")
        self.inj_reset.clicked.connect(lambda: self.injectionChanged.emit(""))
        self.inj_info = QLabel("injection: —")
        self.inj_chip = QLabel(objectName="estimatedChip")
        self.inj_chip.hide()
        self.inj_confirm = QPushButton("Confirm injection time…", objectName="confirmInjection")
        self.inj_confirm.setToolTip("The injection time was estimated from the contrast arrival: check it")
        self.inj_confirm.clicked.connect(self.confirmInjection)
        self.inj_confirm.hide()
        bar = QHBoxLayout()
        bar.addWidget(self.phase)
        bar.addWidget(self.inj_chip)
        bar.addWidget(self.inj_confirm)
        bar.addStretch(1)
        bar.addWidget(self.inj_info)
        bar.addWidget(self.inj_edit)
        bar.addWidget(self.inj_apply)
        bar.addWidget(self.inj_reset)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(bar)
        lay.addLayout(grid)

    def set_study(self, study: Any, confirmed: bool = False) -> None:
        flags = backend.slot_flags(study)
        for name, card in self.cards.items():
            sf = (study.slots or {}).get(name)
            t_s = None if sf is None else sf.t_s
            card.set_info(t_s, backend.slot_status(study, name))
            if sf is None:
                card.set_image(None, None)
            names, offset = flags.get(name, ([], None))
            card.set_flags(names, flag_line(names, offset))
        gaps = backend.not_acquired(study)
        text = f"phase set: <b>{str(study.phase_set).upper()}</b>"
        if gaps:
            text += f" — {', '.join(gaps)} not acquired"
        self.phase.setText(text)
        inj = study.injection_time
        shown = inj.strftime("%H:%M:%S") if hasattr(inj, "strftime") else (str(inj) if inj else "unknown")
        self.inj_info.setText(f"injection: <b>{shown}</b> ({study.injection_source or 'none'})")
        self.set_injection_confirmed(study, confirmed)

    def set_injection_confirmed(self, study: Any, confirmed: bool) -> None:
        """The chip stays while the time is an estimate; the confirm button until the user confirmed."""
        estimated = backend.injection_needs_confirmation(study)
        inj = study.injection_time
        shown = inj.strftime("%H:%M:%S") if hasattr(inj, "strftime") else "unknown"
        self.inj_chip.setText(f"injection time ESTIMATED {shown}" + (" (confirmed)" if confirmed else ""))
        self.inj_chip.setVisible(estimated)
        self.inj_confirm.setVisible(estimated and not confirmed)

    def select(self, slot: str) -> None:
        self.selected = slot
        for name, card in self.cards.items():
            card.set_selected(name == slot)
        self.slotSelected.emit(slot)

    def _apply_injection(self) -> None:
        self.injectionChanged.emit(self.inj_edit.text().strip())
