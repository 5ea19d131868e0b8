"""Extreme pixel spacing and ROI sizes never turn into a giant crop (MemoryError/OverflowError)."""
from __future__ import annotations

import math

import pytest

from ceusdesk.base.errors import BadRoi
from ceusdesk.inference.inputs import case_inputs, map_roi
from ceusdesk.inference.preprocess import InputSpec

from .fake_study import fake_study, load

ROI = (88, 68, 24, 24)
SPEC = InputSpec(size=32)


@pytest.mark.parametrize("src, dst", [
    ((1e-300, 1e-300), (1e300, 1e300)), ((1e300, 1e300), (1e-300, 1e-300)), ((0.04, 0.04), (1e-9, 1e-9)),
    ((math.inf, 0.04), (0.02, 0.02)), ((math.nan, math.nan), (0.02, 0.02)), ((0.04, 0.04), (-0.02, 0.02)),
])
def test_implausible_spacing_falls_back_to_scaling(src, dst):
    (x, y, w, h), how = map_roi(ROI, (160, 200), (300, 420), src, dst)
    assert how == "scaled" and 0 < w <= 420 and 0 < h <= 300


def test_spacing_that_would_blow_the_roi_past_the_panel_is_not_trusted():
    # both in range, but 0.5 cm/px against 0.0002 cm/px maps a 24 px ROI to 60000 px
    (_, _, w, h), how = map_roi(ROI, (160, 200), (300, 420), (0.5, 0.5), (0.0002, 0.0002))
    assert how == "scaled" and w <= 420 and h <= 300


def test_a_study_with_absurd_spacing_is_analyzed_with_a_warning():
    study = fake_study(spacing=(1e-300, 1e-300), b_shape=(300, 420), b_spacing=(1e300, 1e300))
    ci = case_inputs(study, ROI, SPEC, loader=load)
    assert ci.mask.sum() == 9 and ci.images.shape == (9, 32, 32)
    assert any("slot B" in w and "no usable pixel spacing" in w for w in ci.warnings)


@pytest.mark.parametrize("roi, needle", [
    ((0, 0, 3163, 3163), "larger than the contrast panel"),
    ((10, 10, 0, 5), "width and height must be positive"),
    ((10**7, 10, 20, 20), "beyond 1000000 pixels"),
])
def test_roi_larger_than_the_panel_or_absurd_is_refused(roi, needle):
    with pytest.raises(BadRoi, match=needle):
        case_inputs(fake_study(), roi, SPEC, loader=load)


def test_a_hand_set_roi_larger_than_its_panel_is_refused():
    with pytest.raises(BadRoi, match="for slot 3:00 is larger than its panel"):
        case_inputs(fake_study(), ROI, SPEC, loader=load, rois={"3:00": (0, 0, 5000, 5000)})
