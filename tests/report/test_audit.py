"""The audit log: one JSON line per analysis, append-only, no patient name or id in clear."""
from __future__ import annotations

import json
import multiprocessing as mp

from ceusdesk import audit

from .conftest import result_doc

SECRET_ID = "PID-483920"


def test_record_has_no_patient_id_in_clear(tmp_path):
    path = audit.log_analysis(result_doc(), patient_id=SECRET_ID, study_path=tmp_path / "DOE_JANE",
                              roi=(1, 2, 3, 4), source="cli", folder=tmp_path)
    raw = path.read_text()
    assert SECRET_ID not in raw and "DOE_JANE" not in raw
    (rec,) = audit.read_records(tmp_path)
    assert rec["patient"] == audit.hash_id(SECRET_ID, tmp_path)  # same patient → same hash
    assert rec["model"]["uid"] == "6f1c2d9e-uid" and rec["call"] == "malignant"


def test_hash_is_salted_per_installation(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert audit.hash_id(SECRET_ID, a) != audit.hash_id(SECRET_ID, b)
    assert audit.hash_id(SECRET_ID, a) == audit.hash_id(SECRET_ID, a)
    assert audit.hash_id(None, a) is None


def test_appends_never_rewrite(tmp_path):
    for i in range(3):
        audit.append_record({"event": "analysis", "n": i}, tmp_path)
    lines = audit.audit_log_path(tmp_path).read_text().splitlines()
    assert [json.loads(x)["n"] for x in lines] == [0, 1, 2]


def _writer(folder: str, k: int) -> None:
    for i in range(25):
        audit.append_record({"writer": k, "i": i, "pad": "x" * 500}, folder)


def test_concurrent_writers_leave_whole_lines(tmp_path):
    procs = [mp.get_context("spawn").Process(target=_writer, args=(str(tmp_path), k)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    records = audit.read_records(tmp_path)  # json.loads fails on any torn line
    assert len(records) == 50


def test_env_sets_the_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(audit.ENV_DATA_DIR, str(tmp_path / "data"))
    assert audit.audit_log_path() == tmp_path / "data" / "audit.jsonl"
