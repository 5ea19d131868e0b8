"""The readout in literature terms, the disagreement line, and standard JSON."""
from __future__ import annotations

import json

import pytest

from ceusdesk.evidence import FIELDS, Evidence
from ceusdesk.evidence.readout import HEADER, disagreement, readout

HCC = {"aphe": True, "aphe_pattern": "diffuse", "peak_ratio": 3.1, "time_to_peak_s": 24.0,
       "washout_onset_s": 95.0, "washout_degree": "mild", "washout_degree_at": {"2:00": "mild"},
       "kupffer_ratio": 0.3, "kupffer_defect": True, "lesion_size_mm": 24.0}
FNH = {"aphe": True, "aphe_pattern": "diffuse", "peak_ratio": 4.0, "time_to_peak_s": 20.0,
       "washout_onset_s": None, "washout_degree": "none", "kupffer_ratio": 1.0, "kupffer_defect": False,
       "lesion_size_mm": 30.0}


def test_readout_is_marked_as_measurements_and_names_lr5():
    lines = readout(HCC, {})
    assert lines[0] == HEADER and "not a diagnosis" in lines[0]
    text = "\n".join(lines)
    assert "late, ≥ 60 s" in text and "1:35" in text and "defect" in text and "24 mm" in text
    assert "LR-5" in text


def test_lr_m_features_and_early_washout():
    met = HCC | {"aphe_pattern": "rim", "washout_onset_s": 35.0, "washout_degree": "marked"}
    text = "\n".join(readout(met, {}))
    assert "LR-M" in text and "rim APHE" in text and "early washout" in text and "marked washout" in text


def test_disagreement_only_when_features_and_call_point_apart():
    assert disagreement(HCC, "malignant") is None
    assert "benign" in disagreement(HCC, "benign") and "malignant" in disagreement(HCC, "benign")
    assert disagreement(FNH, "benign") is None
    assert disagreement(FNH, "malignant").startswith("The measured features point towards benign")
    early = FNH | {"kupffer_defect": None, "kupffer_ratio": None}  # no Kupffer phase: no lean either way
    assert disagreement(early, "malignant") is None
    assert disagreement(HCC, None) is None


def test_null_fields_say_why():
    lines = readout({"aphe": True, "aphe_pattern": None, "peak_ratio": 2.0, "time_to_peak_s": 20.0,
                     "washout_degree": "none", "kupffer_defect": None, "lesion_size_mm": None},
                    {"kupffer": "early set: the model used no 10:00 image", "size": "no pixel spacing"})
    text = "\n".join(lines)
    assert "early set" in text and "no pixel spacing" in text and "pattern not told" in text


def test_json_is_standard_and_carries_every_field():
    doc = Evidence({"peak_ratio": float("nan"), "kupffer_ratio": float("inf"), "tic": [
        {"t_s": 1.0, "lesion": float("nan"), "liver": 0.1}]}).to_json()
    assert set(FIELDS) <= set(doc)
    text = json.dumps(doc, allow_nan=False)  # raises on NaN/Infinity
    assert json.loads(text)["peak_ratio"] is None and json.loads(text)["tic"][0]["lesion"] is None


def test_borderline_findings_are_said_and_do_not_lean():
    border = FNH | {"kupffer_ratio": 0.79, "kupffer_defect": True, "kupffer_defect_borderline": True,
                    "kupffer_ratio_range": [0.71, 0.88]}
    text = "\n".join(readout(border, {}))
    assert "borderline" in text and "0.71–0.88" in text
    assert disagreement(border, "benign") is None and disagreement(border, "malignant") is None
    shaky = HCC | {"kupffer_defect": False, "kupffer_ratio": 0.9, "washout_onset_range_s": [80.0, None]}
    text = "\n".join(readout(shaky, {}))
    assert "borderline" in text and "none by 6:30" in text
    assert disagreement(shaky, "benign") is None  # neither washout nor a defect can be relied on
    maybe = FNH | {"washout_onset_range_s": [200.0, None]}  # none measured, but read lower it would be
    text = "\n".join(readout(maybe, {}))
    assert "Washout: none" in text and "Borderline" in text and "3:20" in text
    assert disagreement(maybe, "malignant") is None  # no firm "benign" lean either


def test_an_onset_range_across_60_s_does_not_call_early_or_late():
    text = "\n".join(readout(HCC | {"washout_onset_s": 58.0, "washout_onset_range_s": [45.0, 75.0]}, {}))
    assert "early or late cannot be told" in text and "0:45 to 1:15" in text
    firm = "\n".join(readout(HCC | {"washout_onset_range_s": [80.0, 110.0]}, {}))
    assert "late, ≥ 60 s" in firm


def test_borderline_findings_complete_no_named_combination():
    # a benign-looking lesion whose defect and washout are both borderline is not called "typical of
    # benign hypervascular lesions"; a borderline washout does not make the LR-5 combination
    shaky_fnh = FNH | {"kupffer_defect": False, "kupffer_defect_borderline": True,
                       "washout_onset_range_s": [140.0, None]}
    assert "typical of benign" not in "\n".join(readout(shaky_fnh, {}))
    assert "typical of benign" in "\n".join(readout(FNH, {}))
    shaky_hcc = HCC | {"washout_onset_range_s": [80.0, None]}
    assert "LR-5" not in "\n".join(readout(shaky_hcc, {}))
    assert "LR-5" in "\n".join(readout(HCC | {"washout_onset_range_s": [85.0, 110.0]}, {}))


def test_the_disagreement_line_names_early_or_late_only_as_the_range_allows():
    firm = disagreement(HCC | {"washout_onset_range_s": [80.0, 110.0]}, "benign")
    assert "late washout from 1:35" in firm
    unsure = disagreement(HCC | {"washout_onset_s": 58.0, "washout_onset_range_s": [45.0, 75.0]}, "benign")
    assert "early-or-late washout from 0:58" in unsure and "early washout" not in unsure




@pytest.mark.parametrize("onset, rng, wording, summary", [
    (35.0, [30.0, 45.0], "early, < 60 s", "LR-M features: early washout"),
    (95.0, [80.0, 110.0], "late, ≥ 60 s", "LR-5"),
    (46.0, [41.0, 71.0], "early or late cannot be told", None),  # the case the app once called LR-M
    (58.0, [45.0, 75.0], "early or late cannot be told", None),
    (70.0, [50.0, 90.0], "early or late cannot be told", None),
])
def test_every_onset_wording_leads_to_the_matching_summary(onset, rng, wording, summary):
    # "early or late cannot be told" must never read as early washout (LR-M) nor as late washout (LR-5)
    lines = readout(HCC | {"washout_onset_s": onset, "washout_onset_range_s": rng}, {})
    text = "\n".join(lines)
    assert wording in text
    if summary is None:
        assert "LR-M" not in text and "LR-5" not in text and "early washout" not in text
    else:
        assert summary in text
