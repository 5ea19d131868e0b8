"""The SR's tree as DCMTK's ``dsrdump`` renders it, against a reviewed golden text (what a PACS viewer
that shows SR as text displays). UIDs are masked; everything else, wording and structure, must match.

After an intended change: ``CEUSDESK_UPDATE_GOLDEN=1 pytest tests/report/test_dicom_sr_golden.py``, then
review the diff of ``golden/sr-dsrdump.txt`` (docs/dicom-results.md shows it).
"""
from __future__ import annotations

import os
import re
import subprocess
from datetime import datetime
from pathlib import Path

from ceusdesk.outputs.dicom import dicom_results
from ceusdesk.outputs.dicom.dataset import encode
from ceusdesk.phantom import PhantomOptions, synthesize_case
from ceusdesk.study import open_study
from tests.system_tools import tool

GOLDEN = Path(__file__).with_name("golden") / "sr-dsrdump.txt"
UID = re.compile(r"\b\d+(?:\.\d+){3,}\b")  # UIDs: 20+ characters (position strings are shorter)


def fixed_result(study) -> dict:
    slots = [s for s, f in study.slots.items() if f is not None]
    return {
        "phase_set": "full", "slots_used": slots, "call": "malignant", "threshold": 0.4683,
        "probabilities": {"benign": 0.08, "hcc": 0.71, "non_hcc_malignant": 0.21},
        "malignant_probability": 0.92,
        "model": {"name": "sonazoid9-phantom-v3-cpu64", "version": "3.0.0", "uid": "1bd37d9c-model-uid",
                  "sha256": "2d" * 32, "call_source": "cnn+evidence"},
        "rois": {s: [60, 50, 40, 40] for s in slots},
        "evidence": {"lesion_size_mm": 21.5, "arrival_s": 12.1, "time_to_peak_s": 24.0, "peak_ratio": 1.62,
                     "aphe": True, "washout_onset_s": 95.0, "washout_onset_range_s": [80.0, 120.0],
                     "washout_degree": "mild", "washout_degree_at": {"2:00": "mild", "5:00": "mild"},
                     "kupffer_ratio": 0.78, "kupffer_ratio_range": [0.7, 0.86], "kupffer_defect": True,
                     "kupffer_defect_borderline": True,
                     "liver_rois": {s: [150, 50, 30, 30] for s in slots if s != "B"}},
    }


def test_dsrdump_renders_the_sr_as_reviewed(tmp_path):
    rec = synthesize_case(tmp_path / "s", seed=3, label="hcc", options=PhantomOptions(encoding="raw"))
    study = open_study(tmp_path / "s" / rec["study"])
    sr = dicom_results(study, fixed_result(study), b"%PDF-1.4\n", deidentify=False,
                       now=datetime(2026, 12, 6, 9, 30, 0))[0]
    path = tmp_path / "sr.dcm"
    path.write_bytes(encode(sr))
    proc = subprocess.run([tool("dsrdump"), "+Pl", "+Pn", str(path)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    text = UID.sub(lambda m: "<UID>" if len(m[0]) >= 20 else m[0], proc.stdout)
    if os.environ.get("CEUSDESK_UPDATE_GOLDEN"):
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()
