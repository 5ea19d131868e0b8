import numpy as np
import pytest

from ceusdesk.base.protocol import default_protocol
from ceusdesk.base.roi import parse_roi
from ceusdesk.inference.preprocess import InputSpec, case_tensor, crop_roi, to_gray


def test_parse_roi_accepts_and_rejects():
    assert parse_roi("10, 20,30,40") == (10, 20, 30, 40)
    for bad in ("10,20,30", "a,b,c,d", "1,2,0,5", "1,2,-3,5"):
        with pytest.raises(ValueError, match="ROI"):
            parse_roi(bad)


def test_crop_is_square_centred_and_zero_padded():
    img = np.arange(100, dtype=np.uint8).reshape(10, 10)
    crop = crop_roi(img, (2, 3, 4, 2))  # centre (4, 4), side 4
    assert crop.shape == (4, 4)
    assert crop[0, 0] == img[2, 2] and crop[3, 3] == img[5, 5]
    edge = crop_roi(img, (-2, -2, 4, 4))
    assert edge[0, 0] == 0 and edge[2, 2] == img[0, 0]


def test_gray_from_rgb_uses_luminance():
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 1] = 255
    assert 148 <= int(to_gray(rgb)[0, 0]) <= 152  # 0.587 * 255


def test_case_tensor_masks_missing_and_excluded_slots():
    p = default_protocol()
    spec = InputSpec(size=32)
    panel = np.full((100, 120), 200, np.uint8)
    panels = {name: panel for name in p.slot_names}
    panels["3:00"] = None
    rois = {name: (10, 10, 50, 50) for name in p.slot_names}
    images, mask = case_tensor(panels, rois, p, spec, use_slots=p.set_slots("early"))
    assert images.shape == (9, 32, 32) and images.dtype == np.float32
    assert mask.tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 0]
    assert np.allclose(images[0], (200 / 255 - spec.mean) / spec.std)
    assert not images[4:].any()


def test_spec_round_trip():
    spec = InputSpec(size=112)
    assert InputSpec.from_dict(spec.to_dict()) == spec
