"""Segmentation and size on speckled hand-made lesions: known diameters, ROIs off by a few pixels."""
from __future__ import annotations

import numpy as np
import pytest

from ceusdesk.evidence.size import diameter_mm, lesion_region, segment

from .synthetic import disk_image

SIDE = 64  # an ROI of 1.6 diameters around a 40 px lesion


@pytest.mark.parametrize("level", [0.01, 0.15])  # a Kupffer defect, a hyperenhancing lesion
def test_diameter_within_10_percent(level):
    img = disk_image(SIDE, 20.0, level, liver=0.05, seed=1)
    mask, why = segment(img, 0.05)
    assert why is None
    d = 2 * (mask.sum() / 3.14159) ** 0.5
    assert d == pytest.approx(40.0, rel=0.1)


@pytest.mark.parametrize("dx,dy", [(4, 0), (-3, 4), (0, -5)])
def test_roi_off_by_a_few_pixels_still_finds_the_lesion(dx, dy):
    img = disk_image(SIDE, 20.0, 0.01, centre=(31.5 + dx, 31.5 + dy), seed=2)
    seg = lesion_region({"10:00": img}, {"10:00": 0.05})
    assert seg.diameter_px == pytest.approx(40.0, rel=0.1)
    ys, xs = seg.core.nonzero()
    assert abs(xs.mean() - (31.5 + dx)) < 2 and abs(ys.mean() - (31.5 + dy)) < 2  # the core follows it


def test_the_most_contrasted_slot_is_used_and_an_iso_lesion_is_not_sized():
    iso = disk_image(SIDE, 20.0, 0.05, seed=3)
    dark = disk_image(SIDE, 20.0, 0.005, seed=4)
    seg = lesion_region({"1:00": iso, "10:00": dark}, {"1:00": 0.05, "10:00": 0.05})
    assert seg.slot == "10:00" and seg.mask is not None
    none = lesion_region({"1:00": iso}, {"1:00": 0.05})
    assert none.mask is None and none.diameter_px is None and "iso" in none.note
    assert none.core.sum() > 0  # the curve still reads a central disk


def test_a_lesion_larger_than_its_roi_is_not_trusted():
    img = disk_image(SIDE, 40.0, 0.01, seed=5)
    mask, why = segment(img, 0.05)
    assert mask is None and "border" in why


def test_mm_from_pixel_spacing_and_none_without():
    assert diameter_mm(40.0, (0.05, 0.05)) == pytest.approx(20.0)
    assert diameter_mm(40.0, None) is None


def test_a_lesion_with_an_inner_structure_is_outlined_whole():
    """A necrotic centre (dark on every phase) in a viable lesion (bright, then below the liver): one
    frame alone outlines the necrosis; all phases together, the lesion."""
    def viable(level_rim, level_core):
        return lambda rho, theta: np.where(rho < 0.5, level_core, level_rim)

    art = disk_image(SIDE, 20.0, 1.0, liver=0.05, seed=6, profile=viable(0.12, 0.004))
    late = disk_image(SIDE, 20.0, 1.0, liver=0.05, seed=7, profile=viable(0.03, 0.004))
    kupffer = disk_image(SIDE, 20.0, 1.0, liver=0.05, seed=8, profile=viable(0.02, 0.004))
    seg = lesion_region({"0:30": art, "3:00": late, "10:00": kupffer},
                        {s: 0.05 for s in ("0:30", "3:00", "10:00")})
    assert seg.diameter_px == pytest.approx(40.0, rel=0.15)
