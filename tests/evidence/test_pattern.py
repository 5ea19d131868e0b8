"""The arterial pattern from the radial profile: diffuse, rim, peripheral nodular, none."""
from __future__ import annotations

import numpy as np

from ceusdesk.evidence.pattern import classify, radial_profile

from .synthetic import disk_image

SIDE, R = 64, 20.0


def region(side=SIDE, r=R):
    yy, xx = np.mgrid[0:side, 0:side]
    return np.hypot(xx - (side - 1) / 2, yy - (side - 1) / 2) <= r


def test_diffuse():
    img = disk_image(SIDE, R, 0.2, liver=0.05, seed=1)
    assert radial_profile(img, region(), 0.05).pattern == "diffuse"


def test_rim():
    rim = lambda rho, th: np.where(rho > 0.65, 1.0, 0.1)  # noqa: E731
    img = disk_image(SIDE, R, 0.2, liver=0.05, seed=2, profile=rim)
    p = radial_profile(img, region(), 0.05)
    assert p.pattern == "rim" and p.rim_ratio > 2 > p.centre_ratio


def test_peripheral_nodules_with_gaps():
    def nodules(rho, th):
        on = (np.cos(5 * th) > 0.3) & (rho > 0.7)  # five peripheral nodules
        return np.where(on, 1.0, 0.15)
    img = disk_image(SIDE, R, 0.25, liver=0.05, seed=3, profile=nodules)
    assert radial_profile(img, region(), 0.05).pattern == "peripheral_nodular"


def test_no_hyperenhancement_no_pattern_and_tiny_lesions_are_not_told():
    iso = disk_image(SIDE, R, 0.05, liver=0.05, seed=4)
    assert radial_profile(iso, region(), 0.05).pattern is None
    tiny = disk_image(16, 3.0, 0.3, liver=0.05, seed=5)
    assert radial_profile(tiny, region(16, 3.0), 0.05).pattern is None
    assert classify(1.0, 1.1, 0.0) is None
