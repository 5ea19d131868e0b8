"""The enhancement evidence in the window: after Analyze the curve, the liver ROI on every slot and the
readout beside the call; any input change takes them away with the result (docs/app.md)."""
from __future__ import annotations

import threading
from html import escape

import numpy as np
import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QImage

from ceusdesk.gui import backend
from ceusdesk.gui.imaging import LIVER_COLOUR
from tests.report.test_report_evidence import evidence

from .conftest import open_and_wait
from .test_lifecycle import fake_result
from .test_window import analyze_and_wait, draw_roi

pytestmark = pytest.mark.gui


def green_pixels(image: QImage) -> int:
    """Pixels in the liver ROI's green (the dashed outline and its label)."""
    img = image.convertToFormat(QImage.Format.Format_RGB888)
    a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
    rgb = a[:, :img.width() * 3].reshape(img.height(), img.width(), 3).astype(int)
    want = np.array([LIVER_COLOUR.red(), LIVER_COLOUR.green(), LIVER_COLOUR.blue()])
    return int((np.abs(rgb - want).sum(axis=2) < 40).sum())


def card_green(win, slot: str) -> int:
    return green_pixels(win.timeline.cards[slot].image.pixmap().toImage())


def test_analyze_shows_curve_liver_roi_and_readout_and_a_new_roi_takes_them_away(qtbot, window, full_study,
                                                                                  monkeypatch):
    import ceusdesk.analysis

    threads = []
    real = ceusdesk.analysis.compute_evidence

    def spy(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(ceusdesk.analysis, "compute_evidence", spy)  # the one analysis every front end runs
    open_and_wait(qtbot, window, full_study[0])
    window.set_roi("0:30", tuple(full_study[1]))
    assert card_green(window, "0:30") == 0
    result = analyze_and_wait(qtbot, window, timeout=120000)
    ev = result["evidence"]
    assert threads and threads[0] is not threading.main_thread()  # computed in the analysis worker
    panel = window.result_panel.evidence
    assert panel.isVisible()
    # the curve holds the time-intensity curve the core measured, point for point
    tic = [p for p in ev["tic"] if p["lesion"] is not None]
    assert len(tic) >= 10
    assert [t for t, _ in panel.curve.points()["lesion"]] == pytest.approx([p["t_s"] for p in tic])
    assert set(result["slots_used"]) - {"B"} <= set(panel.curve.markers)
    if ev["washout_onset_s"] is not None:
        assert "washout" in panel.curve.markers
    # the readout beside the call, marked as what it is
    assert "not a diagnosis" in panel.text()
    for line in ev["readout"][1:]:
        assert escape(line) in panel.readout.text()
    assert "peak lesion/liver" in panel.features.text()
    # the liver ROI on every slot it was placed on, and in the ROI editor
    assert ev["liver_rois"]
    for slot in ev["liver_rois"]:
        assert card_green(window, slot) > 0, slot
    window.timeline.select("0:30")
    assert window.roi_editor.canvas.liver == tuple(ev["liver_rois"]["0:30"])
    assert green_pixels(window.roi_editor.canvas.grab().toImage()) > 0

    c = window.roi_editor.canvas.image_to_widget(20, 20)
    draw_roi(qtbot, window, "0:30", c, c + QPoint(40, 40))
    assert window.result is None
    assert not panel.isVisible() and panel.curve.points() == {"lesion": [], "liver": []}
    assert all(card_green(window, s) == 0 for s in window.timeline.cards)
    assert window.roi_editor.canvas.liver is None


def test_a_disagreement_is_highlighted_and_goes_with_the_result(qtbot, window, full_study, monkeypatch):
    ev = evidence(call="benign")
    monkeypatch.setattr(backend, "analyze", lambda *a, **k: fake_result() | {"evidence": ev})
    open_and_wait(qtbot, window, full_study[0])
    window.set_roi("0:30", tuple(full_study[1]))
    analyze_and_wait(qtbot, window)
    panel = window.result_panel.evidence
    assert panel.disagreement.isVisible() and "review the images" in panel.disagreement.text()
    assert "b00020" in panel.disagreement.styleSheet()
    assert "2.31×" in panel.features.text()
    window._set_tracking(not window.track)
    assert window.result is None and not panel.isVisible() and not panel.disagreement.text()


def test_the_curve_renders_offscreen(qtbot):
    from ceusdesk.gui.evidence_panel import EvidencePanel

    panel = EvidencePanel()
    qtbot.addWidget(panel)
    panel.show_evidence(evidence("early"), {"0:30": 31.0, "1:00": 61.0, "2:00": 119.0})
    panel.resize(320, 600)
    panel.show()
    image = panel.curve.grab().toImage()
    assert image.width() > 100
    assert green_pixels(image) > 0  # the liver curve is drawn
    assert "not assessed: early set" in panel.features.text()
