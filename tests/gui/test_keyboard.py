"""The keyboard alone: open a study, set the ROI slot by slot, analyze, export; Space only plays in the
viewer; slot cards take 1–9, arrows and Delete; the Help menu lists the shortcuts."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from .conftest import open_and_wait

pytestmark = pytest.mark.gui


class Answers:
    """Stands in for the file dialogs (the window's ``dialogs`` hook)."""

    def __init__(self, study, report):
        self.study, self.report = str(study), str(report)

    def study_folder(self, _parent) -> str:
        return self.study

    def study_file(self, _parent) -> str:
        return self.study

    def report_path(self, _parent) -> str:
        return self.report

    def cases_folder(self, _parent) -> str:
        return ""


def key(qtbot, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    """A key press where the keyboard focus is (or on the window)."""
    target = QApplication.focusWidget() or QApplication.activeWindow()
    qtbot.keyClick(target, key, modifier)


def typed(qtbot, text: str) -> None:
    qtbot.keyClicks(QApplication.focusWidget(), text)
    key(qtbot, Qt.Key.Key_Return)


@pytest.fixture
def active(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    return window


def test_keyboard_alone_opens_sets_rois_analyzes_and_exports(qtbot, active, full_study, tmp_path):
    win = active
    win.dialogs = Answers(full_study[0], tmp_path / "kb.pdf")
    with qtbot.waitSignal(win.studyLoaded, timeout=30000):
        key(qtbot, Qt.Key.Key_O, Qt.KeyboardModifier.ControlModifier)
    shared = ",".join(map(str, full_study[1]))
    key(qtbot, Qt.Key.Key_2)  # slot 0:30
    assert win.timeline.selected == "0:30" and win.timeline.cards["0:30"].hasFocus()
    key(qtbot, Qt.Key.Key_Return)  # to its ROI box
    assert win.roi_editor.text.hasFocus()
    typed(qtbot, shared)
    assert win.roi == tuple(full_study[1])
    key(qtbot, Qt.Key.Key_5)  # slot 3:00: its own ROI
    key(qtbot, Qt.Key.Key_Right)  # → 4:00
    assert win.timeline.selected == "4:00" and win.timeline.cards["4:00"].hasFocus()
    key(qtbot, Qt.Key.Key_Return)
    x, y, w, h = full_study[1]
    typed(qtbot, f"{x + 4},{y},{w},{h}")
    assert win.user_rois == {"4:00": (x + 4, y, w, h)}
    with qtbot.waitSignal(win.analysisFinished, timeout=30000) as done:
        key(qtbot, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert done.args[0]["rois"]["4:00"] == [x + 4, y, w, h]
    with qtbot.waitSignal(win.reportWritten, timeout=30000):
        key(qtbot, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    assert (tmp_path / "kb.pdf").exists() and (tmp_path / "kb.json").exists()


def test_space_plays_only_in_the_viewer(qtbot, active, full_study):
    win = active
    study = open_and_wait(qtbot, win, full_study[0])
    win.clips.table.selectRow(next(i for i, e in enumerate(study.clips) if e.slot == "0:30"))
    qtbot.waitUntil(win.viewer.play.isEnabled)
    win.roi_editor.track.setFocus()
    key(qtbot, Qt.Key.Key_Space)  # the focused checkbox takes it; the clip does not start
    assert win.roi_editor.track.isChecked() and not win.viewer.play.isChecked()
    win.viewer.view.setFocus()
    key(qtbot, Qt.Key.Key_Space)
    assert win.viewer.play.isChecked()
    key(qtbot, Qt.Key.Key_Space)
    assert not win.viewer.play.isChecked()


def test_delete_on_a_card_clears_its_hand_set_frame(qtbot, active, full_study):
    win = active
    study = open_and_wait(qtbot, win, full_study[0])
    row = next(i for i, e in enumerate(study.clips) if e.slot == "2:00")
    with qtbot.waitSignal(win.studyLoaded, timeout=30000):
        win.timeline.cards["1:00"].clipDropped.emit("1:00", row)
    assert win.timeline.cards["1:00"].status == "manual"
    key(qtbot, Qt.Key.Key_3)  # slot 1:00
    with qtbot.waitSignal(win.studyLoaded, timeout=30000) as loaded:
        key(qtbot, Qt.Key.Key_Delete)
    assert loaded.args[0].slots["1:00"].source == "auto"
    assert win.timeline.cards["1:00"].status != "manual"
    key(qtbot, Qt.Key.Key_Delete)  # nothing set by hand any more: said, not silently ignored
    assert "nothing to clear" in win.status_text.text()


def test_help_lists_every_shortcut(window):
    listed = dict(window.shortcuts())
    for keys in ("Ctrl+O", "Ctrl+R", "Esc", "Ctrl+E", "Ctrl+L", "1 – 9", "Space", "Delete"):
        assert keys in listed, keys
    assert "Keyboard shortcuts" in [a.text().replace("&", "") for a in window.menuBar().actions()[-1].menu()
                                    .actions()]
