"""``result.evidence`` has the same keys however the computation ends (docs/evidence.md: a value not
measured is null, never absent), so the app, the PDF and scripts can read it without guessing."""
from __future__ import annotations

from ceusdesk.evidence import compute_evidence
from ceusdesk.evidence.compute import FIELDS, VERSION
from ceusdesk.phantom import PhantomOptions, synthesize_case
from ceusdesk.study import open_study


def test_early_returns_and_full_runs_give_the_same_keys(tmp_path):
    rec = synthesize_case(tmp_path, seed=4, options=PhantomOptions(panel_size=(128, 96), frames_per_clip=2))
    study = open_study(tmp_path / rec["study"])
    roi = tuple(int(v) for v in rec["roi"])
    used = [s for s, sf in study.slots.items() if sf is not None]
    full = {"slots_used": used, "rois": {s: list(roi) for s in used}, "call": "benign", "phase_set": "full"}
    nothing = {**full, "slots_used": ["B"], "rois": {"B": list(roi)}}  # no contrast slot: returns early
    on_lesion = {**full}

    complete = compute_evidence(study, full, roi).to_json()
    early = compute_evidence(study, nothing, roi).to_json()
    refused = compute_evidence(study, on_lesion, roi, liver_roi=roi).to_json()  # liver ROI on the lesion
    assert complete["tic"] and not early["tic"] and not refused["tic"]
    assert list(complete) == list(early) == list(refused) == list(FIELDS)
    assert early["version"] == refused["version"] == complete["version"] == VERSION
    assert early["aphe_pattern_at_s"] is None and early["lesion_size_mm"] is None
