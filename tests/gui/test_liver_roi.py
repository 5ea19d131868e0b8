"""The reference liver ROI set in the app: Liver ROI mode in the ROI editor places, moves and resizes it on
the reference slot; the analysis's evidence uses it; it is an input (a change makes the result out of
date); Reset goes back to automatic placement; one outside the contrast image is refused in the app's words.
"""
from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QPoint, Qt

from ceusdesk.gui.main_window import OUT_OF_DATE

from . import test_slot_roi
from .conftest import open_and_wait
from .test_evidence_panel import card_green
from .test_lifecycle import assert_no_result
from .test_window import analyze_and_wait as _analyze_and_wait

pytestmark = pytest.mark.gui

spy_params = test_slot_roi.spy_params  # the fixture: the AnalysisParams each analysis was started with

LIVER = (170, 130, 32, 32)  # beside phantom seed 3's lesion ROI (66, 80, 84, 84), clear of it


# the core's notes (ceusdesk.evidence), matched by their opening words: the rest of each may grow
USER_NOTE = "liver ROI given by the user"
AUTO_NOTE = "liver ROI placed automatically beside the lesion"
OVERLAP_NOTE = "the liver ROI given overlaps the lesion ROI"


def noted(assumptions: list[str], opening: str) -> str | None:
    """The assumption that begins with ``opening`` (None: none does)."""
    return next((a for a in assumptions if a.startswith(opening)), None)


def analyze_and_wait(qtbot, win) -> dict:
    """Analyze once the previous analysis's worker is forgotten (Analyze waits for a running one)."""
    qtbot.waitUntil(lambda: not win.runner.busy("analyze"), timeout=30000)
    return _analyze_and_wait(qtbot, win, timeout=120000)


def drag(qtbot, canvas, a: QPoint, b: QPoint) -> None:
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(canvas, pos=b)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=b)


def liver_mode(qtbot, win) -> None:
    qtbot.mouseClick(win.roi_editor.liver_button, Qt.MouseButton.LeftButton)
    assert win.liver_editing and win.roi_editor.liver_button.isChecked()


def type_liver(qtbot, win, text: str) -> None:
    box = win.roi_editor.text
    box.setFocus()
    box.selectAll()
    qtbot.keyClicks(box, text)
    qtbot.keyClick(box, Qt.Key.Key_Return)


def open_with_roi(qtbot, win, study) -> None:
    open_and_wait(qtbot, win, study[0])
    win.set_roi("0:30", tuple(study[1]))


def test_a_liver_roi_placed_in_the_editor_is_the_one_the_evidence_and_report_use(
        qtbot, window, full_study, spy_params, tmp_path):
    open_with_roi(qtbot, window, full_study)
    window.timeline.select("3:00")
    liver_mode(qtbot, window)
    # the liver ROI lives on the reference slot's contrast image: the editor goes there
    assert window.timeline.selected == "0:30"
    assert window.roi_editor.title.text().startswith("Liver ROI on slot 0:30")
    canvas = window.roi_editor.canvas
    x, y, w, h = LIVER
    drag(qtbot, canvas, canvas.image_to_widget(x, y), canvas.image_to_widget(x + w, y + h))
    placed = window.liver_roi
    assert placed is not None and placed == canvas.liver
    assert abs(placed[0] - x) <= 1 and abs(placed[2] - w) <= 2  # a screen pixel is about an image pixel
    assert window.roi == tuple(full_study[1])  # the lesion ROI did not move
    assert "set by you" in window.roi_editor.title.text()
    assert window.roi_editor.liver_reset.isEnabled()
    assert card_green(window, "0:30") > 0  # shown on the reference card before any analysis
    assert window.roi_editor.note.isHidden()  # clear of the lesion: nothing to note

    result = analyze_and_wait(qtbot, window)
    assert spy_params[-1].liver_roi == placed
    ev = result["evidence"]
    assert ev["liver_roi"] == list(placed)
    assert ev["liver_rois"]["0:30"] == list(placed)
    assert noted(ev["assumptions"], USER_NOTE)
    assert USER_NOTE in window.result_panel.evidence.liver.text()
    # the report is built from the run: its evidence carries the liver ROI the user set
    with qtbot.waitSignal(window.reportWritten, timeout=60000):
        window.export_report(tmp_path / "report.pdf")
    doc = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert doc["result"]["evidence"]["liver_roi"] == list(placed)
    assert noted(doc["result"]["evidence"]["assumptions"], USER_NOTE)

    # moving it (drag inside) after the result: out of date, nothing to export or save
    centre = canvas.image_to_widget(placed[0] + placed[2] / 2, placed[1] + placed[3] / 2)
    drag(qtbot, canvas, centre, centre + QPoint(-30, 12))
    moved = window.liver_roi
    assert moved[2:] == placed[2:] and moved[0] < placed[0] and moved[1] > placed[1]
    assert_no_result(window)
    assert not window.export_btn.isEnabled() and not window.case_btn.isEnabled()
    assert window.result_panel.call.text() == OUT_OF_DATE
    assert canvas.liver == moved and card_green(window, "0:30") > 0

    result = analyze_and_wait(qtbot, window)
    assert result["evidence"]["liver_roi"] == list(moved)
    assert window.export_btn.isEnabled()


def test_resizing_by_a_corner_and_leaving_the_mode(qtbot, window, full_study):
    open_with_roi(qtbot, window, full_study)
    ctrl_shift = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    qtbot.keyClick(window, Qt.Key.Key_L, ctrl_shift)  # Analysis ▸ Liver ROI mode
    assert window.liver_editing and window.timeline.selected == "0:30"
    type_liver(qtbot, window, ",".join(map(str, LIVER)))
    assert window.liver_roi == LIVER
    canvas = window.roi_editor.canvas
    x, y, w, h = LIVER
    corner = canvas.image_to_widget(x + w, y + h)
    drag(qtbot, canvas, corner, corner + QPoint(20, 15))
    grown = window.liver_roi
    assert grown[:2] == LIVER[:2] and grown[2] > w and grown[3] > h
    # a drag in Liver ROI mode never touches the lesion ROI
    assert window.roi == tuple(full_study[1]) and window.user_rois == {}

    window.timeline.select("2:00")  # another slot: back to the lesion ROI
    assert not window.liver_editing and not window.roi_editor.liver_button.isChecked()
    assert not window.roi_editor.canvas.editing_liver
    assert "Liver ROI" not in window.roi_editor.title.text()
    assert "Ctrl+Shift+L" in dict(window.shortcuts())


def test_reset_goes_back_to_automatic_placement(qtbot, window, full_study, spy_params):
    open_with_roi(qtbot, window, full_study)
    liver_mode(qtbot, window)
    type_liver(qtbot, window, ",".join(map(str, LIVER)))
    result = analyze_and_wait(qtbot, window)
    assert result["evidence"]["liver_roi"] == list(LIVER)

    qtbot.mouseClick(window.roi_editor.liver_reset, Qt.MouseButton.LeftButton)
    assert window.liver_roi is None and not window.roi_editor.liver_reset.isEnabled()
    assert_no_result(window)  # the inputs changed
    assert window.roi_editor.canvas.liver is None and card_green(window, "0:30") == 0
    assert "placed by Analyze" in window.roi_editor.title.text()

    result = analyze_and_wait(qtbot, window)
    assert spy_params[-1].liver_roi is None
    ev = result["evidence"]
    assert noted(ev["assumptions"], AUTO_NOTE) and not noted(ev["assumptions"], USER_NOTE)
    assert ev["liver_roi"] is not None and ev["liver_roi"] != list(LIVER)
    assert window.roi_editor.canvas.liver == tuple(ev["liver_rois"]["0:30"])


def test_a_liver_roi_outside_the_contrast_image_is_refused_in_the_apps_words(qtbot, window, full_study):
    open_with_roi(qtbot, window, full_study)
    errors = []
    window.errorShown.connect(errors.append)
    liver_mode(qtbot, window)
    type_liver(qtbot, window, "5000,20,30,30")
    assert window.liver_roi is None
    message = window.roi_editor.error.text()
    assert window.roi_editor.error.isVisible()
    assert "The liver ROI 5000,20,30,30 lies outside the contrast panel" in message
    assert "drag it on the contrast image" in message and "--" not in message
    assert window.roi_editor.canvas.liver is None
    assert window.roi_editor.text.text() == "5000,20,30,30"  # kept, to be corrected
    assert not errors  # said under the editor, no dialog

    type_liver(qtbot, window, ",".join(map(str, LIVER)))  # a good one is taken and clears the refusal
    assert window.liver_roi == LIVER and window.roi_editor.error.isHidden()


def test_an_overlap_with_the_lesion_roi_is_noted_before_and_after_the_analysis(qtbot, window, full_study):
    open_with_roi(qtbot, window, full_study)
    liver_mode(qtbot, window)
    x, y, w, h = full_study[1]
    overlapping = (x + w // 2, y + h // 2, 30, 30)
    type_liver(qtbot, window, ",".join(map(str, overlapping)))
    assert window.liver_roi == overlapping
    assert window.roi_editor.note.isVisible() and OVERLAP_NOTE in window.roi_editor.note.text()

    result = analyze_and_wait(qtbot, window)
    note = noted(result["evidence"]["assumptions"], OVERLAP_NOTE)
    assert note and note in window.roi_editor.note.text()  # the editor said what the evidence says
    assert note in window.result_panel.evidence.liver.text()
