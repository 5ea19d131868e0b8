"""``ceusdesk analyze STUDY --roi … --report FILE.pdf``: the CLI writes the same report as the app."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pypdf import PdfReader

from ceusdesk.outputs import audit
from ceusdesk.phantom import PhantomOptions, synthesize_case

ROOT = Path(__file__).resolve().parents[2]


def test_analyze_writes_report_and_audit(tmp_path):
    sys.path.insert(0, str(ROOT))
    from tests.tiny_package import make_tiny_package

    manifest = make_tiny_package(tmp_path / "pkg")
    rec = synthesize_case(tmp_path / "studies", seed=11, label="benign",
                          options=PhantomOptions(encoding="raw"))
    env = dict(os.environ, CEUSDESK_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.run(
        [sys.executable, "-m", "ceusdesk", "analyze", str(tmp_path / "studies" / rec["study"]),
         "--roi", ",".join(map(str, rec["roi"])), "--model", str(manifest), "--json",
         "--report", str(tmp_path / "out" / "r.pdf"), "--deidentify"],
        env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)  # stdout stays pure JSON
    text = "\n".join(p.extract_text() for p in PdfReader(str(tmp_path / "out" / "r.pdf")).pages)
    assert "FULL SET" in text and doc["result"]["model"]["uid"] in text
    assert "research use only" in text.lower()
    side = json.loads((tmp_path / "out" / "r.json").read_text())
    assert side["result"]["probabilities"] == doc["result"]["probabilities"]
    assert side["patient"] is None and side["clips"][0]["path"].startswith("clip-")
    (entry,) = audit.read_records(tmp_path / "data")
    assert entry["source"] == "cli" and entry["report"] is not None
    # the evidence shown beside the call is on record: which liver ROI, who set it, the findings
    ev = doc["result"]["evidence"]
    assert entry["evidence"]["liver_roi"] == ev["liver_roi"]
    assert entry["evidence"]["liver_roi_source"] == "automatic"
    assert entry["evidence"]["version"] == ev["version"] and entry["evidence"]["aphe"] == ev["aphe"]
