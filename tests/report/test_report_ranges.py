"""Ranges and borderline findings on the PDF's first page: the washout onset and the Kupffer ratio with
their ranges, an open-ended onset range said as such, a borderline defect or washout never written as a
firm finding, and the onset range shaded on the curve (docs/evidence.md "Ranges (uncertainty)")."""
from __future__ import annotations

from ceusdesk.evidence.readout import disagreement, readout
from ceusdesk.outputs.evidence_wording import ONSET_COLOUR, feature_rows, tic_chart

from .test_report_evidence import evidence, page_one

UNCERTAINTY = {"liver_reference_sd": 0.05, "squares": 4, "measured": True,
               "lesion_region_sd": {"vascular": 0.0, "kupffer": 0.0}, "later_point_sd": 0.06, "z": 2}


def ranged(call: str = "malignant", **fields) -> dict:
    """The test evidence with ``fields`` changed, its readout and disagreement said again."""
    ev = evidence(call=call) | {"ratio_uncertainty": UNCERTAINTY} | fields
    ev["readout"] = readout(ev, {})
    ev["disagreement"] = disagreement(ev, call)
    return ev


FIRM = {"washout_onset_range_s": [70.0, 125.0], "kupffer_ratio_range": [0.05, 0.09],
        "kupffer_defect_borderline": False}
BORDERLINE_DEFECT = {"kupffer_ratio": 0.79, "kupffer_defect": True, "kupffer_defect_borderline": True,
                     "kupffer_ratio_range": [0.71, 0.88], "washout_onset_range_s": [70.0, 125.0]}
OPEN_ONSET = {"washout_onset_range_s": [70.0, None], "kupffer_ratio_range": [0.05, 0.09],
              "kupffer_defect_borderline": False}


def rows(ev: dict) -> dict[str, str]:
    return dict(feature_rows(ev))


def test_firm_ranges_are_given_beside_the_values(tmp_path, report_input):
    text = page_one(tmp_path, report_input, ranged(**FIRM))
    assert "1:35 (1:10–2:05), late" in text
    assert "0.07× (0.05–0.09)" in text
    assert "Kupffer defect yes" in text
    assert "borderline" not in text.lower()


def test_a_borderline_defect_is_said_and_not_written_as_a_defect(tmp_path, report_input):
    ev = ranged(**BORDERLINE_DEFECT)
    assert rows(ev)["Kupffer defect"] == "borderline: defect or not cannot be told"
    text = page_one(tmp_path, report_input, ev)
    assert "Kupffer defect borderline: defect or not cannot be told" in text
    assert "Kupffer defect yes" not in text
    assert "0.79× (0.71–0.88)" in text
    assert "Kupffer phase (10:00): borderline" in text  # the readout says it too


def test_an_open_ended_onset_range_is_said_open_and_the_washout_borderline(tmp_path, report_input):
    ev = ranged(**OPEN_ONSET)
    text = page_one(tmp_path, report_input, ev)
    assert "1:35 (1:10 – none by 6:30), late; borderline: washout or not cannot be told" in text
    # the degree belongs to a washout that may not be one
    assert rows(ev)["washout degree"].startswith("borderline: mild")
    # a benign call is flagged for the defect only, not for a washout that may not be one
    line = ranged("benign", **OPEN_ONSET)["disagreement"]
    assert "Kupffer-phase defect" in line and "washout" not in line


def test_early_or_late_only_when_the_whole_range_allows():
    across = rows(ranged(washout_onset_s=58.0, washout_onset_range_s=[45.0, 75.0]))["washout onset"]
    assert across == "0:58 (0:45–1:15), early or late cannot be told"
    assert rows(ranged(washout_onset_s=35.0, washout_onset_range_s=[30.0, 41.0]))["washout onset"] \
        == "0:35 (0:30–0:41), early"


def test_no_washout_with_a_range_shows_the_range():
    ev = ranged(washout_onset_s=None, washout_degree="none", washout_onset_range_s=[80.0, None])
    # none measured, but read lower the lesion would stay below from 1:20: borderline, said
    assert rows(ev)["washout onset"] == ("none (1:20 – none by 6:30); borderline: washout or not cannot be "
                                         "told")


def test_the_curve_shades_the_onset_range_under_the_lines(tmp_path, report_input):
    from reportlab.graphics.charts.lineplots import LinePlot
    from reportlab.graphics.shapes import Rect
    from reportlab.lib import colors

    onset = colors.HexColor(ONSET_COLOUR)

    def bands(ev: dict) -> list:
        d = tic_chart(ev, {"0:30": 31.0, "1:00": 61.0, "2:00": 119.0, "10:00": 605.0}, 230, 150)
        found = [(i, x) for i, x in enumerate(d.contents) if isinstance(x, Rect) and x.fillColor is not None
                 and abs(x.fillColor.red - onset.red) < 1e-3 and x.fillColor.alpha < 1]
        plot = next(i for i, x in enumerate(d.contents) if isinstance(x, LinePlot))
        assert all(i < plot for i, _ in found)  # drawn first: the curves stay on top
        return [x for _, x in found]

    assert bands(ranged()) == []  # no range, no band
    firm, = bands(ranged(**FIRM))
    open_end, = bands(ranged(**OPEN_ONSET))
    assert firm.x == open_end.x  # both start at 1:10
    assert open_end.width > firm.width  # 1:10 to 6:30 against 1:10 to 2:05
    assert "onset range (shaded)" in page_one(tmp_path, report_input, ranged(**FIRM))  # the legend


def test_the_legend_stays_inside_the_chart_beside_the_feature_table():
    from reportlab.graphics.charts.legends import LineLegend

    for ev in (ranged(), ranged(**FIRM), ranged(**OPEN_ONSET), ranged(washout_onset_s=None,
                                                                       washout_degree="none")):
        d = tic_chart(ev, {"0:30": 31.0, "2:00": 119.0, "10:00": 605.0}, 232, 147)
        x0, y0, x1, y1 = next(x for x in d.contents if isinstance(x, LineLegend)).getBounds()
        assert x1 <= d.width and y0 >= 0, (x0, y0, x1, y1)
