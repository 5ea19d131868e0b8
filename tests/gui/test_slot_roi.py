"""Per-slot ROI adjustment: drag on a slot other than the reference one, see it, analyze with it, reset."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt

from ceusdesk.gui import backend
from ceusdesk.gui.imaging import thumbnail
from ceusdesk.gui.slot_timeline import THUMB

from .conftest import open_and_wait
from .test_window import analyze_and_wait, draw_roi

pytestmark = pytest.mark.gui


def shown_thumbnail(win, slot: str):
    return win.timeline.cards[slot].image.pixmap().toImage()


def expected_thumbnail(win, slot: str, roi):
    """The card as drawn with ``roi`` (and, after an analysis, its reference liver ROI)."""
    return thumbnail(win.panels[slot], roi, THUMB, liver=win.liver_rois().get(slot)).toImage()


@pytest.fixture
def spy_params(monkeypatch):
    """The AnalysisParams each analysis was started with."""
    seen = []
    real = backend.analyze

    def spy(study, params, *args, **kwargs):
        seen.append(params)
        return real(study, params, *args, **kwargs)

    monkeypatch.setattr(backend, "analyze", spy)
    return seen


def test_dragging_on_another_slot_adjusts_that_slot_only_and_reaches_the_analysis(
        qtbot, window, full_study, spy_params):
    open_and_wait(qtbot, window, full_study[0])
    assert window.reference == "0:30"
    x, y, w, h = full_study[1]
    canvas = window.roi_editor.canvas
    shared = draw_roi(qtbot, window, "0:30", canvas.image_to_widget(x, y),
                      canvas.image_to_widget(x + w, y + h))
    assert window.roi == shared and "Shared ROI" in window.roi_editor.title.text()
    assert not window.roi_editor.reset.isEnabled()

    window.timeline.select("3:00")
    assert window.roi_editor.title.text().startswith("ROI for slot 3:00 (shared ROI)")
    assert window.roi_editor.canvas.roi == shared  # same panel size: placed as drawn
    a = canvas.image_to_widget(x + 10, y + 6)
    adjusted = draw_roi(qtbot, window, "3:00", a, a + QPoint(60, 50))
    assert adjusted != shared
    assert window.roi == shared  # the shared ROI did not move
    assert window.user_rois == {"3:00": adjusted}
    assert window.roi_editor.title.text() == "ROI for slot 3:00 (adjusted)"
    assert window.roi_editor.reset.isEnabled()
    assert window.roi_editor.text.text() == ",".join(map(str, adjusted))

    # every thumbnail shows its slot's ROI; only 3:00's card says it was adjusted
    assert shown_thumbnail(window, "3:00") == expected_thumbnail(window, "3:00", adjusted)
    assert shown_thumbnail(window, "3:00") != expected_thumbnail(window, "3:00", shared)
    assert shown_thumbnail(window, "4:00") == expected_thumbnail(window, "4:00", shared)
    assert not window.timeline.cards["3:00"].roi_note.isHidden()
    assert window.timeline.cards["4:00"].roi_note.isHidden()

    # back on another slot the shared ROI is shown, and on 3:00 again the adjusted one
    window.timeline.select("4:00")
    assert window.roi_editor.canvas.roi == shared
    window.timeline.select("3:00")
    assert window.roi_editor.canvas.roi == adjusted

    result = analyze_and_wait(qtbot, window)
    assert spy_params[-1].roi == shared and spy_params[-1].rois == {"3:00": adjusted}
    assert result["rois"]["3:00"] == list(adjusted) and result["roi_sources"]["3:00"] == "user"
    assert result["rois"]["4:00"] == list(shared) and result["roi_sources"]["4:00"] == "given"
    assert shown_thumbnail(window, "3:00") == expected_thumbnail(window, "3:00", adjusted)

    # redrawing the shared ROI on the reference slot keeps the hand-set one
    b = canvas.image_to_widget(x - 4, y - 4)
    new_shared = draw_roi(qtbot, window, "0:30", b, b + QPoint(70, 70))
    assert window.roi == new_shared and window.user_rois == {"3:00": adjusted}
    assert shown_thumbnail(window, "4:00") == expected_thumbnail(window, "4:00", new_shared)


def test_reset_to_shared_roi(qtbot, window, full_study, spy_params):
    open_and_wait(qtbot, window, full_study[0])
    shared = tuple(full_study[1])
    window.set_roi("0:30", shared)
    canvas = window.roi_editor.canvas
    a = canvas.image_to_widget(shared[0] + 8, shared[1] + 8)
    draw_roi(qtbot, window, "5:00", a, a + QPoint(40, 40))
    assert set(window.user_rois) == {"5:00"}

    qtbot.mouseClick(window.roi_editor.reset, Qt.MouseButton.LeftButton)
    assert window.user_rois == {}
    assert window.roi_editor.title.text().startswith("ROI for slot 5:00 (shared ROI)")
    assert window.roi_editor.canvas.roi == shared and not window.roi_editor.reset.isEnabled()
    assert shown_thumbnail(window, "5:00") == expected_thumbnail(window, "5:00", shared)
    assert window.timeline.cards["5:00"].roi_note.isHidden()
    result = analyze_and_wait(qtbot, window)
    assert spy_params[-1].rois == {}
    assert result["roi_sources"]["5:00"] == "given"


def test_the_first_roi_drawn_on_any_slot_is_the_shared_one(qtbot, window, full_study):
    open_and_wait(qtbot, window, full_study[0])
    canvas = window.roi_editor.canvas
    window.timeline.select("2:00")
    assert "Shared ROI" in window.roi_editor.title.text()
    a = canvas.image_to_widget(*full_study[1][:2])
    drawn = draw_roi(qtbot, window, "2:00", a, a + QPoint(50, 50))
    assert window.roi == drawn and window.user_rois == {}
    assert shown_thumbnail(window, "6:00") == expected_thumbnail(window, "6:00", drawn)


def test_a_new_frame_for_a_slot_drops_its_hand_set_roi(qtbot, window, full_study):
    study = open_and_wait(qtbot, window, full_study[0])
    window.set_roi("0:30", tuple(full_study[1]))
    window.set_roi("2:00", (10, 10, 30, 30))
    window.set_roi("1:00", (12, 12, 30, 30))
    row = next(i for i, e in enumerate(study.clips) if e.slot == "2:00")
    with qtbot.waitSignal(window.studyLoaded, timeout=30000):
        window.viewer.useFrameForSlot.emit("2:00", row, 0)
    assert window.user_rois == {"1:00": (12, 12, 30, 30)}  # set on the frame that was replaced
