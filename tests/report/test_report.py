"""The PDF a user files and the JSON beside it: badge, provenance, research-use line, de-identification."""
from __future__ import annotations

import json

import numpy as np
import pytest
from pypdf import PdfReader

from ceusdesk.outputs.pdf import roi_thumbnail, write_report

from .conftest import PATIENT, result_doc


def pdf_text(path) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)


def test_pdf_has_badge_provenance_and_research_use(tmp_path, report_input):
    pdf, js = write_report(tmp_path / "case.pdf", report_input)
    assert pdf.exists() and js == tmp_path / "case.json"
    text = pdf_text(pdf)
    assert "FULL SET" in text
    assert "ceusdesk-demo" in text and "0.3.1" in text and "6f1c2d9e-uid" in text and "ab" * 32 in text
    assert "research use only" in text.lower()
    assert "malignant" in text and "0.880" in text
    assert "belongs to another patient" in text  # warnings are carried
    assert "DOE^JANE" in text  # identified report names the patient


def test_early_set_badge(tmp_path, report_input):
    report_input.result = result_doc("early")
    pdf, _ = write_report(tmp_path / "early.pdf", report_input)
    text = pdf_text(pdf)
    assert "EARLY SET" in text and "FULL SET" not in text
    assert "<=2 min only" in text and "no Kupffer phase" in text


def test_json_beside_pdf_matches_result(tmp_path, report_input):
    _, js = write_report(tmp_path / "r.pdf", report_input)
    doc = json.loads(js.read_text())
    assert doc["result"]["model"]["uid"] == "6f1c2d9e-uid"
    assert doc["roi"] == [40, 30, 50, 50]
    assert doc["rois"] == {"10:00": [44, 30, 50, 50]}  # only slots adjusted by hand
    assert doc["phase_set"] == "full" and doc["report"]["deidentified"] is False
    assert doc["patient"]["id"] == "PID-483920"


def test_deidentified_report_has_no_identifiers(tmp_path, report_input):
    pdf, js = write_report(tmp_path / "anon.pdf", report_input, deidentify=True)
    for text in (pdf_text(pdf), js.read_text(), pdf.read_bytes().decode("latin-1")):
        for secret in (PATIENT["name"], PATIENT["id"], PATIENT["birth_date"], "DOE_JANE", "2024-05-17",
                       "10:21:07"):
            assert secret not in text, secret
    doc = json.loads(js.read_text())
    assert doc["patient"] is None and doc["report"]["deidentified"] is True
    assert doc["clips"][0]["path"] == "clip-01"
    assert doc["slots"]["B"]["path"] == "clip-01"
    assert doc["warnings"][0]["message"] == "clip-10 belongs to another patient; seen [time removed]"
    assert "FULL SET" in pdf_text(pdf)  # the result is still all there


def test_roi_thumbnail_draws_roi():
    panel = np.zeros((100, 200, 3), dtype=np.uint8)
    thumb = np.asarray(roi_thumbnail(panel, (50, 20, 40, 40), max_side=200))
    assert thumb.shape == (100, 200, 3)
    assert (thumb[20, 50:90] > 100).any()  # top edge of the ROI is drawn
    assert thumb[40, 70].max() == 0  # inside stays untouched


@pytest.mark.parametrize("name", ["report", "report.txt"])
def test_pdf_suffix_added(tmp_path, report_input, name):
    pdf, js = write_report(tmp_path / name, report_input)
    assert pdf.suffix == ".pdf" and js.suffix == ".json" and pdf.exists() and js.exists()
