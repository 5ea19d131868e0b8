"""The nine-slot timeline: a card per slot (thumbnail with the ROI, which frame fills it — "US0002 · f7/7 ·
0:51 (−9 s)" —, status, an amber flag when its frame is far from the target or its clip fills another slot
too), drop a clip on a card to assign it; the phase set with the slots not acquired; and the
injection-time editor, with a chip and a confirm button when the time is an estimate.

Cards take keyboard focus: ←/→ move between slots, Enter goes to the ROI box, Delete clears a hand-set
frame (the window maps 1–9 to the slots). The cards sit in a scroll area, so a narrow window scrolls
them rather than growing."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QFocusEvent, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ceusdesk.base.protocol import SLOT_NAMES, format_t
from ceusdesk.gui import backend
from ceusdesk.gui.clip_list import CLIP_MIME
from ceusdesk.gui.imaging import thumbnail
from ceusdesk.gui.widgets import ElidedLabel, describe, named

STATUS_TEXT = {"assigned": "assigned", "missing": "NOT ACQUIRED", "estimated": "estimated time",
               "manual": "set by hand"}
FLAG_TEXT = {"far_from_target": "far from target", "clip_reused": "clip reused"}
THUMB = 88  # nine cards fit a 1024-pixel-wide window


def card_caption(caption: str, name_chars: int = 12) -> str:
    """The caption as a card shows it: a long clip name shortened ("…"), each part kept whole when the
    line wraps (non-breaking spaces inside the parts)."""
    parts = caption.split(" · ")
    if len(parts[0]) > name_chars:
        parts[0] = parts[0][:name_chars - 1] + "…"
    return " · ".join(p.replace(" ", "\u00a0") for p in parts)


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
    clipDropped = Signal(str, int)
    clearRequested = Signal(str)
    stepRequested = Signal(str, int)
    editRoiRequested = Signal(str)

    def __init__(self, slot: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("slotCard")
        self.slot = slot
        self.status = "missing"
        self.full_caption = ""  # the caption unshortened (card_caption shortens what the card shows)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.title = QLabel(f"<b>{slot}</b>")
        self.image = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self.image.setFixedSize(THUMB, THUMB)
        self._thumb: tuple[np.ndarray | None, tuple | None, tuple | None, tuple] = (None, None, None, ())
        self.liver_extra: list[tuple[int, int, int, int]] = []  # drawn dimmer beside the liver ROI
        self.time = QLabel("—")
        # "US0002 · f7/7 ·" / "0:51 (−9 s)": wraps only between its parts (card_caption)
        self.caption = named(QLabel("not acquired"), "slotCaption")
        self.caption.setWordWrap(True)
        self.caption.setFixedWidth(THUMB)
        self.state = ElidedLabel(STATUS_TEXT["missing"], min_chars=4, objectName="slotState")
        self.roi_note = named(QLabel("ROI adjusted"), "roiAdjusted")
        self.roi_note.setToolTip("This slot's ROI was set by hand (reset it in the ROI editor)")
        policy = self.roi_note.sizePolicy()
        policy.setRetainSizeWhenHidden(True)  # showing it must not resize the window's panes
        self.roi_note.setSizePolicy(policy)
        self.roi_note.hide()
        self.flags: list[str] = []
        self.flag_note = named(QLabel(), "slotFlag")
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
        lay.addWidget(self.caption)
        lay.addWidget(self.state)
        lay.addWidget(self.roi_note)
        lay.addWidget(self.flag_note)
        self.set_image(None, None)
        self._describe()

    def _describe(self) -> None:
        """The card's accessible name and tooltip: everything it shows, in words."""
        text = f"slot {self.slot}: {self.full_caption or 'no frame'}, {self.state.text()}"
        if self.flags:
            text += f", check: {self.flag_note.text()}"
        hint = "1–9, ←/→ or Space select a slot, Enter: type its ROI, Delete: clear a hand-set frame; " \
               "drop a clip here to assign it"
        self.setAccessibleName(text)
        self.setToolTip(f"{text}\n{hint}")

    def set_info(self, t_s: float | None, status: str, caption: str | None = None) -> None:
        self.status = status
        self.time.setText(format_t(t_s))
        self.state.setText(STATUS_TEXT.get(status, status))
        self.caption.setText(card_caption(caption) if caption else "")  # the status says "NOT ACQUIRED"
        self.caption.setToolTip(f"{caption}\nclip · frame of the clip's frames · time after injection "
                                "(offset from the slot's target)" if caption else "")
        self.full_caption = caption or ""
        self.setProperty("status", status)
        self.style().unpolish(self)
        self.style().polish(self)
        self._describe()

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
        self._describe()

    def set_image(self, arr: np.ndarray | None, roi: tuple[int, int, int, int] | None,
                  liver: tuple[int, int, int, int] | None = None,
                  liver_extra: Sequence[tuple[int, int, int, int]] = ()) -> None:
        """The thumbnail, drawn at the screen's pixel density (redrawn when the window changes screens);
        ``liver``: the current result's reference liver ROI on this slot; ``liver_extra``: the further
        squares the liver's level was read over (automatic placement, the reference slot)."""
        self._thumb = (arr, roi, liver, tuple(liver_extra))
        self.liver_extra = list(liver_extra)
        self.image.setPixmap(thumbnail(arr, roi, THUMB, self.devicePixelRatioF(), liver, liver_extra))

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.DevicePixelRatioChange:
            self.set_image(*self._thumb)

    def set_roi_adjusted(self, on: bool) -> None:
        self.roi_note.setVisible(on)

    def set_selected(self, on: bool) -> None:
        self.setProperty("selected", "true" if on else "false")
        self.style().unpolish(self)
        self.style().polish(self)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.setFocus(Qt.FocusReason.MouseFocusReason)
            self.clicked.emit(self.slot)

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        self.setProperty("focused", "true")
        self.style().unpolish(self)
        self.style().polish(self)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        super().focusOutEvent(event)
        self.setProperty("focused", "false")
        self.style().unpolish(self)
        self.style().polish(self)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            self.stepRequested.emit(self.slot, -1 if key == Qt.Key.Key_Left else 1)
        elif key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.clearRequested.emit(self.slot)  # the window says so when nothing was set by hand
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.editRoiRequested.emit(self.slot)
        elif key == Qt.Key.Key_Space:  # focus alone never changes the slot (a disabled button hands
            self.clicked.emit(self.slot)  # its focus on): Space selects
        else:
            super().keyPressEvent(event)

    def contextMenuEvent(self, event) -> None:
        menu = QMenu(self)
        menu.addAction("Clear the hand-set frame", lambda: self.clearRequested.emit(self.slot))
        menu.exec(event.globalPos())

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(CLIP_MIME):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        row = int(bytes(event.mimeData().data(CLIP_MIME).data()).decode("ascii"))
        event.acceptProposedAction()
        self.clipDropped.emit(self.slot, row)


class SlotTimeline(QWidget):
    slotSelected = Signal(str)
    clipDropped = Signal(str, int)
    clearRequested = Signal(str)
    injectionChanged = Signal(str)
    confirmInjection = Signal()
    editRoiRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.cards: dict[str, SlotCard] = {}
        self.selected: str | None = None
        strip = QWidget()
        grid = QGridLayout(strip)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(4)
        for i, name in enumerate(SLOT_NAMES):
            card = SlotCard(name)
            card.clicked.connect(self.select)
            card.clipDropped.connect(self.clipDropped)
            card.clearRequested.connect(self.clearRequested)
            card.stepRequested.connect(self._step)
            card.editRoiRequested.connect(self.editRoiRequested)
            self.cards[name] = card
            grid.addWidget(card, 0, i)
        grid.setColumnStretch(len(SLOT_NAMES), 1)
        # a narrow window scrolls the cards instead of growing (not ``self.scroll``: QWidget.scroll())
        self.scroll_area = QScrollArea()
        self.scroll_area.setWidget(strip)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll_area.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._strip = strip
        self.phase = ElidedLabel("phase set: —", objectName="phaseLine", min_chars=12)
        self.inj_edit = QLineEdit(placeholderText="HH:MM:SS")
        self.inj_edit.setMaximumWidth(96)
        self.inj_edit.returnPressed.connect(self._apply_injection)
        describe(self.inj_edit, "Injection time", "Type the time of injection (HH:MM:SS) and press Enter")
        self.inj_apply = QPushButton("Set")
        describe(self.inj_apply, "Set injection time", "Set the injection time typed in the box")
        self.inj_apply.clicked.connect(self._apply_injection)
        self.inj_reset = QPushButton("Reset")
        describe(self.inj_reset, "Reset injection time", "Use the study's own injection time (DICOM or "
                                                         "estimated)")
        self.inj_reset.clicked.connect(lambda: self.injectionChanged.emit(""))
        self.inj_info = ElidedLabel("injection: —", min_chars=10)
        self.inj_chip = ElidedLabel(objectName="estimatedChip", min_chars=10,
                                    tip="Every slot time rests on this estimate: confirm it")
        self.inj_chip.hide()
        self.inj_confirm = named(QPushButton("Confirm injection time…"), "confirmInjection")
        describe(self.inj_confirm, "Confirm injection time",
                 "The injection time was estimated from the contrast arrival: check it")
        self.inj_confirm.clicked.connect(self.confirmInjection)
        self.inj_confirm.hide()
        bar = QHBoxLayout()
        bar.addWidget(self.phase, 3)
        bar.addWidget(self.inj_chip, 2)
        bar.addWidget(self.inj_confirm)
        bar.addWidget(self.inj_info, 2)
        bar.addWidget(self.inj_edit)
        bar.addWidget(self.inj_apply)
        bar.addWidget(self.inj_reset)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(bar)
        lay.addWidget(self.scroll_area)
        self._fit_height()

    def _fit_height(self) -> None:
        """The strip is as tall as its cards plus a horizontal scroll bar, whatever the window's width."""
        bar = self.scroll_area.horizontalScrollBar().sizeHint().height()
        self.scroll_area.setMinimumHeight(self._strip.minimumSizeHint().height() + bar)

    def set_study(self, study: Any, confirmed: bool = False) -> None:
        flags = backend.slot_flags(study)
        for name, card in self.cards.items():
            sf = (study.slots or {}).get(name)
            t_s = None if sf is None else sf.t_s
            card.set_info(t_s, backend.slot_status(study, name),
                          None if sf is None else backend.slot_caption(study, name))
            if sf is None:
                card.set_image(None, None)
            names, offset = flags.get(name, ([], None))
            card.set_flags(names, flag_line(names, offset))
        gaps = backend.not_acquired(study)
        text = f"phase set: {str(study.phase_set).upper()}"
        if gaps:
            text += f" — {', '.join(gaps)} not acquired"
        self.phase.setText(text)
        inj = study.injection_time
        shown = inj.strftime("%H:%M:%S") if hasattr(inj, "strftime") else (str(inj) if inj else "unknown")
        self.inj_info.setText(f"injection {shown} ({study.injection_source or 'none'})")
        self.set_injection_confirmed(study, confirmed)
        self._fit_height()

    def set_injection_confirmed(self, study: Any, confirmed: bool) -> None:
        """The chip stays while the time is an estimate; the confirm button until the user confirmed."""
        estimated = backend.injection_needs_confirmation(study)
        inj = study.injection_time
        shown = inj.strftime("%H:%M:%S") if hasattr(inj, "strftime") else "unknown"
        self.inj_chip.setText(f"injection time ESTIMATED {shown}" + (" (confirmed)" if confirmed else ""))
        self.inj_confirm.setEnabled(estimated and not confirmed)
        self.inj_chip.setVisible(estimated)
        self.inj_confirm.setVisible(estimated and not confirmed)

    def select(self, slot: str) -> None:
        self.selected = slot
        for name, card in self.cards.items():
            card.set_selected(name == slot)
        self.scroll_area.ensureWidgetVisible(self.cards[slot])
        self.slotSelected.emit(slot)

    def focus_slot(self, slot: str) -> None:
        """Select ``slot`` and put the keyboard focus on its card (keys 1–9, arrows)."""
        self.select(slot)
        self.cards[slot].setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _step(self, slot: str, step: int) -> None:
        names = list(self.cards)
        self.focus_slot(names[(names.index(slot) + step) % len(names)])

    def _apply_injection(self) -> None:
        self.injectionChanged.emit(self.inj_edit.text().strip())
