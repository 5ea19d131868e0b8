"""Ranges and borderline findings in the app: the onset and the Kupffer ratio with their ranges beside the
call, an amber "borderline" marker (with why, in its tooltip) where the measurement cannot tell, the onset
range shaded on the curve, and the further liver reference squares drawn beside an automatic liver ROI
(docs/evidence.md "Ranges (uncertainty)", docs/app.md)."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtGui import QImage

from ceusdesk.gui import backend
from ceusdesk.gui.curve_panel import CurvePanel
from ceusdesk.gui.evidence_panel import EvidencePanel
from ceusdesk.gui.imaging import thumbnail
from ceusdesk.gui.layout_check import clipped, undescribed
from ceusdesk.outputs.evidence_wording import BORDERLINE_COLOUR
from tests.report.test_report_ranges import BORDERLINE_DEFECT, FIRM, OPEN_ONSET, ranged

from .conftest import open_and_wait
from .test_evidence_panel import green_pixels
from .test_lifecycle import fake_result
from .test_window import analyze_and_wait

pytestmark = pytest.mark.gui

TIMES = {"0:30": 31.0, "1:00": 61.0, "2:00": 119.0, "10:00": 605.0}


def shown(qtbot, ev: dict) -> EvidencePanel:
    panel = EvidencePanel()
    qtbot.addWidget(panel)
    panel.show_evidence(ev, TIMES)
    panel.resize(340, 700)
    panel.show()
    return panel


def feature_value(panel: EvidencePanel, name: str) -> str:
    """The value cell of the feature row ``name`` as the label's rich text holds it."""
    row = next(r for r in panel.features.text().split("<tr>") if r.startswith(f"<td>{name}&nbsp;"))
    return row.split("</td><td>", 1)[1].split("</td></tr>")[0]


def test_a_borderline_defect_is_marked_amber_and_not_shown_as_a_defect(qtbot):
    panel = shown(qtbot, ranged(**BORDERLINE_DEFECT))
    assert panel.borderline.isVisible()
    assert "BORDERLINE" in panel.borderline.text() and "Kupffer-phase defect" in panel.borderline.text()
    assert "washout" not in panel.borderline.text()  # the onset's range is firm here
    assert BORDERLINE_COLOUR in panel.borderline.styleSheet()
    assert "cannot tell defect from no defect" in panel.borderline.toolTip()
    defect = feature_value(panel, "Kupffer defect")
    assert "borderline: defect or not cannot be told" in defect and BORDERLINE_COLOUR in defect
    assert ">yes<" not in defect
    assert "0.79× (0.71–0.88)" in panel.features.text()


def test_firm_findings_show_their_ranges_and_no_marker(qtbot):
    panel = shown(qtbot, ranged(**FIRM))
    assert not panel.borderline.isVisible()
    assert "1:35 (1:10–2:05), late" in feature_value(panel, "washout onset")
    assert "0.07× (0.05–0.09)" in feature_value(panel, "Kupffer lesion/liver")
    assert feature_value(panel, "Kupffer defect") == "<b>yes</b>"
    assert BORDERLINE_COLOUR not in panel.features.text()


def test_an_open_ended_onset_range_is_said_open_and_marks_the_washout_borderline(qtbot):
    panel = shown(qtbot, ranged(**OPEN_ONSET))
    onset = feature_value(panel, "washout onset")
    assert "1:35 (1:10 – none by 6:30)" in onset and BORDERLINE_COLOUR in onset
    assert panel.borderline.isVisible() and "washout" in panel.borderline.text()
    assert "cannot tell washout from none" in panel.borderline.toolTip()
    assert BORDERLINE_COLOUR in feature_value(panel, "washout degree")  # the degree of a maybe-washout
    # the band runs from the earliest onset to the end of the vascular phase
    assert panel.curve.onset_band is not None
    assert panel.curve.onset_band.getRegion() == pytest.approx((70.0, 390.0))


def test_early_or_late_is_not_said_when_the_range_spans_60_s(qtbot):
    panel = shown(qtbot, ranged(washout_onset_s=58.0, washout_onset_range_s=[45.0, 75.0]))
    assert "0:58 (0:45–1:15), early or late cannot be told" in feature_value(panel, "washout onset")


def test_the_onset_range_is_shaded_on_the_curve_and_goes_with_the_result(qtbot):
    def drawn(ev: dict) -> tuple[CurvePanel, np.ndarray]:
        curve = CurvePanel()
        qtbot.addWidget(curve)
        curve.set_evidence(ev, TIMES)
        curve.setFixedSize(340, 220)
        curve.show()
        curve.plot.setXRange(0, 620, padding=0)
        curve.plot.setYRange(0, 0.6, padding=0)
        qtbot.wait(20)
        img = curve.plot.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
        a = np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())
        return curve, a[:, :img.width() * 3].reshape(img.height(), img.width(), 3).astype(int)

    plain, without = drawn(ranged())
    assert plain.onset_band is None
    curve, with_band = drawn(ranged(**FIRM))
    assert curve.onset_band.getRegion() == pytest.approx((70.0, 125.0))
    reddened = (with_band[..., 0] - without[..., 0]) > 8  # the translucent onset colour over the background
    assert reddened.sum() > 500
    curve.clear()
    assert curve.onset_band is None


def test_the_further_squares_are_drawn_dimmer_than_the_liver_roi():
    panel = np.full((120, 160, 3), 40, np.uint8)
    liver = (100, 30, 40, 40)
    alone = thumbnail(panel, (10, 10, 30, 30), 150, liver=liver).toImage()
    with_extra = thumbnail(panel, (10, 10, 30, 30), 150, liver=liver,
                           liver_extra=[(20, 60, 30, 30)]).toImage()
    assert alone != with_extra
    # dimmer than the liver ROI: the extra square adds no pixel of the liver ROI's full green
    assert green_pixels(with_extra) == green_pixels(alone)


def extras_window(qtbot, window, full_study, monkeypatch, ev: dict) -> None:
    monkeypatch.setattr(backend, "analyze", lambda *a, **k: fake_result() | {"evidence": ev})
    open_and_wait(qtbot, window, full_study[0])
    window.set_roi("0:30", tuple(full_study[1]))
    analyze_and_wait(qtbot, window)


def test_the_further_liver_squares_are_drawn_on_the_reference_slot_only(qtbot, window, full_study,
                                                                         monkeypatch):
    ev = ranged(**BORDERLINE_DEFECT) | {"liver_reference": [[100, 30, 40, 40], [20, 30, 36, 36],
                                                            [150, 34, 36, 36]]}
    extras_window(qtbot, window, full_study, monkeypatch, ev)
    assert window.reference == "0:30"
    card = window.timeline.cards["0:30"]
    assert card.liver_extra == [(20, 30, 36, 36), (150, 34, 36, 36)]
    assert all(not c.liver_extra for name, c in window.timeline.cards.items() if name != "0:30")
    window.timeline.select("0:30")
    canvas = window.roi_editor.canvas
    assert canvas.liver_extra == [(20, 30, 36, 36), (150, 34, 36, 36)]
    # drawn: the canvas differs from one without them, along the squares' edges
    with_extra = canvas.grab().toImage()
    canvas.liver_extra = []
    assert canvas.grab().toImage() != with_extra
    window._set_tracking(not window.track)  # any input change: the result and its squares go
    assert window.result is None and not card.liver_extra and not canvas.liver_extra


def test_a_liver_roi_the_user_set_has_no_further_squares(qtbot, window, full_study, monkeypatch):
    ev = ranged(**FIRM) | {"liver_reference": [[100, 30, 40, 40]]}  # set by the user: read alone
    extras_window(qtbot, window, full_study, monkeypatch, ev)
    assert window.liver_extras() == {}
    assert not window.timeline.cards["0:30"].liver_extra


def test_at_1024_by_700_the_borderline_marker_fits(qtbot, window, full_study, monkeypatch):
    window.resize(1024, 700)
    extras_window(qtbot, window, full_study, monkeypatch, ranged(**OPEN_ONSET) | BORDERLINE_DEFECT
                  | {"washout_onset_range_s": [70.0, None]})
    qtbot.wait(50)
    panel = window.result_panel.evidence
    assert panel.borderline.isVisibleTo(window)
    assert "washout" in panel.borderline.text() and "Kupffer-phase defect" in panel.borderline.text()
    assert (window.width(), window.height()) == (1024, 700)
    assert clipped(window) == []
    assert undescribed(window) == []
