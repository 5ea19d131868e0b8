"""Linearization: the table's ends, its shape, and the phantom scanners' colour maps undone."""
from __future__ import annotations

import numpy as np
import pytest

from ceusdesk.evidence.intensity import DEFAULT_DYNAMIC_RANGE_DB, brightness, linearization_for
from ceusdesk.phantom.export import MANUFACTURER
from ceusdesk.phantom.scanner import PROFILES


def test_unknown_scanner_gets_the_stated_default():
    lin = linearization_for("ACME", "X1")
    assert lin.dynamic_range_db == DEFAULT_DYNAMIC_RANGE_DB
    assert "default" in lin.describe() and f"{DEFAULT_DYNAMIC_RANGE_DB:g} dB" in lin.describe()
    lut = lin.lut
    assert lut[0] == 0.0 and lut[255] == pytest.approx(1.0) and np.all(np.diff(lut) > 0)


def test_10_db_more_on_screen_is_ten_times_the_power():
    lut = linearization_for(None, None).lut
    step = int(round(255 * 10 / DEFAULT_DYNAMIC_RANGE_DB))
    assert lut[200] / lut[200 - step] == pytest.approx(10.0, rel=0.05)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_phantom_profiles_undo_each_scanners_display(name):
    profile = PROFILES[name]
    lin = linearization_for(MANUFACTURER.upper(), profile.model)
    assert profile.model in lin.describe()
    grey = np.linspace(20, 250, 24, dtype=np.float32)[None, :]  # a 1×24 panel
    shown = brightness(profile.colourize(grey))
    top = 10 ** (profile.ceus_range_db / 10) - 1
    want = (10 ** (grey / 255 * profile.ceus_range_db / 10) - 1) / top
    assert np.allclose(lin.lut[shown], want, rtol=0.12, atol=2e-4)
