"""The enhancement evidence on the PDF's first page: the curve, the features and the readout beside the
call; with the early set the Kupffer fields say why they are empty."""
from __future__ import annotations

import copy

from pypdf import PdfReader

from ceusdesk.evidence.readout import disagreement, readout
from ceusdesk.outputs.pdf import write_report

TIC = ([{"t_s": float(t), "lesion": 0.02 + 0.5 * max(0.0, 1 - abs(t - 22) / 15),
         "liver": 0.02 + 0.2 * (t > 12)} for t in range(0, 46, 3)]
       + [{"t_s": 61.0, "lesion": 0.18, "liver": 0.22}, {"t_s": 119.0, "lesion": 0.05, "liver": 0.2},
          {"t_s": 605.0, "lesion": 0.01, "liver": 0.15}])


def evidence(phase_set: str = "full", call: str = "malignant") -> dict:
    ev = {"lesion_size_mm": 23.4, "liver_roi": [100, 30, 40, 40], "liver_rois": {"0:30": [100, 30, 40, 40]},
          "tic": TIC, "arrival_s": 9.5, "time_to_peak_s": 22.0, "peak_ratio": 2.31, "wash_in_rate": 0.0412,
          "aphe": True, "aphe_pattern": "diffuse", "washout_onset_s": 95.0, "washout_degree": "mild",
          "washout_degree_at": {"2:00": "mild", "5:00": "marked", "10:00": None},
          "kupffer_ratio": 0.07, "kupffer_defect": True, "assumptions": ["40 dB assumed"]}
    reasons = {}
    if phase_set == "early":
        ev.update(kupffer_ratio=None, kupffer_defect=None, tic=TIC[:-1])
        reasons["kupffer"] = "early set: the model used no 10:00 image"
    ev["readout"] = readout(ev, reasons)
    ev["disagreement"] = disagreement(ev, call)
    return ev


def page_one(tmp_path, report_input, ev: dict, phase_set: str = "full") -> str:
    inp = copy.deepcopy(report_input)
    inp.result["phase_set"] = phase_set
    inp.result["evidence"] = ev
    pdf, _ = write_report(tmp_path / "r.pdf", inp)
    return " ".join((PdfReader(str(pdf)).pages[0].extract_text() or "").split())


def test_page_one_has_the_readout_and_the_feature_values_beside_the_call(tmp_path, report_input):
    text = page_one(tmp_path, report_input, evidence())
    assert "Call:" in text
    assert "not a diagnosis" in text
    assert "Washout: from 1:35 (late" in text  # a readout line
    assert "Kupffer phase (10:00): defect" in text
    for value in ("23 mm", "2.31", "0:22", "1:35 (late)", "0.07", "yes (diffuse)"):
        assert value in text, value
    assert "lesion" in text and "liver" in text  # the curve's legend


def test_the_early_set_says_why_the_kupffer_fields_are_empty(tmp_path, report_input):
    text = page_one(tmp_path, report_input, evidence("early"), "early")
    assert "Kupffer lesion/liver not assessed: early set: the model used no 10:00 image" in text
    assert "Kupffer defect not assessed: early set" in text


def test_a_disagreement_is_on_page_one(tmp_path, report_input):
    ev = evidence(call="benign")
    assert ev["disagreement"]
    text = page_one(tmp_path, report_input, ev)
    assert "point towards malignant" in text and "review the images" in text


def test_no_evidence_no_section(tmp_path, report_input):
    pdf, _ = write_report(tmp_path / "r.pdf", report_input)
    assert "Enhancement evidence" not in (PdfReader(str(pdf)).pages[0].extract_text() or "")


def test_the_liver_roi_is_drawn_dashed_green_on_the_thumbnail():
    import numpy as np

    from ceusdesk.outputs.pdf import roi_thumbnail

    panel = np.full((120, 150, 3), 40, np.uint8)
    plain = np.asarray(roi_thumbnail(panel, (10, 10, 30, 30)))
    drawn = np.asarray(roi_thumbnail(panel, (10, 10, 30, 30), liver=(80, 10, 40, 40)))

    def green(a):
        return int(((a[..., 1] > 120) & (a[..., 0] < 90)).sum())

    assert green(plain) == 0 and green(drawn) > 0
