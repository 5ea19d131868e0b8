"""``ceusdesk analyze … --dicom-out DIR``: the result as DICOM in the source study, checked by real tools.

dciodvfy (dicom3tools) validates every object; highdicom reads the SR back and finds its content items by
concept; the objects reference the very frames the analysis used.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import highdicom as hd
import pydicom
import pytest
from pypdf import PdfReader

from ceusdesk.outputs.dicom import codes
from ceusdesk.phantom import PhantomOptions, synthesize_case
from ceusdesk.study import open_study
from tests.system_tools import tool
from tests.tiny_package import make_tiny_package

KINDS = {"SR": "1.2.840.10008.5.1.4.1.1.88.33", "KO": "1.2.840.10008.5.1.4.1.1.88.59",
         "DOC": "1.2.840.10008.5.1.4.1.1.104.1", "PR": "1.2.840.10008.5.1.4.1.1.11.2"}


def analyze(study: Path, roi, manifest: Path, out: Path, data: Path,
            *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, CEUSDESK_DATA_DIR=str(data))
    return subprocess.run([sys.executable, "-m", "ceusdesk", "analyze", str(study),
                           "--roi", ",".join(map(str, roi)), "--model", str(manifest), "--json",
                           "--dicom-out", str(out), *extra],
                          env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    return make_tiny_package(tmp_path_factory.mktemp("pkg"))


@pytest.fixture(scope="module")
def written(tmp_path_factory, package):
    """A malignant phantom case (washout measured) analyzed with --dicom-out: (doc, objects, study dir)."""
    base = tmp_path_factory.mktemp("dicom-out")
    rec = synthesize_case(base / "studies", seed=7, label="non_hcc_malignant", textbook=True,
                          options=PhantomOptions(encoding="raw"))
    study = base / "studies" / rec["study"]
    proc = analyze(study, rec["roi"], package, base / "out", base / "data")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "DICOM results written" in proc.stderr
    objects = {p.name.split("-")[0]: pydicom.dcmread(p) for p in sorted((base / "out").iterdir())}
    return json.loads(proc.stdout), objects, study, base / "out"


def test_four_objects_join_the_source_study_each_in_a_new_series(written):
    doc, objects, study, _out = written
    assert set(objects) == set(KINDS)
    source = pydicom.dcmread(next(study.glob("*.dcm")), stop_before_pixels=True)
    for kind, ds in objects.items():
        assert ds.SOPClassUID == KINDS[kind], kind
        assert ds.StudyInstanceUID == source.StudyInstanceUID, kind
        assert (ds.PatientID, str(ds.PatientName), ds.PatientBirthDate) == \
            (source.PatientID, str(source.PatientName), source.PatientBirthDate)
        assert "ceusdesk research result" in ds.SeriesDescription
    series = {ds.SeriesInstanceUID for ds in objects.values()}
    assert len(series) == 4 and source.SeriesInstanceUID not in series


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_object_passes_dciodvfy_without_errors(written, kind):
    *_, out = written
    path = next(out.glob(f"{kind}-*.dcm"))
    proc = subprocess.run([tool("dciodvfy"), str(path)], capture_output=True, text=True, timeout=60)
    report = proc.stdout + proc.stderr
    errors = [line for line in report.splitlines() if line.startswith("Error")]
    assert not errors, report
    # the one warning left is the private coding scheme's designator, which no validator can know
    others = [w for w in report.splitlines() if w.startswith("Warning") and codes.PRIVATE_SCHEME not in w]
    assert not others, report


def _slot_frames(doc: dict, study: Path) -> dict[str, tuple[str, int]]:
    """slot → (SOP Instance UID, 1-based frame number) of the frame the analysis used."""
    out = {}
    for slot in doc["result"]["slots_used"]:
        s = doc["slots"][slot]
        ds = pydicom.dcmread(study / s["path"], stop_before_pixels=True)
        out[slot] = (ds.SOPInstanceUID, s["frame_index"] + 1)
    return out


def test_highdicom_finds_the_call_probability_roi_and_washout_in_the_sr(written, tmp_path):
    doc, objects, study, out = written
    r = doc["result"]
    sr = hd.sr.srread(next(out.glob("SR-*.dcm")))
    (group,) = sr.content.get_planar_roi_measurement_groups()
    (p_mal,) = group.get_measurements(name=codes.P_MALIGNANT)
    assert p_mal.value == pytest.approx(r["malignant_probability"], rel=1e-12)
    (call,) = group.get_qualitative_evaluations(name=codes.CALL)
    assert call.value.meaning.lower() == r["call"]
    (pset,) = group.get_qualitative_evaluations(name=codes.PHASE_SET)
    assert pset.value == codes.PHASE_SET_VALUES[r["phase_set"]]
    # the ROI: on the frame of the first contrast slot, where it was drawn, in that frame's pixels
    sop, frame = _slot_frames(doc, study)["0:30"]
    source = group.roi.ContentSequence[0]
    assert source.referenced_sop_instance_uid == sop and source.referenced_frame_numbers == [frame]
    x0, y0 = doc["slots"]["0:30"]["panel"][:2]
    x, y, w, h = r["rois"]["0:30"]
    assert group.roi.value.tolist() == [[x0 + x, y0 + y], [x0 + x + w, y0 + y], [x0 + x + w, y0 + y + h],
                                        [x0 + x, y0 + y + h], [x0 + x, y0 + y]]
    ev = r["evidence"]
    assert ev["washout_onset_s"] is not None, "the fixture case must show washout"
    (onset,) = group.get_measurements(name=codes.WASHOUT_ONSET)
    assert onset.value == pytest.approx(ev["washout_onset_s"]) and onset.unit == codes.SECOND
    algorithm = {i.ConceptNameCodeSequence[0].CodeMeaning: i.TextValue for i in group[0].ContentSequence
                 if i.RelationshipType == "HAS CONCEPT MOD" and i.ValueType == "TEXT"}
    assert algorithm["Algorithm Name"] == r["model"]["name"]
    assert r["model"]["uid"] in algorithm["Algorithm Parameters"]


def test_the_key_objects_are_the_frames_of_every_slot_used(written):
    doc, objects, study, _out = written
    ko = objects["KO"]
    assert ko.ConceptNameCodeSequence[0].CodeValue == codes.OF_INTEREST.value
    refs = [i.ReferencedSOPSequence[0] for i in ko.ContentSequence if i.ValueType == "IMAGE"]
    images = [(r.ReferencedSOPInstanceUID, int(r.ReferencedFrameNumber)) for r in refs]
    assert images == list(_slot_frames(doc, study).values())


def test_the_presentation_state_draws_lesion_and_liver_roi_on_each_frame(written):
    doc, objects, study, _out = written
    pr = objects["PR"]
    frames = _slot_frames(doc, study)
    drawn: dict[tuple[str, int], set[str]] = {}
    for ann in pr.GraphicAnnotationSequence:
        ref = ann.ReferencedImageSequence[0]
        key = (ref.ReferencedSOPInstanceUID, int(ref.ReferencedFrameNumber))
        drawn.setdefault(key, set()).add(ann.GraphicLayer)
    liver_slots = set(doc["result"]["evidence"]["liver_rois"])
    for slot, key in frames.items():
        assert drawn[key] >= ({"LESION", "LIVER"} if slot in liver_slots else {"LESION"}), slot


def test_the_encapsulated_pdf_is_the_report(written):
    doc, objects, _study, _out = written
    pdf = bytes(objects["DOC"].EncapsulatedDocument)[: int(objects["DOC"].EncapsulatedDocumentLength)]
    text = "\n".join(p.extract_text() for p in PdfReader(BytesIO(pdf)).pages)
    assert "FULL SET" in text and doc["result"]["model"]["uid"] in text


def test_deidentified_results_carry_no_patient_data_but_keep_the_references(tmp_path, package):
    rec = synthesize_case(tmp_path / "studies", seed=8, label="benign",
                          options=PhantomOptions(encoding="raw"))
    study = tmp_path / "studies" / rec["study"]
    source = pydicom.dcmread(next(study.glob("*.dcm")), stop_before_pixels=True)
    proc = analyze(study, rec["roi"], package, tmp_path / "out", tmp_path / "data", "--deidentify")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "(de-identified)" in proc.stderr
    secrets = [str(source.PatientName).split("^")[-1], source.PatientID, source.PatientBirthDate]
    for path in (tmp_path / "out").iterdir():
        raw = path.read_bytes()
        pdf = raw  # the encapsulated PDF's text streams are compressed: read its text too
        ds = pydicom.dcmread(path)
        if "EncapsulatedDocument" in ds:
            pages = PdfReader(BytesIO(bytes(ds.EncapsulatedDocument))).pages
            pdf = "\n".join(p.extract_text() for p in pages).encode()
        for s in secrets:
            assert s.encode() not in raw and s.encode() not in pdf, (path.name, s)
        assert ds.PatientIdentityRemoved == "YES" and ds.StudyInstanceUID == source.StudyInstanceUID
        assert [c.CodeValue for c in ds.DeidentificationMethodCodeSequence] == ["113100", "113110"]


def test_a_japanese_patient_name_survives_in_utf8(tmp_path, package):
    rec = synthesize_case(tmp_path / "studies", seed=9, label="benign",
                          options=PhantomOptions(encoding="raw"))
    study = tmp_path / "studies" / rec["study"]
    name = "Yamada^Tarou=山田^太郎=やまだ^たろう"
    for path in study.glob("*.dcm"):
        ds = pydicom.dcmread(path)
        ds.SpecificCharacterSet = ["", "ISO 2022 IR 87"]
        ds.PatientName = name
        ds.save_as(path)
    proc = analyze(study, rec["roi"], package, tmp_path / "out", tmp_path / "data")
    assert proc.returncode == 0, proc.stderr[-2000:]
    for path in (tmp_path / "out").iterdir():
        ds = pydicom.dcmread(path)
        assert ds.SpecificCharacterSet == "ISO_IR 192" and str(ds.PatientName) == name, path.name


def test_video_input_gets_the_pdf_only_and_one_line_saying_why(tmp_path, package, monkeypatch):
    """A frame from a file without UIDs (video, still) cannot be referenced: the PDF alone, exit 0."""
    from ceusdesk.inference import get_model
    from ceusdesk.outputs.dicom import export_results
    from ceusdesk.outputs.report import report_input_from_study

    rec = synthesize_case(tmp_path / "s", seed=10, options=PhantomOptions(encoding="raw"))
    study = open_study(tmp_path / "s" / rec["study"])
    from ceusdesk.analysis import AnalysisRequest, analyze_study
    result = analyze_study(study, get_model(package), AnalysisRequest(roi=tuple(rec["roi"])))
    clip = study.slots["1:00"].clip
    monkeypatch.setattr(clip, "kind", "video")
    inp = report_input_from_study(study, result, tuple(rec["roi"]))
    exported = export_results(tmp_path / "out", study, result, inp, deidentify=False)
    line = exported.message
    assert not exported.dicom and "DICOM results not written" in line
    assert "1:00" in line and clip.path.name in line
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["ceusdesk-report.json", "ceusdesk-report.pdf"]


def test_an_unwritable_folder_is_exit_7_and_leaves_no_partial_set(tmp_path, package):
    rec = synthesize_case(tmp_path / "s", seed=12, options=PhantomOptions(encoding="raw"))
    blocker = tmp_path / "out"
    blocker.write_text("a file where the folder should be")
    proc = analyze(tmp_path / "s" / rec["study"], rec["roi"], package, blocker, tmp_path / "data")
    assert proc.returncode == 7, proc.stderr
    assert "DICOM results not written" in proc.stderr and json.loads(proc.stdout)["result"]
    assert re.search(r"DICOM results not written: .*out", proc.stderr)


def test_the_export_is_in_the_audit_log_with_the_objects_hashed(written):
    from ceusdesk.outputs import audit

    doc, objects, _study, out = written
    data = out.parent / "data"
    records = audit.read_records(data)
    (export,) = [r for r in records if r["event"] == "dicom_export"]
    assert export["source"] == "cli" and export["model_uid"] == doc["result"]["model"]["uid"]
    assert export["objects"] == sorted(audit.hash_id(str(ds.SOPInstanceUID), data) for ds in objects.values())
    assert not any(str(ds.SOPInstanceUID) in json.dumps(records) for ds in objects.values())  # hashed only
