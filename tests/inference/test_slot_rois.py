"""Hand-set per-slot ROIs: used as they are, never moved by tracking, reported with their source."""
from __future__ import annotations

import numpy as np
import pytest

from ceusdesk.base.errors import BadRoi
from ceusdesk.base.protocol import SLOT_NAMES, default_protocol
from ceusdesk.inference import analyze, load_model
from ceusdesk.inference.inputs import case_inputs, place_rois, roi_to_reference
from ceusdesk.inference.preprocess import InputSpec
from tests.tiny_package import make_tiny_package

from .fake_study import fake_study, load

SPEC = InputSpec(size=32)
ROI = (88, 68, 24, 24)  # square around the lesion at (100, 80), radius 12


def lesion_pixels(images: np.ndarray, slot: str) -> int:
    """Pixels of the slot's crop at the fake lesion's level (120 + 12 i)."""
    i = SLOT_NAMES.index(slot)
    level = ((120 + 12 * i) / 255 - SPEC.mean) / SPEC.std
    return int(np.isclose(images[i], level, atol=1e-3).sum())


def test_a_hand_set_roi_replaces_only_its_slot():
    # the lesion sits 40 px to the right at 3:00: beyond what tracking may reach
    study = fake_study(shifts={"3:00": (40, 0)})
    auto = case_inputs(study, ROI, SPEC, loader=load)
    user = (128, 68, 24, 24)
    ci = case_inputs(study, ROI, SPEC, loader=load, rois={"3:00": user})
    assert ci.rois["3:00"] == user and ci.roi_sources["3:00"] == "user"
    assert all(ci.rois[n] == ROI and ci.roi_sources[n] == "given" for n in SLOT_NAMES if n != "3:00")
    i = SLOT_NAMES.index("3:00")
    others = [k for k in range(9) if k != i]
    np.testing.assert_array_equal(ci.images[others], auto.images[others])
    # the automatic crop missed the moved lesion, the hand-set one holds it
    assert lesion_pixels(auto.images, "3:00") == 0
    assert lesion_pixels(ci.images, "3:00") > 0.5 * 32 * 32 * np.pi / 4


def test_tracking_never_moves_a_hand_set_roi_and_follows_the_others():
    shifts = {"1:00": (5, -3), "2:00": (8, -2), "3:00": (8, -2)}
    study = fake_study(shifts=shifts)
    user = (90, 62, 30, 30)  # a bigger box round the lesion at 1:00 (centre 105, 77)
    ci = case_inputs(study, ROI, SPEC, loader=load, track_roi=True, rois={"1:00": user})
    assert ci.rois["1:00"] == user and ci.roi_sources["1:00"] == "user"
    # after the hand-set slot the chain goes on with the placed ROI's size, from the hand-set position
    for name in ("2:00", "3:00"):
        dx, dy = shifts[name]
        assert ci.rois[name] == (ROI[0] + dx, ROI[1] + dy, 24, 24), name
        assert ci.roi_sources[name] == "tracked"
    assert ci.roi_sources["0:30"] == "given" and ci.roi_sources["B"] == "given"


def test_b_slot_set_by_hand_on_a_panel_of_another_size():
    study = fake_study(b_shape=(320, 400))  # no spacing: the mapped ROI would be scaled with a warning
    placed = case_inputs(study, ROI, SPEC, loader=load)
    assert placed.roi_sources["B"] == "mapped" and any("slot B" in w for w in placed.warnings)
    ci = case_inputs(study, ROI, SPEC, loader=load, rois={"B": (180, 140, 40, 40)})
    assert ci.rois["B"] == (180, 140, 40, 40) and ci.roi_sources["B"] == "user"
    assert not any("slot B" in w for w in ci.warnings)  # the scaling note no longer applies


@pytest.mark.parametrize("rois, needle", [
    ({"7:00": (1, 1, 10, 10)}, "unknown slot '7:00'"),
    ({"3:00": (500, 10, 20, 20)}, "for slot 3:00 lies outside its panel"),
    ({"3:00": (10, 10, 0, 20)}, "slot 3:00: width and height must be positive"),
])
def test_bad_hand_set_rois_are_refused_naming_the_slot(rois, needle):
    with pytest.raises(BadRoi, match=needle):
        case_inputs(fake_study(), ROI, SPEC, loader=load, rois=rois)


def test_a_hand_set_roi_on_an_unused_slot_is_reported_not_used():
    early = default_protocol().set_slots("early")
    ci = case_inputs(fake_study(), ROI, SPEC, loader=load, use_slots=early, rois={"5:00": ROI})
    assert "5:00" not in ci.rois
    assert any("slot 5:00" in w and "not used" in w for w in ci.warnings)


def test_place_rois_needs_no_tensor_and_agrees_with_case_inputs():
    study = fake_study(shifts={"1:00": (5, -3)})
    panels = {n: sf.image for n, sf in study.slots.items()}
    p = place_rois(study, ROI, panels, rois={"6:00": (80, 60, 30, 30)}, track_roi=True)
    ci = case_inputs(study, ROI, SPEC, panels=panels, rois={"6:00": (80, 60, 30, 30)}, track_roi=True)
    assert p.rois == ci.rois and p.sources == ci.roi_sources and p.reference_slot == "0:30"


def test_analyze_reports_rois_and_their_sources(tmp_path):
    model = load_model(make_tiny_package(tmp_path), threads=1)
    study = fake_study(shifts={"3:00": (40, 0)})
    user = (128, 68, 24, 24)
    r = analyze(study, ROI, model, loader=load, rois={"3:00": user})
    auto = analyze(study, ROI, model, loader=load, importance=False)
    doc = r.to_json()
    assert doc["rois"]["3:00"] == list(user) and doc["roi_sources"]["3:00"] == "user"
    assert set(doc["roi_sources"]) == set(doc["rois"]) == set(SLOT_NAMES)
    assert auto.to_json()["roi_sources"]["3:00"] == "given"
    assert r.probabilities != auto.probabilities  # the model saw the hand-set crop


def test_an_roi_drawn_on_the_b_panel_maps_back_onto_the_contrast_panel():
    # B-mode at twice the zoom: the ROI placed there, mapped back, is the contrast-panel ROI again
    study = fake_study(spacing=(0.04, 0.04), b_shape=(300, 420), b_spacing=(0.02, 0.02))
    panels = {n: None if sf is None else sf.image for n, sf in study.slots.items()}
    on_b = place_rois(study, ROI, panels).rois["B"]
    assert on_b != ROI
    assert roi_to_reference(study, on_b, "B", panels) == ROI
    assert roi_to_reference(study, ROI, "3:00", panels) == ROI  # a panel of the reference's size
