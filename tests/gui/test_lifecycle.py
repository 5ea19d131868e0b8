"""A result belongs to its inputs: any change clears it, a superseded run's result never shows.

Driven through the window as a user would (issue 12 §3): redraw the ROI after an analysis, change the
injection time or tracking, open another study while an analysis runs.
"""
from __future__ import annotations

import json
import threading

import pytest
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QMessageBox

from ceusdesk.gui import backend
from ceusdesk.outputs import audit
from tests.report.test_report import pdf_text

from .conftest import open_and_wait
from .test_window import analyze_and_wait, draw_roi

pytestmark = pytest.mark.gui


def fake_result(rois: dict | None = None) -> dict:
    return {"phase_set": "full", "probabilities": {"benign": 0.1, "hcc": 0.8, "non_hcc_malignant": 0.1},
            "malignant_probability": 0.9, "call": "malignant", "threshold": 0.5,
            "model": {"name": "fake", "version": "0", "uid": "u-1", "sha256": "0" * 64},
            "phase_importance": {}, "rois": rois or {}}


def assert_no_result(win) -> None:
    assert win.result is None
    assert not win.report_action.isEnabled() and not win.case_action.isEnabled()
    assert win.result_panel.badge.text() == "NO RESULT"


def test_redrawing_the_roi_after_analyze_clears_the_result(qtbot, window, full_study, tmp_path):
    open_and_wait(qtbot, window, full_study[0])
    window.set_roi("0:30", tuple(full_study[1]))
    analyze_and_wait(qtbot, window)
    assert window.result is not None and window.report_action.isEnabled()
    canvas = window.roi_editor.canvas
    c = canvas.image_to_widget(20, 20)
    draw_roi(qtbot, window, "0:30", c, c + QPoint(40, 40))  # normal liver, say
    assert_no_result(window)
    assert "out of date" in window.result_panel.call.text().lower()
    errors = []
    window.errorShown.connect(errors.append)
    window.export_report(tmp_path / "stale.pdf")  # what Ctrl+E would do if it were enabled
    assert errors and not (tmp_path / "stale.pdf").exists()


@pytest.mark.parametrize("change", ["tracking", "injection"])
def test_any_other_input_change_clears_the_result(qtbot, window, full_study, monkeypatch, change):
    monkeypatch.setattr(backend, "analyze", lambda *a, **k: fake_result())
    study = open_and_wait(qtbot, window, full_study[0])
    window.set_roi("0:30", tuple(full_study[1]))
    analyze_and_wait(qtbot, window)
    assert window.result is not None
    if change == "tracking":
        window.roi_editor.trackingChanged.emit(True)
        assert_no_result(window)
    else:
        with qtbot.waitSignal(window.studyLoaded, timeout=30000):
            window.set_injection_time(study.injection_time.strftime("%H:%M:%S"))
        assert_no_result(window)


def test_a_result_finished_before_another_study_opened_is_dropped(qtbot, window, full_study, early_study,
                                                                  private_data_dir, monkeypatch):
    """The first study's analysis has finished in its worker, its result still queued, when the user
    opens another study: the result never appears and is never audited under the second study."""
    monkeypatch.setattr(backend, "analyze", lambda *a, **k: fake_result())
    open_and_wait(qtbot, window, full_study[0])
    window.set_roi("0:30", tuple(full_study[1]))
    finished = []
    window.analysisFinished.connect(finished.append)
    window.analyze()
    assert window.runner.pool.waitForDone(10000)  # done in the worker; its signals wait in the queue
    second = open_and_wait(qtbot, window, early_study[0])
    qtbot.waitUntil(lambda: not window.runner.busy("analyze"))
    assert finished == [] and window.study is second
    assert_no_result(window)
    assert audit.read_records(private_data_dir) == []


def test_opening_another_study_during_an_analysis_cancels_it(qtbot, window, full_study, early_study,
                                                             private_data_dir, monkeypatch):
    started, release = threading.Event(), threading.Event()

    def slow(*_a, **_k):  # an engine run that does not look at cancel (ONNX Runtime's run does not)
        started.set()
        release.wait(10)
        return fake_result()

    monkeypatch.setattr(backend, "analyze", slow)
    open_and_wait(qtbot, window, full_study[0])
    window.set_roi("0:30", tuple(full_study[1]))
    finished = []
    window.analysisFinished.connect(finished.append)
    window.analyze()
    assert started.wait(10)
    with qtbot.waitSignal(window.studyLoaded, timeout=30000):
        window.open_study(early_study[0])
    release.set()
    qtbot.waitUntil(lambda: not window.runner.busy("analyze"))
    assert finished == []
    assert_no_result(window)
    assert audit.read_records(private_data_dir) == []
    qtbot.waitUntil(window.analyze_btn.isEnabled)  # the app is ready for the second study


def test_report_and_case_come_from_what_the_analysis_used(qtbot, window, full_study, tmp_path, monkeypatch):
    """Tracked ROIs (here moved by the engine on 3:00) reach the report and the training case."""
    x, y, w, h = full_study[1]
    tracked = [x + 6, y + 4, w, h]
    monkeypatch.setattr(backend, "analyze",
                        lambda *a, **k: fake_result({"0:30": [x, y, w, h], "3:00": tracked}))
    open_and_wait(qtbot, window, full_study[0])
    window.set_roi("0:30", (x, y, w, h))
    analyze_and_wait(qtbot, window)
    window.settings.deidentify = False
    with qtbot.waitSignal(window.reportWritten, timeout=30000):
        window.export_report(tmp_path / "r.pdf")
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["roi"] == [x, y, w, h] and doc["rois"]["3:00"] == tracked
    assert doc["result"]["model"]["uid"] == "u-1"
    with qtbot.waitSignal(window.caseSaved, timeout=30000):
        window.save_case(tmp_path / "cases", "hcc")
    rec = json.loads((tmp_path / "cases" / "cases.jsonl").read_text())
    assert rec["roi"] == [x, y, w, h] and rec["slot_rois"] == {"3:00": tracked}


def test_unsure_contrast_side_is_asked_before_analyze(qtbot, window, full_study, tmp_path, private_data_dir,
                                                      monkeypatch):
    # the cues could not settle it (until the user answers: the study re-opened with the side given)
    monkeypatch.setattr(backend, "side_sure", lambda study: backend.side_chosen_by_user(study))
    study = open_and_wait(qtbot, window, full_study[0])
    assert study.contrast_panel in ("left", "right")
    question = window.side_question
    assert question.isVisible()
    assert not window.analyze_btn.isEnabled()
    assert "contrast panel" in window.analyze_reason.text() and window.analyze_reason.isVisible()
    for side in ("left", "right"):  # both panels of one frame are shown
        assert not question.images[side].pixmap().isNull()
    other = backend.other_side(study.contrast_panel)
    with qtbot.waitSignal(window.studyLoaded, timeout=30000) as blocker:
        question.buttons[other].click()
    assert blocker.args[0].contrast_panel == other
    assert not question.isVisible() and window.analyze_btn.isEnabled()
    (rec,) = audit.read_records(private_data_dir)
    assert rec["event"] == "contrast_panel_chosen" and rec["contrast_panel"] == other

    monkeypatch.setattr(backend, "analyze", lambda *a, **k: fake_result())
    window.set_roi("0:30", tuple(full_study[1]))
    analyze_and_wait(qtbot, window)
    assert f"contrast panel: {other}, chosen by you" in window.result_panel.chips.text()
    window.settings.deidentify = False
    with qtbot.waitSignal(window.reportWritten, timeout=30000):
        window.export_report(tmp_path / "side.pdf")
    doc = json.loads((tmp_path / "side.json").read_text())
    assert doc["contrast_panel"] == other and doc["contrast_panel_source"] == "user"
    assert f"Contrast panel: {other}, chosen by the user" in pdf_text(tmp_path / "side.pdf")


def test_gaps_and_estimated_injection_are_shown_and_confirmed(qtbot, window, gappy_study, monkeypatch):
    study = open_and_wait(qtbot, window, gappy_study[0])
    assert study.injection_source == "estimated"
    assert "4:00, 5:00 not acquired" in window.timeline.phase.text()
    assert window.timeline.inj_chip.isVisible() and "ESTIMATED" in window.timeline.inj_chip.text()
    assert window.timeline.inj_confirm.isVisible()
    window.set_roi("0:30", tuple(gappy_study[1]))
    assert not window.analyze_btn.isEnabled() and "injection time" in window.analyze_reason.text()
    asked = []

    def answer_yes(box):  # the user reads the estimate and confirms it
        asked.append(box.text())
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "exec", answer_yes)
    window.timeline.inj_confirm.click()
    assert asked and study.injection_time.strftime("%H:%M:%S") in asked[0]
    assert window.analyze_btn.isEnabled() and not window.timeline.inj_confirm.isVisible()
    assert window.timeline.inj_chip.isVisible()  # an estimate stays visible once confirmed
    monkeypatch.setattr(backend, "analyze", lambda *a, **k: fake_result())
    analyze_and_wait(qtbot, window)
    assert window.result_panel.gaps.text() == "4:00, 5:00 not acquired"
    assert "estimated" in window.result_panel.chips.text()


def test_a_slot_far_from_its_target_or_sharing_a_clip_is_amber(qtbot, window, full_study):
    study = open_and_wait(qtbot, window, full_study[0])
    assert not any(card.flags for card in window.timeline.cards.values())
    row = next(i for i, e in enumerate(study.clips) if e.slot == "2:00")
    with qtbot.waitSignal(window.studyLoaded, timeout=30000):
        window.use_frame_for_slot("1:00", row, 1)
    one, two = window.timeline.cards["1:00"], window.timeline.cards["2:00"]
    assert set(one.flags) == {"far_from_target", "clip_reused"}
    assert "s from target" in one.flag_note.text() and one.flag_note.isVisible()
    assert two.flags == ["clip_reused"]
