"""cases.jsonl parsing and the preprocessing cache (with a fake input builder: no DICOM needed)."""

import json

import numpy as np
import pytest

from ceusdesk.base.protocol import default_protocol
from ceusdesk.inference.preprocess import InputSpec
from trainer import cache, data, model
from trainer.data import CasesError, load_cached_cases, phase_combinations, read_cases

from .conftest import make_fake_cohort


@pytest.fixture
def counting_builder(monkeypatch):
    calls = []

    def fake(cases_dir, rec, spec, protocol):
        calls.append(rec["case_id"])
        if rec["case_id"] == "c002":
            raise ValueError("no readable clip")
        value = float(int(rec["case_id"][1:]))
        return cache.Entry(np.full((9, spec.size, spec.size), value, np.float32), np.ones(9, np.float32)), []

    monkeypatch.setattr(cache, "build_case_arrays", fake)
    return calls


def test_cache_built_once_and_reused(tmp_path, counting_builder):
    root = make_fake_cohort(tmp_path / "c", n=6, with_cache=False)
    spec = InputSpec(size=16)
    first = load_cached_cases(root, spec)
    assert len(counting_builder) == 6
    assert first.ids == ["c000", "c001", "c003", "c004", "c005"]  # c002 failed and is skipped
    assert first.skipped[0]["case_id"] == "c002" and "no readable clip" in first.skipped[0]["reason"]
    assert "case002" in first.skipped[0]["reason"]  # names the study folder
    assert first.images[2, 4, 0, 0] == 3.0 and first.images.shape == (5, 9, 16, 16)
    second = load_cached_cases(root, spec)
    assert len(counting_builder) == 6 + 1  # only the failed case is tried again
    np.testing.assert_array_equal(first.images, second.images)
    assert not list((root / data.CACHE_DIRNAME).glob(".*.part"))
    load_cached_cases(root, InputSpec(size=8))  # another spec: new entries
    assert len(counting_builder) == 6 + 1 + 6


def test_changed_study_files_invalidate_the_entry(tmp_path, counting_builder):
    root = make_fake_cohort(tmp_path / "c", n=3, with_cache=False)
    spec = InputSpec(size=8)
    load_cached_cases(root, spec, case_ids=["c000"])
    (root / "studies/case000/IM000001").write_bytes(b"new clip")
    load_cached_cases(root, spec, case_ids=["c000"])
    assert counting_builder == ["c000", "c000"]


def test_entries_measured_by_another_evidence_version_are_rebuilt(tmp_path, counting_builder, monkeypatch):
    from ceusdesk.evidence import VERSION

    root = make_fake_cohort(tmp_path / "c", n=3, with_cache=False)
    spec = InputSpec(size=8)
    monkeypatch.setattr(cache, "EVIDENCE_VERSION", VERSION - 1)  # as the trainer before the change wrote it
    load_cached_cases(root, spec, case_ids=["c000"])
    monkeypatch.setattr(cache, "EVIDENCE_VERSION", VERSION)
    load_cached_cases(root, spec, case_ids=["c000"])
    load_cached_cases(root, spec, case_ids=["c000"])  # now current: reused
    assert counting_builder == ["c000", "c000"]
    assert len(list((root / data.CACHE_DIRNAME).glob("*.npz"))) == 2


def test_all_cases_failing_is_one_clear_error(tmp_path, monkeypatch):
    root = make_fake_cohort(tmp_path / "c", n=2, with_cache=False)

    def broken(cases_dir, rec, spec, protocol):
        raise OSError("disk gone")

    monkeypatch.setattr(cache, "build_case_arrays", broken)
    with pytest.raises(CasesError, match="none of 2 cases.*disk gone"):
        load_cached_cases(root, InputSpec(size=8))


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "cases.jsonl:2: not JSON"),
        (json.dumps({"case_id": "x", "study": "s", "label": "cyst", "roi": [0, 0, 1, 1]}), "label 'cyst'"),
        (json.dumps({"case_id": "x", "study": "s"}), "missing field\\(s\\) label, roi"),
    ],
)
def test_bad_cases_file_names_file_and_line(tmp_path, line, message):
    good = json.dumps({"case_id": "a", "study": "s", "label": "hcc", "roi": [0, 0, 1, 1]})
    (tmp_path / "cases.jsonl").write_text(good + "\n" + line + "\n")
    with pytest.raises(CasesError, match=message):
        read_cases(tmp_path)


def test_missing_cases_file(tmp_path):
    with pytest.raises(CasesError, match="cases.jsonl: no such file"):
        read_cases(tmp_path)


def test_seeded_subset_is_stable(tmp_path):
    root = make_fake_cohort(tmp_path / "c", n=20, with_cache=False)
    recs = read_cases(root)
    a, b = data.subset(recs, 7, seed=3), data.subset(recs, 7, seed=3)
    assert [r["case_id"] for r in a] == [r["case_id"] for r in b] and len(a) == 7


def test_phase_combinations_and_classes():
    combos = phase_combinations(default_protocol())
    assert combos["b_only"] == ("B",)
    assert combos["early"] == ("B", "0:30", "1:00", "2:00")
    assert combos["le_5min"][-1] == "5:00" and len(combos["full"]) == 9
    assert data.CLASSES == model.CLASSES
