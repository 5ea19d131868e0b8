"""The app as a sonographer uses it: open, check the slots, draw the ROI, analyze, report, save a case."""
from __future__ import annotations

import json
import socket
import time

import pytest
from PySide6.QtCore import QPoint, Qt, QTimer

from ceusdesk.base.errors import Cancelled
from ceusdesk.base.protocol import SLOT_NAMES
from ceusdesk.gui import backend
from ceusdesk.outputs import audit

from .conftest import open_and_wait

pytestmark = pytest.mark.gui


def analyze_and_wait(qtbot, win, timeout: int = 30000) -> dict:
    with qtbot.waitSignal(win.analysisFinished, timeout=timeout) as blocker:
        win.analyze()
    return blocker.args[0]


def draw_roi(qtbot, win, slot: str, a: QPoint, b: QPoint) -> tuple[int, int, int, int]:
    """Select ``slot`` and drag a rectangle from widget point a to b on the ROI canvas."""
    win.timeline.select(slot)
    canvas = win.roi_editor.canvas
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseMove(canvas, pos=b)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=b)
    (x0, y0), (x1, y1) = canvas.widget_to_image(a), canvas.widget_to_image(b)
    return x0, y0, x1 - x0, y1 - y0


def test_opening_a_phantom_study_fills_the_timeline(qtbot, window, full_study):
    study = open_and_wait(qtbot, window, full_study[0])
    assert study.phase_set == "full"
    assert window.clips.table.rowCount() == len(study.clips)
    for name in SLOT_NAMES:
        card = window.timeline.cards[name]
        assert card.status in ("assigned", "estimated"), name
        assert card.time.text() != "—"
        assert window.panels[name] is not None
    assert "FULL" in window.timeline.phase.text()
    assert window.analyze_btn.isEnabled()


def test_a_dropped_clip_overrides_the_slot_and_sticks(qtbot, window, full_study):
    study = open_and_wait(qtbot, window, full_study[0])
    row = next(i for i, e in enumerate(study.clips) if e.slot == "2:00")
    card = window.timeline.cards["1:00"]
    with qtbot.waitSignal(window.studyLoaded, timeout=30000) as blocker:
        card.clipDropped.emit("1:00", row)  # what a drop of that clip row on the card emits
    study = blocker.args[0]
    assert study.slots["1:00"].clip.path == study.clips[row].clip.path
    assert window.timeline.cards["1:00"].status == "manual"
    # a later change (injection time re-entered) keeps the hand-set frame
    inj = study.injection_time.strftime("%H:%M:%S")
    with qtbot.waitSignal(window.studyLoaded, timeout=30000) as blocker:
        window.timeline.inj_edit.setText(inj)
        window.timeline.inj_apply.click()
    study = blocker.args[0]
    assert study.injection_source == "user"
    assert study.slots["1:00"].clip.path == study.clips[row].clip.path
    assert window.timeline.cards["1:00"].status == "manual"


def test_use_this_frame_for_slot(qtbot, window, full_study):
    study = open_and_wait(qtbot, window, full_study[0])
    row = next(i for i, e in enumerate(study.clips) if e.slot == "0:30")
    with qtbot.waitSignal(window.studyLoaded, timeout=30000) as blocker:
        window.viewer.useFrameForSlot.emit("0:30", row, 2)
    assert blocker.args[0].slots["0:30"].frame_index == 2


def test_roi_drawn_with_the_mouse_reaches_the_analysis(qtbot, window, full_study, monkeypatch):
    open_and_wait(qtbot, window, full_study[0])
    seen = []
    real = backend.analyze

    def spy(study, params, *args, **kwargs):
        seen.append(params.roi)
        return real(study, params, *args, **kwargs)

    monkeypatch.setattr(backend, "analyze", spy)
    canvas = window.roi_editor.canvas
    c = canvas.image_to_widget(60, 150)
    drawn = draw_roi(qtbot, window, "0:30", c, c + QPoint(50, 40))
    assert window.roi == drawn and drawn[2] > 4 and drawn[3] > 4
    assert window.roi_editor.text.text() == ",".join(map(str, drawn))
    result = analyze_and_wait(qtbot, window)
    assert seen == [drawn]
    assert result["rois"]["0:30"] == list(drawn)  # the engine used it on the slot it was drawn on


def test_result_shows_the_full_set_badge(qtbot, window, full_study):
    open_and_wait(qtbot, window, full_study[0])
    window.set_roi("0:30", tuple(full_study[1]))
    result = analyze_and_wait(qtbot, window)
    assert result["phase_set"] == "full"
    assert window.result_panel.badge.text() == "FULL SET"
    assert "Kupffer phase" in window.result_panel.badge_detail.text()
    assert "tiny-test" in window.result_panel.model.text()
    assert window.result_panel.probs["benign"].text() == f"{result['probabilities']['benign']:.3f}"
    assert "research use only" in window.result_panel.ruo.text().lower()


def test_result_shows_the_early_set_badge(qtbot, window, early_study):
    study = open_and_wait(qtbot, window, early_study[0])
    assert study.phase_set == "early"
    window.set_roi("0:30", tuple(early_study[1]))
    analyze_and_wait(qtbot, window)
    assert window.result_panel.badge.text() == "EARLY SET"
    assert "≤2 min only" in window.result_panel.badge_detail.text()
    assert "no Kupffer phase" in window.result_panel.badge_detail.text()
    assert window.timeline.cards["10:00"].status == "missing"


def slow_analysis(seconds: float):
    """A stand-in engine that works in small steps and honours cancel, like a long real run."""
    def fake(study, params, panels=None, progress=None, cancel=None):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if cancel is not None and cancel():
                raise Cancelled("cancelled")
            time.sleep(0.01)
        return {"phase_set": "full", "probabilities": {"benign": 1.0, "hcc": 0.0, "non_hcc_malignant": 0.0},
                "malignant_probability": 0.0, "call": "benign", "threshold": 0.5,
                "model": {"name": "fake", "version": "0", "uid": "u", "sha256": "0" * 64},
                "phase_importance": {}, "rois": {}}
    return fake


def test_cancel_stops_the_analysis(qtbot, window, full_study, monkeypatch):
    open_and_wait(qtbot, window, full_study[0])
    window.set_roi("0:30", tuple(full_study[1]))
    monkeypatch.setattr(backend, "analyze", slow_analysis(20.0))
    finished = []
    window.analysisFinished.connect(finished.append)
    with qtbot.waitSignal(window.analysisCancelled, timeout=10000):
        window.analyze()
        assert window.cancel_btn.isEnabled()
        QTimer.singleShot(100, window.cancel_btn.click)
    assert not finished and window.result is None
    assert "cancelled" in window.result_panel.call.text().lower()
    qtbot.waitUntil(lambda: window.analyze_btn.isEnabled() and not window.cancel_btn.isEnabled())


def test_event_loop_keeps_answering_while_analysis_runs(qtbot, window, full_study, monkeypatch):
    open_and_wait(qtbot, window, full_study[0])
    window.set_roi("0:30", tuple(full_study[1]))
    monkeypatch.setattr(backend, "analyze", slow_analysis(1.0))
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    with qtbot.waitSignal(window.analysisFinished, timeout=15000):
        window.analyze()
    timer.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    print(f"\nGUI thread during a 1 s analysis: {len(ticks)} timer ticks handled, "
          f"longest gap {max(gaps) * 1000:.0f} ms")
    # a blocked GUI thread would handle one tick (after the work); 10 ms ticks over 1 s give ~100
    assert len(ticks) >= 20


def test_bad_input_shows_an_error_and_the_app_stays_usable(qtbot, window, tmp_path, full_study):
    bad = tmp_path / "not-a-study"
    bad.mkdir()
    (bad / "IM000001").write_bytes(b"DICM" + b"\0" * 200)
    (bad / "notes.txt").write_text("nothing to see")
    with qtbot.waitSignal(window.errorShown, timeout=30000) as blocker:
        window.open_study(bad)
    assert "not-a-study" in blocker.args[0]
    assert window.error_box is not None and window.error_box.isVisible()
    assert window.error_box.text() == blocker.args[0] and "\n" not in blocker.args[0]
    with qtbot.waitSignal(window.errorShown, timeout=5000):
        window.open_study(tmp_path / "does-not-exist")
    window.error_box.close()
    study = open_and_wait(qtbot, window, full_study[0])  # still works afterwards
    assert study.phase_set == "full"


def test_analysis_without_roi_is_refused_with_a_message(qtbot, window, full_study):
    open_and_wait(qtbot, window, full_study[0])
    with qtbot.waitSignal(window.errorShown, timeout=5000) as blocker:
        window.analyze()
    assert "ROI" in blocker.args[0]


def test_no_network_socket_during_open_analyze_and_report(qtbot, window, full_study, tmp_path, monkeypatch):
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access is not allowed in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    open_and_wait(qtbot, window, full_study[0])
    window.set_roi("0:30", tuple(full_study[1]))
    analyze_and_wait(qtbot, window)
    with qtbot.waitSignal(window.reportWritten, timeout=30000):
        window.export_report(tmp_path / "r.pdf")
    assert attempts == []


def test_analysis_is_audited_without_patient_id(qtbot, window, full_study, private_data_dir):
    study = open_and_wait(qtbot, window, full_study[0])
    window.set_roi("0:30", tuple(full_study[1]))
    result = analyze_and_wait(qtbot, window)
    (rec,) = audit.read_records(private_data_dir)
    assert rec["source"] == "app" and rec["model"]["uid"] == result["model"]["uid"]
    assert study.patient_id and study.patient_id not in audit.audit_log_path(private_data_dir).read_text()


def test_report_export(qtbot, window, full_study, tmp_path):
    open_and_wait(qtbot, window, full_study[0])
    window.set_roi("0:30", tuple(full_study[1]))
    analyze_and_wait(qtbot, window)
    assert window.report_action.isEnabled()
    with qtbot.waitSignal(window.reportWritten, timeout=30000) as blocker:
        window.export_report(tmp_path / "case.pdf")
    pdf = blocker.args[0]
    doc = json.loads((tmp_path / "case.json").read_text())
    assert pdf.endswith("case.pdf") and doc["report"]["deidentified"] is True  # the default setting
    assert doc["result"]["phase_set"] == "full"


def test_save_as_training_case_reads_back_the_same_frames(qtbot, window, full_study, tmp_path):
    from ceusdesk.study import open_study

    study = open_and_wait(qtbot, window, full_study[0])
    window.set_roi("0:30", tuple(full_study[1]))
    assert not window.case_action.isEnabled()  # a case is saved from a result, never without one
    analyze_and_wait(qtbot, window)
    assert window.case_action.isEnabled()
    with qtbot.waitSignal(window.caseSaved, timeout=30000) as blocker:
        window.save_case(tmp_path / "cases", "hcc")
    (line,) = (tmp_path / "cases" / "cases.jsonl").read_text().splitlines()
    rec = json.loads(line)
    assert rec["source"] == "app" and rec["label"] == "hcc" and rec["roi"] == list(full_study[1])
    assert set(rec["slot_overrides"]) == set(SLOT_NAMES)
    assert study.patient_id not in line
    again = open_study(blocker.args[0], injection_time=rec["injection_time"],
                       contrast_panel=rec["contrast_panel"], slot_overrides=rec["slot_overrides"])
    assert again.phase_set == "full"
    for name in SLOT_NAMES:
        assert again.slots[name].frame_index == study.slots[name].frame_index
        assert again.slots[name].panel == study.slots[name].panel


def test_window_state_is_kept(qtbot, tmp_path):
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QDockWidget

    from ceusdesk.gui.main_window import MainWindow

    def dock_area(win: MainWindow) -> Qt.DockWidgetArea:
        return win.dockWidgetArea(win.findChild(QDockWidget, "resultDock"))

    ini = str(tmp_path / "s.ini")
    first = MainWindow(QSettings(ini, QSettings.Format.IniFormat))
    qtbot.addWidget(first)
    first.show()
    assert dock_area(first) == Qt.DockWidgetArea.RightDockWidgetArea
    first.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, first.findChild(QDockWidget, "resultDock"))
    first.close()
    second = MainWindow(QSettings(ini, QSettings.Format.IniFormat))
    qtbot.addWidget(second)
    assert dock_area(second) == Qt.DockWidgetArea.LeftDockWidgetArea
