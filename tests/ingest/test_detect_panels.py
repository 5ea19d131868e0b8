"""Panels found in the pixels (videos, stills, DICOM without regions) when labels crowd the screen."""
from __future__ import annotations

import cv2
import numpy as np
import pydicom
import pytest

from ceusdesk.ingest.panels import detect_panels
from ceusdesk.study import open_study

from .conftest import ClipSpec, write_clip

LEFT, RIGHT = (8, 24, 168, 152), (176, 24, 336, 152)


def _screen(gap_labels: bool, seed: int = 0) -> np.ndarray:
    """A 344x160 dual display: textured panels, a banner above, depth-scale ticks and labels in the
    8-pixel margin between the panels (as small exports draw them), a timer in the contrast panel."""
    rng = np.random.default_rng(seed)
    img = np.zeros((160, 344), np.uint8)
    for x0, y0, x1, y1 in (LEFT, RIGHT):
        img[y0:y1, x0:x1] = np.clip(rng.normal(100, 25, (y1 - y0, x1 - x0)), 20, 255)
    cv2.putText(img, "B", (8, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.3, 225, 1, cv2.LINE_AA)
    cv2.putText(img, "CEUS MI 0.21", (176, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.3, 225, 1, cv2.LINE_AA)
    if gap_labels:
        for x1 in (LEFT[2], RIGHT[2]):
            for cm in range(0, 16):
                y = 24 + cm * 8
                img[y, x1 + 1:x1 + 4] = 225
                if cm % 5 == 0 and cm:
                    cv2.putText(img, str(cm), (x1 + 1, y + 6), cv2.FONT_HERSHEY_SIMPLEX, 0.21, 225, 1,
                                cv2.LINE_AA)
    return img


@pytest.mark.parametrize("gap_labels", [False, True])
def test_two_panels_split_despite_labels_between_them(gap_labels):
    boxes = detect_panels(_screen(gap_labels))
    assert len(boxes) == 2
    for got, want in zip(boxes, (LEFT, RIGHT), strict=True):
        assert abs(got[0] - want[0]) <= 2 and abs(got[1] - want[1]) <= 2  # the origin ROIs are relative to
        assert abs(got[3] - want[3]) <= 2 and want[2] - 2 <= got[2] <= want[2] + 8  # scale may stick on


def test_one_panel_with_a_banner_is_not_split():
    img = _screen(False)
    img[:, 168:176] = 0
    img[24:152, 160:184] = 90  # one wide image across the middle
    boxes = detect_panels(img)
    assert len(boxes) == 1 and abs(boxes[0][1] - 24) <= 2


def test_an_unsplittable_wide_image_is_warned(tmp_path):
    path = write_clip(tmp_path / "s" / "wide.dcm", ClipSpec(start_s=30, n_frames=2, regions=False))
    ds = pydicom.dcmread(path)
    frames = ds.pixel_array.copy()
    frames[:] = 0
    frames[:, 20:76, 8:152] = 120  # one 144x56 block: two panels without a gap or a valley, or one odd image
    ds.PixelData = frames.tobytes()
    ds.save_as(path)
    study = open_study(tmp_path / "s", injection_time="10:00:00")
    assert any("could not be separated" in w.message for w in study.warnings)
