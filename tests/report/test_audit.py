"""The audit log: one JSON line per analysis, append-only, no patient name or id in clear."""
from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from ceusdesk.outputs import audit

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


def test_the_evidence_beside_the_call_is_on_record(tmp_path):
    ev = {"version": 2, "liver_roi": [10, 20, 30, 30], "aphe": True, "washout_onset_s": 95.0,
          "washout_onset_range_s": [80.0, None], "kupffer_defect": True, "kupffer_defect_borderline": False,
          "assumptions": ["liver ROI given by the user"], "disagreement": "The measured features point …",
          "tic": [{"t_s": 1.0, "lesion": 0.1, "liver": 0.1}]}
    audit.log_analysis(result_doc() | {"evidence": ev}, patient_id=SECRET_ID, study_path=tmp_path,
                       roi=(1, 2, 3, 4), source="app", folder=tmp_path)
    (rec,) = audit.read_records(tmp_path)
    assert rec["evidence"] == {"version": 2, "liver_roi": [10, 20, 30, 30], "liver_roi_source": "user",
                               "aphe": True, "washout_onset_s": 95.0, "kupffer_defect": True,
                               "borderline": ["washout"], "disagreement": True}
    audit.log_analysis(result_doc(), patient_id=SECRET_ID, study_path=tmp_path, roi=(1, 2, 3, 4),
                       source="cli", folder=tmp_path)
    assert audit.read_records(tmp_path)[-1]["evidence"] is None  # a result without evidence


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


def _hash_in_child(folder: str) -> str:
    return audit.hash_id(SECRET_ID, folder)


def _expected(folder) -> str:
    salt = (folder / audit.SALT_NAME).read_bytes()
    assert len(salt) == audit.SALT_HEX_DIGITS
    return hashlib.sha256(salt + SECRET_ID.encode()).hexdigest()[:16]


def test_first_use_from_many_threads_gives_one_salt(tmp_path):
    barrier = threading.Barrier(12)

    def first_use(_):
        barrier.wait()
        return audit.hash_id(SECRET_ID, tmp_path)

    with ThreadPoolExecutor(12) as pool:
        hashes = set(pool.map(first_use, range(12)))
    assert hashes == {_expected(tmp_path)}  # nobody hashed with an empty or a losing salt


def test_first_use_from_several_processes_gives_one_salt(tmp_path):
    with mp.get_context("spawn").Pool(3) as pool:
        hashes = set(pool.map(_hash_in_child, [str(tmp_path)] * 6))
    assert hashes == {_expected(tmp_path)}


def test_a_reader_waits_for_a_salt_still_being_written(tmp_path):
    salt = tmp_path / audit.SALT_NAME
    salt.write_bytes(b"")  # a creator without hard links has made the file but not written it yet
    writer = threading.Timer(0.2, lambda: salt.write_bytes(b"0123456789abcdef" * 2))
    writer.start()
    try:
        got = audit.hash_id(SECRET_ID, tmp_path)
    finally:
        writer.join()
    assert got == _expected(tmp_path)


def test_a_salt_that_stays_empty_is_an_error_not_a_hash(tmp_path, monkeypatch):
    monkeypatch.setattr(audit, "SALT_WAIT_S", 0.05)
    (tmp_path / audit.SALT_NAME).write_bytes(b"")
    with pytest.raises(audit.AuditSaltError, match="audit salt is empty or damaged") as info:
        audit.hash_id(SECRET_ID, tmp_path)
    assert isinstance(info.value, OSError)  # the CLI reports it as an output not written (exit 7)


def test_without_hard_links_the_salt_is_still_made_once(tmp_path, monkeypatch):
    def no_links(*a, **k):
        raise PermissionError("hard links not supported")
    monkeypatch.setattr(audit.os, "link", no_links)
    first = audit.hash_id(SECRET_ID, tmp_path)
    assert first == audit.hash_id(SECRET_ID, tmp_path) == _expected(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [audit.SALT_NAME]  # no temp file left behind
