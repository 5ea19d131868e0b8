"""The reference liver ROI on a hand-made sector: beside the lesion, at its beam depth, off vessels."""
from __future__ import annotations

import numpy as np

from ceusdesk.evidence.liver_roi import apex_of, imaged_mask, place_liver_reference

from .synthetic import speckle

W, H, APEX_Y = 240, 180, -60.0


def shown_roi(lesion_roi, frames, display):
    """The liver ROI the app shows: the first square of the reference, or None."""
    found = place_liver_reference(lesion_roi, frames, display)
    return found[0] if found else None


def sector() -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    r = np.hypot(xx - W / 2, yy - APEX_Y)
    return (np.abs(np.arctan2(xx - W / 2, yy - APEX_Y)) < 0.6) & (r > -APEX_Y) & (r < H - APEX_Y - 5)


def scene(vessel_x: float | None = None, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(linear image, display brightness): liver 0.05, a lesion at (150, 110) r 14, an optional dark
    vertical vessel (Sonazoid leaves vessels dark late) at ``vessel_x``."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    img = np.full((H, W), 0.05, np.float32)
    img[np.hypot(xx - 150, yy - 110) < 14] = 0.01
    if vessel_x is not None:
        img[np.abs(xx - vessel_x) < 5] = 0.004
    img = img * speckle((H, W), np.random.default_rng(seed)) * sector()
    display = np.where(sector(), np.clip(img * 2000, 1, 255), 0).astype(np.uint8)
    return img, display


LESION_ROI = (127, 87, 46, 46)


def overlaps(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def test_the_apex_of_a_convex_sector_is_found():
    ax, ay = apex_of(imaged_mask([scene()[1]]))
    assert abs(ax - W / 2) < 2 and abs(ay - APEX_Y) < 6


def test_beside_the_lesion_at_its_beam_depth():
    img, disp = scene()
    roi = shown_roi(LESION_ROI, [img], [disp])
    assert roi is not None and not overlaps(roi, LESION_ROI)
    x, y, w, h = roi
    lesion_depth = np.hypot(150 - W / 2, 110 - APEX_Y)
    depth = np.hypot(x + w / 2 - W / 2, y + h / 2 - APEX_Y)
    assert abs(depth - lesion_depth) <= h / 4 + 2  # on the arc, up to a quarter side nudged
    assert sector()[y:y + h, x:x + w].all()


def test_a_dark_vessel_beside_the_lesion_is_avoided():
    img, disp = scene(vessel_x=105)  # just left of the lesion ROI, where the nearest square would sit
    roi = shown_roi(LESION_ROI, [img], [disp])
    assert roi is not None
    x, _, w, _ = roi
    assert not (x - 5 < 105 < x + w + 5)


def test_no_liver_beside_the_lesion_gives_none():
    img, disp = scene()
    img[:, :] = 0.0
    img[87:133, 127:173] = 0.05  # only the lesion ROI shows any signal
    assert shown_roi(LESION_ROI, [img], [disp]) is None


def test_the_liver_level_is_pooled_from_squares_on_both_sides():
    from ceusdesk.evidence.liver_roi import place_liver_reference

    img = (0.05 * speckle((H, W), np.random.default_rng(4)) * sector()).astype(np.float32)
    disp = np.where(sector(), np.clip(img * 2000, 1, 255), 0).astype(np.uint8)
    lesion_roi = (102, 70, 36, 36)  # mid-sector: room on both sides
    squares = place_liver_reference(lesion_roi, [img], [disp])
    assert squares[0] == shown_roi(lesion_roi, [img], [disp])  # the shown ROI comes first
    assert 2 <= len(squares) <= 4
    centres = [x + w / 2 for x, _, w, _ in squares]
    assert min(centres) < 120 < max(centres)  # both sides of the lesion
    for i, a in enumerate(squares):
        assert not overlaps(a, lesion_roi)
        assert all(not overlaps(a, b) for b in squares[i + 1:])


def test_the_reference_uncertainty_grows_with_patchy_liver():
    from ceusdesk.evidence.compute import ASSUMED_REFERENCE_SD, reference_sd

    img = np.ones((40, 200), np.float32)
    squares = [(0, 0, 20, 20), (60, 0, 20, 20), (120, 0, 20, 20), (180, 0, 20, 20)]
    even, n, measured = reference_sd({"3:00": img}, {"3:00": squares}, ["3:00"])
    patchy = img.copy()
    patchy[:, 0:20] *= 1.4
    patchy[:, 120:140] *= 0.7
    uneven, _, _ = reference_sd({"3:00": patchy}, {"3:00": squares}, ["3:00"])
    assert measured and n == 4 and uneven > 1.5 * even
    one, n1, measured1 = reference_sd({"3:00": img}, {"3:00": squares[:1]}, ["3:00"])
    assert not measured1 and n1 == 1 and one == ASSUMED_REFERENCE_SD
