"""Bad files, second round (issue 25): one seeded test per family a new user's exports showed.

Each ends in one clear line with a documented exit code, or in a warning and a correct result; nothing
good is lost. tests/ingest/test_fuzz.py mixes the same families into its mutants.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ceusdesk.base.protocol import SLOT_NAMES
from ceusdesk.outputs import audit
from ceusdesk.phantom import PhantomOptions, synthesize_case
from tests.tiny_package import make_tiny_package


def run_cli(*args: object, data: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ceusdesk", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "CEUSDESK_DATA_DIR": str(data)})


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    return make_tiny_package(tmp_path_factory.mktemp("pkg"), size=32)


# 1 ------------------------------------------------------------------ video / still after --assign
def test_a_video_study_assigned_by_hand_is_analyzed_and_audited(tmp_path, package):
    """Video clips carry no time: the user places them with --assign. The result stands (exit 0), the
    evidence says which slots are off the curve, and the analysis is on record."""
    rec = synthesize_case(tmp_path / "s", seed=41, options=PhantomOptions(video=True, frames_per_clip=3,
                                                                          contrast_side="left"))
    study = tmp_path / "s" / rec["study"]
    clips = sorted(p.name for p in study.iterdir())
    assert len(clips) == len(SLOT_NAMES)
    assign = [a for name, slot in zip(clips, SLOT_NAMES, strict=True) for a in ("--assign", f"{name}={slot}")]
    proc = run_cli("analyze", study, "--roi", ",".join(map(str, rec["roi"])), "--model", package,
                   "--contrast-panel", "left", "--json", *assign, data=tmp_path / "data")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout)["result"]
    assert result["phase_set"] == "full"
    notes = " ".join(result["evidence"]["assumptions"])
    assert "have no time after injection" in notes and "0:30" in notes
    (entry,) = audit.read_records(tmp_path / "data")
    assert entry["model"]["uid"] == result["model"]["uid"]
