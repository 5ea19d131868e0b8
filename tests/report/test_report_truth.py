"""The PDF tells the truth about gaps, doubtful slots, an estimated injection, the contrast side and the
patient (issue 12 §2, §3)."""
from __future__ import annotations

import json
import shutil

from ceusdesk.outputs.pdf import write_report
from ceusdesk.outputs.report import patient_of
from ceusdesk.phantom import PhantomOptions, synthesize_case
from ceusdesk.study import open_study

from .test_report import pdf_text


def first_page(pdf) -> str:
    from pypdf import PdfReader

    return " ".join(PdfReader(str(pdf)).pages[0].extract_text().split())  # lines wrap in the columns


def test_page_one_names_gaps_the_estimated_injection_and_the_users_side(tmp_path, report_input):
    study = report_input.study
    study["slots"]["4:00"] = study["slots"]["5:00"] = None
    study["missing"] = ["4:00", "5:00"]
    study["injection"]["source"] = "estimated"
    study["contrast_panel"], study["contrast_panel_source"] = "left", "user"
    report_input.injection_confirmed = True
    pdf, js = write_report(tmp_path / "r.pdf", report_input)
    page = first_page(pdf)
    assert "4:00, 5:00 not acquired" in page
    assert "injection time ESTIMATED from the contrast arrival, confirmed by the user" in page
    assert "Contrast panel: left, chosen by the user" in page
    doc = json.loads(js.read_text())
    assert doc["not_acquired"] == ["4:00", "5:00"] and doc["injection_confirmed"] is True


def test_a_full_set_without_gaps_says_so_and_no_chip(tmp_path, report_input):
    report_input.study["contrast_panel"], report_input.study["contrast_panel_source"] = "right", "evidence"
    pdf, _ = write_report(tmp_path / "r.pdf", report_input)
    page = first_page(pdf)
    assert "every slot acquired" in page and "ESTIMATED" not in page
    assert "Contrast panel: right, decided from the image cues" in page


def test_doubtful_slots_are_flagged(tmp_path, report_input):
    slots = report_input.study["slots"]
    slots["1:00"].update(t_s=75.0, offset_s=15.0, flags=["far_from_target", "clip_reused"])
    pdf, _ = write_report(tmp_path / "r.pdf", report_input)
    text = pdf_text(pdf)
    assert "check: +15 s from target, clip reused" in text
    assert text.count("check:") == 1


def test_patient_comes_from_the_studys_own_clips_with_birth_date_and_sex(tmp_path):
    own = synthesize_case(tmp_path / "a", seed=21, label="benign", options=PhantomOptions(encoding="raw"))
    other = synthesize_case(tmp_path / "b", seed=22, label="benign", options=PhantomOptions(encoding="raw"))
    root = tmp_path / "a" / own["study"]
    stranger = sorted((tmp_path / "b" / other["study"]).rglob("*.dcm"))[0]
    shutil.copy(stranger, root / "000-first-in-the-folder.dcm")  # read first: the old code named it
    study = open_study(root)
    assert any(e.excluded == "other patient" for e in study.clips)
    patient = patient_of(study)
    kept = next(e.clip for e in study.clips if not e.excluded)
    assert patient["id"] == study.patient_id == kept.patient_id
    assert patient["name"] == kept.patient_name
    stranger_clip = next(e.clip for e in study.clips if e.excluded)
    assert patient["name"] != stranger_clip.patient_name
    assert patient["birth_date"] and patient["sex"] in ("F", "M", "O")


def test_provenance_names_the_threshold_used_and_the_engines_notes(tmp_path, report_input):
    report_input.result["model"].update(threshold_source="thresholds.early", manifest_sha256="cd" * 32)
    report_input.result["warnings"] = ["an engine note the reader must see"]
    pdf, _ = write_report(tmp_path / "r.pdf", report_input)
    text = " ".join(pdf_text(pdf).split())
    assert "Operating threshold: 0.5 (thresholds.early)" in text and "cd" * 32 in text
    assert "an engine note the reader must see" in text and "Warnings (2)" in text
