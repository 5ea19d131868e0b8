"""Real scanner exports from pydicom-data: frame counts, colour, regions, one-frame decoding."""
from __future__ import annotations

import numpy as np
import pytest

from ceusdesk.ingest import read_frame, scan
from ceusdesk.ingest.decode import dicom_header
from ceusdesk.study import open_study
from ceusdesk.study.frames import panel_image

from .conftest import data_file


def _one(name: str):
    result = scan(data_file(name))
    assert len(result.clips) == 1, result.warnings
    return result.clips[0]


def test_sonosite_jpeg_cine_reads_one_frame_in_rgb():
    clip = _one("color3d_jpeg_baseline.dcm")
    assert (clip.n_frames, clip.rows, clip.cols) == (120, 480, 640)
    assert clip.photometric == "YBR_FULL_422" and not clip.truncated
    assert [r.box for r in clip.regions] == [(84, 31, 596, 415)]  # Max X1/Y1 inclusive → +1
    assert clip.regions[0].physical_delta_x == pytest.approx(0.0510497, rel=1e-4)
    assert clip.frame_offsets_s[1] == pytest.approx(0.033333, rel=1e-4)
    last = read_frame(clip, 119)
    assert last.shape == (480, 640, 3) and last.dtype == np.uint8
    # colour Doppler overlay survives YBR → RGB: some pixels are strongly non-grey
    spread = last.max(axis=2).astype(int) - last.min(axis=2)
    assert (spread > 60).sum() > 100
    with pytest.raises(ValueError, match="frame 120 does not exist"):
        read_frame(clip, 120)


@pytest.mark.parametrize("name", ["US1_UNCR.dcm", "US1_J2KR.dcm", "US1_J2KI.dcm"])
def test_ge_logiq_variants_decode_alike(name):
    clip = _one(name)
    assert (clip.n_frames, clip.rows, clip.cols) == (1, 480, 640)
    frame = read_frame(clip, 0).astype(int)
    reference = read_frame(_one("US1_UNCR.dcm"), 0).astype(int)
    tolerance = 0 if "R" in name.split("_")[1] else 12  # lossless vs lossy JPEG 2000
    assert np.abs(frame - reference).mean() <= max(tolerance, 0.01)


@pytest.mark.parametrize("name", ["gdcm-US-ALOKA-16.dcm", "gdcm-US-ALOKA-16_big.dcm"])
def test_aloka_dual_region_palette_16bit(name):
    clip = _one(name)
    assert clip.bits_allocated == 16 and clip.photometric == "PALETTE COLOR"
    tissue = [r.box for r in clip.regions if r.data_type == 1]
    assert tissue == [(32, 24, 336, 416), (336, 24, 640, 416)]
    frame = read_frame(clip, 0)
    assert frame.dtype == np.uint8 and frame.shape == (480, 640, 3)
    assert 20 < frame.max() <= 255 and frame.mean() > 5  # LUT applied and scaled, not black/clipped


def test_aloka_big_endian_equals_little_endian():
    a = read_frame(_one("gdcm-US-ALOKA-16.dcm"), 0)
    b = read_frame(_one("gdcm-US-ALOKA-16_big.dcm"), 0)
    assert np.array_equal(a, b)


def test_aloka_study_uses_one_panel_per_slot():
    study = open_study(data_file("gdcm-US-ALOKA-16.dcm"), injection_time="11:23:00")
    assert study.contrast_panel == "right"  # the side assumed, as before issue 12
    # one frame shows no wash-in, no decorrelation, no B-mode clip to match: the side is not known
    assert not study.contrast_panel_sure and study.contrast_panel_unsure
    sf = study.slots["1:00"]  # acquired 11:24:20 → 80 s after injection
    assert sf is not None and sf.t_s == pytest.approx(80.0)
    assert sf.panel in ((32, 24, 336, 416), (336, 24, 640, 416))
    assert panel_image(sf).shape == (392, 304, 3)


def test_philips_rle_palette_two_frames():
    clip = _one("OBXXXX1A_rle_2frame.dcm")
    assert (clip.n_frames, clip.rows, clip.cols, clip.photometric) == (2, 600, 800, "PALETTE COLOR")
    assert clip.start is not None and clip.timing_source == "Acquisition DateTime"
    assert clip.regions[0].box == (120, 60, 800, 519)  # Max X1 800 on an 800-wide frame: clipped
    frames = [read_frame(clip, i) for i in range(2)]
    assert all(f.shape == (600, 800, 3) and f.dtype == np.uint8 for f in frames)
    # RLE must give the same pixels as the uncompressed big-endian copy of the same image
    expb = _one("OBXXXX1A_expb_2frame.dcm")
    assert np.array_equal(frames[1], read_frame(expb, 1))
    assert dicom_header(clip.path).RedPaletteColorLookupTableDescriptor[0] == 256
