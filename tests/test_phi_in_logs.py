"""PHI stays out of logs: a verbose analyze (debug logging) never prints the patient's name or ID."""
import subprocess
import sys
from pathlib import Path

import pydicom

from ceusdesk.phantom import PhantomOptions, synthesize_case
from tests.tiny_package import make_tiny_package


def test_verbose_analyze_logs_no_patient_name_or_id(tmp_path):
    rec = synthesize_case(tmp_path / "studies", seed=4, options=PhantomOptions(frames_per_clip=2))
    study = tmp_path / "studies" / rec["study"]
    ds = pydicom.dcmread(next(p for p in sorted(study.rglob("*")) if p.is_file()), stop_before_pixels=True)
    name, pid = str(ds.PatientName), str(ds.PatientID)
    assert name and pid
    manifest = make_tiny_package(tmp_path / "pkg")
    proc = subprocess.run(
        [sys.executable, "-m", "ceusdesk", "-v", "analyze", str(study),
         "--roi", ",".join(map(str, rec["roi"])), "--model", str(manifest), "--json"],
        capture_output=True, text=True, env={"CEUSDESK_DATA_DIR": str(tmp_path / "data"), "PATH": ""},
        cwd=Path(__file__).resolve().parents[1],
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "DEBUG" in proc.stderr  # verbose logging was really on
    for secret in (name, name.split("^")[0] if "^" in name else name, pid):
        assert secret not in proc.stderr
