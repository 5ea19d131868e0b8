"""``python -m trainer synth`` writes cases.jsonl and the studies it names."""
import json
import subprocess
import sys
from pathlib import Path

import pydicom

FIELDS = {"case_id", "study", "label", "subtype", "roi", "washout_score", "patient", "injection_time",
          "contrast_panel", "source"}


def test_synth_writes_cases_and_studies(tmp_path):
    out = tmp_path / "cohort"
    proc = subprocess.run([sys.executable, "-m", "trainer", "synth", "--out", str(out), "--cases", "3",
                           "--seed", "1"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout == ""  # progress and messages go to stderr
    records = [json.loads(line) for line in (out / "cases.jsonl").read_text().splitlines()]
    assert len(records) == 3
    assert {r["label"] for r in records} == {"benign", "hcc", "non_hcc_malignant"}  # 48:78:55 over 3
    for r in records:
        assert FIELDS <= set(r) and r["source"] == "phantom"
        study = out / r["study"]
        files = sorted(study.glob("*.dcm"))
        assert len(files) >= 9
        ds = pydicom.dcmread(files[1], stop_before_pixels=True)
        assert ds.ContrastBolusStartTime == r["injection_time"].replace(":", "")
        assert 1 <= r["washout_score"] <= 5
    size = sum(p.stat().st_size for p in out.rglob("*"))
    assert size < 3 * 12e6  # compact: a few MB per case


def test_synth_rejects_unknown_slot(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "trainer", "synth", "--out", str(tmp_path), "--cases", "1",
                           "--missing", "7:00", "--no-progress"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "7:00" in proc.stderr and "Traceback" not in proc.stderr
    assert not Path(tmp_path / "cases.jsonl").exists()
