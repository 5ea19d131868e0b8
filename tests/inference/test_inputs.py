"""case_inputs: ROI placement on every slot, B-slot mapping, early-set slot limits, tracking."""
from __future__ import annotations

import numpy as np
import pytest

from ceusdesk.base.errors import BadRoi
from ceusdesk.base.protocol import SLOT_NAMES, default_protocol
from ceusdesk.inference.inputs import case_inputs, map_roi
from ceusdesk.inference.preprocess import InputSpec, case_tensor

from .fake_study import fake_study, load

SPEC = InputSpec(size=32)
ROI = (88, 68, 24, 24)  # square around the lesion at (100, 80), radius 12


def centre_value(images: np.ndarray, i: int) -> float:
    s = images.shape[-1]
    return float(images[i, s // 2 - 2:s // 2 + 2, s // 2 - 2:s // 2 + 2].mean())


def test_same_size_panels_share_the_roi_and_match_case_tensor():
    study = fake_study()
    ci = case_inputs(study, ROI, SPEC, loader=load)
    assert ci.images.shape == (9, 32, 32) and ci.images.dtype == np.float32
    assert ci.mask.tolist() == [1.0] * 9
    assert ci.rois == {n: ROI for n in SLOT_NAMES}
    assert ci.warnings == [] and ci.reference_slot == "0:30"
    panels = {n: sf.image for n, sf in study.slots.items()}
    images, mask = case_tensor(panels, ci.rois, default_protocol(), SPEC)
    np.testing.assert_array_equal(images, ci.images)
    np.testing.assert_array_equal(mask, ci.mask)


def test_use_slots_limits_decoding_and_mask():
    study = fake_study()
    decoded = []

    def counting(sf):
        decoded.append(sf)
        return sf.image

    early = default_protocol().set_slots("early")
    ci = case_inputs(study, ROI, SPEC, use_slots=early, loader=counting)
    assert len(decoded) == len(early) == 4
    assert ci.mask.tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 0]
    assert set(ci.rois) == set(early)
    assert not ci.images[4:].any()


def test_missing_slot_gets_mask_zero():
    study = fake_study(present=("B", "0:30", "1:00", "2:00", "10:00"))
    ci = case_inputs(study, ROI, SPEC, loader=load)
    assert ci.mask.tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 1]


def test_b_panel_mapped_through_pixel_spacing_lands_on_the_lesion():
    # B-mode clip at twice the zoom (half the cm per pixel), bigger panel
    study = fake_study(spacing=(0.04, 0.04), b_shape=(300, 420), b_spacing=(0.02, 0.02))
    ci = case_inputs(study, ROI, SPEC, loader=load)
    x, y, w, h = ci.rois["B"]
    assert (w, h) == (48, 48)
    assert abs(x + w / 2 - (210 + (100 - 100) * 2)) <= 1 and abs(y + h / 2 - 160) <= 1
    assert ci.warnings == []
    # the dark lesion (level 60) fills the crop's centre, the background does not
    assert centre_value(ci.images, 0) == pytest.approx((60 / 255 - SPEC.mean) / SPEC.std, abs=1e-4)


def test_b_panel_without_spacing_is_scaled_with_a_warning():
    study = fake_study(b_shape=(320, 400))
    ci = case_inputs(study, ROI, SPEC, loader=load)
    assert ci.rois["B"] == (176, 136, 48, 48)
    assert len(ci.warnings) == 1 and "slot B" in ci.warnings[0] and "scaled" in ci.warnings[0]


def test_map_roi_same_size_is_identity():
    assert map_roi((5, 6, 7, 8), (100, 100), (100, 100), (0.1, 0.1), (0.05, 0.05)) == ((5, 6, 7, 8), "same")


@pytest.mark.parametrize("roi", [(500, 10, 20, 20), (-40, -40, 20, 20)])
def test_roi_outside_the_contrast_panel_is_refused(roi):
    with pytest.raises(BadRoi, match="outside the contrast panel"):
        case_inputs(fake_study(), roi, SPEC, loader=load)


def test_no_contrast_slot_is_refused():
    with pytest.raises(BadRoi, match="no contrast-phase image"):
        case_inputs(fake_study(present=("B",)), ROI, SPEC, loader=load)


def test_panels_argument_avoids_decoding():
    study = fake_study()
    panels = {n: sf.image for n, sf in study.slots.items()}

    def refuse(sf):
        raise AssertionError("decoded although panels were given")

    ci = case_inputs(study, ROI, SPEC, panels=panels, loader=refuse)
    assert ci.mask.sum() == 9


def test_track_roi_follows_a_moving_lesion_within_the_bound():
    shifts = {"1:00": (5, -3), "2:00": (8, -2), "3:00": (8, -2), "4:00": (9, 0)}
    study = fake_study(shifts=shifts)
    still = case_inputs(study, ROI, SPEC, loader=load)
    tracked = case_inputs(study, ROI, SPEC, loader=load, track_roi=True)
    for name, (dx, dy) in shifts.items():
        assert tracked.rois[name] == (ROI[0] + dx, ROI[1] + dy, 24, 24), name
    assert tracked.rois["B"] == ROI and tracked.rois["0:30"] == ROI
    # the tracked crop holds the whole lesion (level 120 + 12 i), the untracked one loses part of it
    i = SLOT_NAMES.index("4:00")
    lesion = ((120 + 12 * i) / 255 - SPEC.mean) / SPEC.std
    def lesion_px(images):
        return int(np.isclose(images[i], lesion, atol=1e-3).sum())
    assert lesion_px(tracked.images) > lesion_px(still.images) + 10


def test_track_roi_never_moves_beyond_the_bound():
    study = fake_study(shifts={"1:00": (40, 0)})  # > 0.5 x 24 px
    ci = case_inputs(study, ROI, SPEC, loader=load, track_roi=True)
    x, y, _, _ = ci.rois["1:00"]
    assert abs(x - ROI[0]) <= 12 and abs(y - ROI[1]) <= 12


def test_track_roi_weak_match_keeps_the_roi_and_warns():
    study = fake_study()
    flat = np.full_like(study.slots["1:00"].image, 7)
    flat[::2, ::2] = 250  # a pattern unrelated to the template
    study.slots["1:00"].image = flat
    ci = case_inputs(study, ROI, SPEC, loader=load, track_roi=True)
    assert ci.rois["1:00"] == ROI
    assert any("slot 1:00" in w and "tracking" in w for w in ci.warnings)
