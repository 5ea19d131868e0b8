"""The inspect command as users and scripts call it: JSON contract, table, exit codes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from ceusdesk.cli import main

from .conftest import ClipSpec, write_clip

SLOTS = ["B", "0:30", "1:00", "2:00", "3:00", "4:00", "5:00", "6:00", "10:00"]


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ceusdesk", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_json_stdout_is_only_the_design_document(study_dir):
    write_clip(study_dir / "OTHER", ClipSpec(start_s=30, n_frames=2, patient_id="X", study_uid="9.9"))
    proc = _run("inspect", str(study_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # nothing but JSON on stdout
    assert doc["injection"] == {"time": "10:00:00", "datetime": "2024-05-14T10:00:00", "source": "dicom",
                                "uncertainty_s": None, "weak": False}
    assert doc["contrast_panel"] == "right" and doc["contrast_panel_sure"] is True
    assert doc["missing"] == [] and all(slot["flags"] == [] for slot in doc["slots"].values())
    assert doc["phase_set"] == "full" and list(doc["slots"]) == SLOTS
    for clip in doc["clips"]:
        assert set(clip) >= {"path", "frames", "start_s", "end_s", "kind", "slot", "excluded"}
        assert not Path(clip["path"]).is_absolute()  # relative to STUDY
    for slot in doc["slots"].values():
        x0, y0, x1, y1 = slot["panel"]
        assert set(slot) >= {"path", "frame_index", "t_s", "panel"} and x1 > x0 and y1 > y0
        assert (study_dir / slot["path"]).exists()
    other = next(c for c in doc["clips"] if c["path"] == "OTHER")
    assert other["excluded"] == "other patient" and other["slot"] is None
    assert any(w["path"] == "OTHER" and "another patient" in w["message"] for w in doc["warnings"])


def test_table_without_json(study_dir, capsys):
    assert main(["inspect", str(study_dir)]) == 0
    out = capsys.readouterr().out
    assert "injection  10:00:00 (dicom)" in out and "phase set  full" in out
    assert "IM000008" in out and "10:00" in out


def test_assign_and_injection_time_flags(study_dir, capsys):
    write_clip(study_dir / "late", ClipSpec(start_s=0, n_frames=3, timing=False))
    assert main(["inspect", str(study_dir), "--json", "--injection-time", "10:00:00",
                 "--assign", "late=10:00"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["injection"]["source"] == "user"
    assert doc["slots"]["10:00"]["path"] == "late" and doc["slots"]["10:00"]["source"] == "assigned"


def test_exit_codes_and_one_line_errors(tmp_path, study_dir):
    (tmp_path / "empty").mkdir()
    proc = _run("inspect", str(tmp_path / "empty"), "--json")
    assert proc.returncode == 3 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    proc = _run("inspect", str(study_dir), "--injection-time", "noon")
    assert proc.returncode == 2 and "HH:MM:SS" in proc.stderr and "Traceback" not in proc.stderr
    proc = _run("inspect", str(study_dir), "--assign", "nonsense")
    assert proc.returncode == 2 and "FILE=SLOT" in proc.stderr


def test_single_file_study(study_dir, capsys):
    assert main(["inspect", str(study_dir / "IM000003"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [c["path"] for c in doc["clips"]] == ["IM000003"] and doc["slots"]["2:00"]["path"] == "IM000003"
