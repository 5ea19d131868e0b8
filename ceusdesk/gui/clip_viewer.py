"""Clip viewer: scrub and play a clip, see the contrast and B-mode panels outlined, pick a frame for a slot.

Frames are decoded in a worker; while one is decoding, newer requests replace older ones (scrubbing
fast never queues up hundreds of decodes).
"""
from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from PySide6.QtCore import QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QImage, QKeyEvent, QPainter, QPen
from PySide6.QtWidgets import (
    QHBoxLayout,
    QMenu,
    QPushButton,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ceusdesk.base.protocol import SLOT_NAMES, format_t
from ceusdesk.gui import backend
from ceusdesk.gui.imaging import BMODE_COLOUR, CONTRAST_COLOUR, to_qimage
from ceusdesk.gui.widgets import ElidedLabel, describe
from ceusdesk.gui.workers import Runner, Task

Box = tuple[int, int, int, int]


class FrameView(QWidget):
    """Paints one frame scaled to fit, with the contrast (yellow) and B-mode (cyan) panels outlined.

    It takes keyboard focus: Space plays or pauses, ←/→ step a frame (only while it has the focus, so
    Space on a focused button still presses that button)."""

    playToggled = Signal()
    stepped = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.image: QImage | None = None
        self.contrast: Box | None = None
        self.bmode: Box | None = None
        self.setMinimumSize(200, 140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        describe(self, "Clip viewer", "The selected clip's frame. Click here, then Space plays or pauses "
                                      "and ←/→ step a frame")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space:
            self.playToggled.emit()
        elif event.key() in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            self.stepped.emit(-1 if event.key() == Qt.Key.Key_Left else 1)
        else:
            super().keyPressEvent(event)

    def sizeHint(self) -> QSize:
        return QSize(560, 380)

    def set_frame(self, arr: np.ndarray | None, contrast: Box | None, bmode: Box | None) -> None:
        self.image = None if arr is None else to_qimage(arr)
        self.contrast, self.bmode = contrast, bmode
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), Qt.GlobalColor.black)
        if self.image is None:
            p.setPen(Qt.GlobalColor.gray)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no clip selected")
            return
        iw, ih = self.image.width(), self.image.height()
        s = min(self.width() / iw, self.height() / ih)
        ox, oy = (self.width() - iw * s) / 2, (self.height() - ih * s) / 2
        target = QRect(round(ox), round(oy), round(iw * s), round(ih * s))
        p.drawImage(target, self.image)
        if self.hasFocus():  # where Space goes
            p.setPen(QPen(Qt.GlobalColor.white, 1, Qt.PenStyle.DotLine))
            p.drawRect(self.rect().adjusted(0, 0, -1, -1))
        outlines = ((self.contrast, CONTRAST_COLOUR, "contrast"), (self.bmode, BMODE_COLOUR, "B-mode"))
        for box, colour, label in outlines:
            if box is None:
                continue
            x0, y0, x1, y1 = box
            r = QRect(round(ox + x0 * s), round(oy + y0 * s), round((x1 - x0) * s), round((y1 - y0) * s))
            p.setPen(QPen(colour, 2, Qt.PenStyle.DashLine))
            p.drawRect(r)
            p.drawText(r.adjusted(4, 2, 0, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, label)
        p.end()


class ClipViewer(QWidget):
    useFrameForSlot = Signal(str, int, int)
    swapPanels = Signal()

    def __init__(self, runner: Runner, parent: QWidget | None = None):
        super().__init__(parent)
        self.runner = runner
        self.study: Any = None
        self.row: int | None = None
        self._pending: int | None = None
        self.view = FrameView()
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setMinimumWidth(80)
        describe(self.slider, "Frame", "Scrub through the clip's frames")
        self.slider.setEnabled(False)
        self.slider.valueChanged.connect(self._request)
        self.play = QPushButton("▶ Play")
        describe(self.play, "Play", "Play or pause the clip (Space while the viewer has the focus)")
        self.play.setCheckable(True)
        self.play.toggled.connect(self._toggle_play)
        self.view.playToggled.connect(self._play_key)
        self.view.stepped.connect(lambda step: self.slider.setValue(self.slider.value() + step))
        self.time = ElidedLabel("—", min_chars=5, tip="frame of the clip's frames · time after injection")
        self.swap = QPushButton("Swap panels")
        describe(self.swap, "Swap panels", "The contrast panel was guessed wrong: use the other one")
        self.swap.clicked.connect(self._swap)
        self.use = QToolButton()
        self.use.setText("Use frame for slot")
        describe(self.use, "Use this frame for slot", "Put the frame shown into a phase slot")
        self.use.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.use)
        for name in SLOT_NAMES:
            menu.addAction(name, partial(self._use, name))
        self.use.setMenu(menu)
        self.timer = QTimer(self)
        self.timer.setInterval(100)
        self.timer.timeout.connect(self._tick)
        controls = QHBoxLayout()
        for w, stretch in ((self.play, 0), (self.slider, 3), (self.time, 2)):
            controls.addWidget(w, stretch)
        actions = QHBoxLayout()
        actions.addWidget(self.swap)
        actions.addWidget(self.use)
        actions.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.view, 1)
        lay.addLayout(controls)
        lay.addLayout(actions)
        self.set_enabled(False)

    def set_enabled(self, on: bool) -> None:
        for w in (self.slider, self.play, self.swap, self.use):
            w.setEnabled(on)

    def set_study(self, study: Any) -> None:
        self.study = study
        self.row = None
        self.play.setChecked(False)
        self.view.set_frame(None, None, None)
        self.set_enabled(False)

    # ------------------------------------------------------------------ panels and time
    def panels(self) -> tuple[Box | None, Box | None]:
        """(contrast, B-mode) boxes of the current clip, as the study reads them."""
        if self.study is None or self.row is None:
            return None, None
        return backend.clip_panels(self.study, self.row)

    def time_after_injection(self, index: int) -> float | None:
        return self.study.clips[self.row].frame_t_s(index)

    # ------------------------------------------------------------------ frames
    def show_clip(self, row: int) -> None:
        self.row = row
        clip = self.study.clips[row].clip
        self.set_enabled(True)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, clip.usable_frames - 1))
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self._request(0)

    def _request(self, index: int) -> None:
        if self.row is None:
            return
        if self.runner.busy("frame"):
            self._pending = index  # decoded once the current one is back
            return
        clip, row = self.study.clips[self.row].clip, self.row
        task = Task(lambda _p, _c: (row, index, backend.clip_frame(clip, index)), "frame")
        task.signals.finished.connect(self._frame_ready)
        task.signals.failed.connect(self._frame_failed)
        self.runner.start("frame", task)

    def _frame_ready(self, payload: tuple[int, int, np.ndarray]) -> None:
        row, index, arr = payload
        if row == self.row:
            contrast, bmode = self.panels()
            self.view.set_frame(arr, contrast, bmode)
            t = self.time_after_injection(index)
            # as the slot cards write it: frame 7 of 7, 0:51 after injection
            self.time.setText(f"f{index + 1}/{self.slider.maximum() + 1} · {format_t(t)}")
        self._next_pending()

    def _frame_failed(self, message: str) -> None:
        self.time.setText(f"cannot show this frame: {message}")
        self._next_pending()

    def _next_pending(self) -> None:
        if self._pending is not None:
            index, self._pending = self._pending, None
            QTimer.singleShot(0, lambda: self._request(index))

    def _play_key(self) -> None:
        """Space on the frame: what the Play button does, while it is enabled."""
        if self.play.isEnabled():
            self.play.toggle()

    def _toggle_play(self, on: bool) -> None:
        self.play.setText("⏸ Pause" if on else "▶ Play")
        (self.timer.start if on else self.timer.stop)()

    def _tick(self) -> None:
        if self.row is None or self.runner.busy("frame"):
            return  # skip a tick rather than queue decodes
        nxt = self.slider.value() + 1
        self.slider.setValue(0 if nxt > self.slider.maximum() else nxt)

    def _use(self, slot: str) -> None:
        if self.row is not None:
            self.useFrameForSlot.emit(slot, self.row, self.slider.value())

    def _swap(self) -> None:
        if self.panels()[1] is not None:
            self.swapPanels.emit()
