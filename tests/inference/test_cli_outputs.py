"""analyze's numbers and outputs: bad ROI numbers exit 2, outputs that cannot be written exit 7 with the
result still printed, and stdout is standard JSON even for odd names and non-finite values."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from ceusdesk.cli import main
from ceusdesk.model_package import resolve as models
from ceusdesk.outputs import audit
from ceusdesk.phantom import PhantomOptions, synthesize_case
from ceusdesk.study.records import Study
from tests.tiny_package import make_tiny_package

SMALL = {"panel_size": (128, 96), "frames_per_clip": 2}


def strict_json(text: str):
    """Parse as a strict consumer would: NaN/Infinity and non-ASCII-safe bytes are errors."""
    def no_constants(name):
        raise ValueError(f"non-standard JSON constant {name}")
    text.encode("ascii")
    return json.loads(text, parse_constant=no_constants)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("studies")
    rec = synthesize_case(root, seed=3, case_id="full", options=PhantomOptions(**SMALL))
    return root / rec["study"], ",".join(map(str, rec["roi"]))


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return str(make_tiny_package(tmp_path_factory.mktemp("pkg"), size=32))


@pytest.fixture(autouse=True)
def env(monkeypatch, tmp_path):
    monkeypatch.delenv(models.ENV_MODEL, raising=False)
    monkeypatch.delenv(models.ENV_DEFAULT, raising=False)
    monkeypatch.setenv(audit.ENV_DATA_DIR, str(tmp_path / "data"))


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.mark.parametrize("flag, value", [
    ("--roi", "inf,20,30,30"), ("--roi", "nan,20,30,30"), ("--roi", "10,20,1e400,30"),
    ("--roi", "10,20,-30,30"), ("--roi", "0,0,10000000,10000000"), ("--roi", "0,0,3163,3163"),
    ("--roi", "-1e9,0,30,30"), ("--slot-roi", "3:00=inf,1,10,10"), ("--slot-roi", "3:00=0,0,4000,4000"),
])
def test_absurd_roi_numbers_exit_2_in_one_line(capsys, study, package, flag, value):
    path, roi = study
    extra = ["--roi", roi] if flag == "--slot-roi" else []
    code, out, err = run(capsys, "analyze", path, *extra, f"{flag}={value}", "--model", package, "--json")
    assert code == 2 and out == ""
    assert len([ln for ln in err.splitlines() if ln.strip()]) == 1


def test_report_path_that_is_a_folder_keeps_the_result_and_exits_7(capsys, study, package, tmp_path):
    path, roi = study
    folder = tmp_path / "report.pdf"
    folder.mkdir()
    code, out, err = run(capsys, "analyze", path, "--roi", roi, "--model", package, "--report", folder,
                         "--json")
    assert code == 7
    doc = strict_json(out)
    assert doc["result"]["call"] in ("benign", "malignant")
    assert [f["output"] for f in doc["outputs_not_written"]] == ["report"]
    assert "report not written" in err and "could not be written" in err
    (record,) = audit.read_records()  # the audit record was still written
    assert record["call"] == doc["result"]["call"] and record["report"] is None
    assert record["model"]["manifest_sha256"] == doc["result"]["model"]["manifest_sha256"]
    assert record["model"]["threshold"] == doc["result"]["threshold"]


def test_report_under_a_file_and_unusable_audit_folder_are_both_named(capsys, study, package, tmp_path,
                                                                       monkeypatch):
    path, roi = study
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv(audit.ENV_DATA_DIR, str(blocker))  # the audit folder is a file
    code, out, err = run(capsys, "analyze", path, "--roi", roi, "--model", package,
                         "--report", blocker / "r.pdf")
    assert code == 7
    assert out.startswith("FULL SET") and "call" in out  # the readable result is printed
    assert "report not written" in err and "audit log not written" in err


def test_a_study_folder_name_that_is_not_utf8_still_gives_standard_json(capsys, study, package, tmp_path):
    path, roi = study
    odd = tmp_path / os.fsdecode(b"patient-\xff\xfe")
    shutil.copytree(path, odd)
    code, out, _ = run(capsys, "analyze", odd, "--roi", roi, "--model", package, "--json")
    assert code == 0
    assert strict_json(out)["result"]["phase_set"] == "full"
    (record,) = audit.read_records()
    assert record["study"] is not None
    code, out, _ = run(capsys, "analyze", odd, "--roi", roi, "--model", package)
    assert code == 0 and out.startswith("FULL SET")


@pytest.fixture
def non_finite_study(monkeypatch):
    """Study.to_json with values that cannot be known (a clip's end at +inf, a NaN time)."""
    original = Study.to_json

    def to_json(self):
        doc = original(self)
        doc["clips"][0]["end_s"] = float("inf")
        doc["clips"][0]["start_s"] = float("nan")
        return doc
    monkeypatch.setattr(Study, "to_json", to_json)


@pytest.mark.usefixtures("non_finite_study")
def test_inspect_and_analyze_json_map_non_finite_numbers_to_null(capsys, study, package):
    path, roi = study
    for argv in (("inspect", path, "--json"), ("analyze", path, "--roi", roi, "--model", package, "--json")):
        code, out, _ = run(capsys, *argv)
        assert code == 0
        clip = strict_json(out)["clips"][0]
        assert clip["end_s"] is None and clip["start_s"] is None


def test_gui_roi_numbers_are_checked_like_analyzes(capsys):
    code, out, err = run(capsys, "gui", "--roi=inf,1,10,10", "--analyze")
    assert code == 2 and out == "" and "--roi" in err
