"""The trainer's cache carries the app's own measured evidence per case, and a failing evidence costs only
the reader's score (tiny real phantom cohort)."""

import json

import numpy as np
import pytest

from ceusdesk.base.protocol import default_protocol
from ceusdesk.evidence import VERSION, Evidence, compute_evidence
from ceusdesk.inference.inputs import case_inputs
from ceusdesk.inference.preprocess import InputSpec
from ceusdesk.ingest import FrameError
from ceusdesk.study import open_study
from trainer import cache
from trainer.data import load_cached_cases
from trainer.reader import washout_scores

SPEC = InputSpec(size=48)


def test_cache_entry_carries_the_apps_evidence(phantom):
    protocol = default_protocol()
    ca = load_cached_cases(phantom, SPEC, workers=1)
    records = [json.loads(line) for line in (phantom / "cases.jsonl").read_text().splitlines()]
    for rec in records:
        path = cache.cache_path(phantom / ".ceusdesk-cache", phantom, rec, SPEC, protocol)
        ev = cache.read_full_entry(path).evidence
        assert ev["error"] is None and ev["per_clip"] == cache.EVIDENCE_PER_CLIP
        assert ev["evidence_version"] == VERSION
        # what the app measures for the same study, ROI and slot ROIs, with every slot it has
        study = open_study(phantom / rec["study"])
        ci = case_inputs(study, tuple(rec["roi"]), SPEC, protocol=protocol)
        used = [n for n, m in zip(protocol.slot_names, ci.mask, strict=True) if m > 0]
        app = compute_evidence(study, {"slots_used": used, "rois": ci.rois, "phase_set": "full",
                                       "call": None}, tuple(rec["roi"]),
                               per_clip=cache.EVIDENCE_PER_CLIP,
                               max_arterial=cache.EVIDENCE_MAX_ARTERIAL).to_json()
        for key in ("washout_onset_s", "kupffer_ratio", "kupffer_defect", "peak_ratio", "aphe"):
            assert ev[key] == app[key], key
        # one point per contrast slot the study has, each its clip's lesion sum over its liver sum
        assert [p["slot"] for p in ev["points"]] == [s for s in used if s != "B"]
        assert sum(p["n"] for p in ev["points"]) == len(app["tic"])
        last = [x for x in app["tic"] if x["t_s"] >= 570.0]
        if last:
            tenth = ev["points"][-1]
            assert tenth["slot"] == "10:00"
            lesion, liver = sum(x["lesion"] for x in last), sum(x["liver"] for x in last)
            assert tenth["ratio"] == pytest.approx(lesion / liver, rel=1e-4)
    assert np.isfinite(washout_scores(ca.reader, protocol, "full")).all()


def test_failing_evidence_gives_nan_and_a_warning_naming_the_case(phantom, tmp_path, monkeypatch, caplog):
    def broken(study, result, roi, **kw):
        raise FrameError(f"{study.slots['2:00'].clip.path}: frame 1 cannot be decoded")

    monkeypatch.setattr(cache, "compute_evidence", broken)
    ca = load_cached_cases(phantom, SPEC, cache_dir=tmp_path / "cache", workers=1)
    assert len(ca) == 3 and not ca.skipped  # the cases keep their model input
    assert np.isnan(washout_scores(ca.reader, default_protocol(), "full")).all()
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    for case_id in ca.ids:
        assert any(f"case {case_id}:" in m and "FrameError" in m and "NaN" in m for m in warned), warned


def test_no_liver_roi_is_an_evidence_failure(phantom, monkeypatch):
    protocol = default_protocol()
    rec = json.loads((phantom / "cases.jsonl").read_text().splitlines()[0])
    study = open_study(phantom / rec["study"])
    ci = case_inputs(study, tuple(rec["roi"]), SPEC, protocol=protocol)
    why = "no liver region beside the lesion at its depth passed the checks: pass --liver-roi X,Y,W,H"
    monkeypatch.setattr(cache, "compute_evidence",
                        lambda *a, **kw: Evidence({"tic": [], "liver_roi": None, "assumptions": [why]}))
    ev = cache.measured_evidence(study, list(ci.rois), ci.rois, tuple(rec["roi"]))
    assert ev["error"].startswith("no liver ROI") and "--liver-roi" in ev["error"] and ev["points"] == []
