"""Written studies: determinism, DICOM tags a reader relies on, encodings, layout, DICOMDIR."""
import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.pixels import pixel_array
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, RLELossless

from ceusdesk.base.protocol import default_protocol
from ceusdesk.phantom import PhantomOptions, synthesize_case
from ceusdesk.phantom.compose import Layout

US_MULTIFRAME = "1.2.840.10008.5.1.4.1.1.3.1"


def _files(study: Path) -> list[Path]:
    return sorted(p for p in study.rglob("*") if p.is_file() and p.name != "DICOMDIR")


def test_same_seed_gives_identical_pixels_and_uids(tmp_path, tiny):
    a = synthesize_case(tmp_path / "a", seed=11, options=tiny)
    b = synthesize_case(tmp_path / "b", seed=11, options=tiny)
    c = synthesize_case(tmp_path / "c", seed=12, options=tiny)
    assert a == b
    fa, fb = _files(tmp_path / "a" / a["study"]), _files(tmp_path / "b" / b["study"])
    assert [p.name for p in fa] == [p.name for p in fb] and len(fa) >= 9
    for pa, pb in zip(fa, fb, strict=True):
        da, db = pydicom.dcmread(pa), pydicom.dcmread(pb)
        assert da.PixelData == db.PixelData
        assert da.SOPInstanceUID == db.SOPInstanceUID
    dc = pydicom.dcmread(_files(tmp_path / "c" / c["study"])[1])
    assert dc.PixelData != pydicom.dcmread(fa[1]).PixelData


@pytest.mark.parametrize("encoding, syntax, photometric", [
    ("jpeg", JPEGBaseline8Bit, "YBR_FULL_422"),
    ("rle", RLELossless, "RGB"),
    ("raw", ExplicitVRLittleEndian, "RGB"),
])
def test_tags_and_frames_readable(tmp_path, tiny, encoding, syntax, photometric):
    opts = dataclasses.replace(tiny, encoding=encoding)
    rec = synthesize_case(tmp_path, seed=5, options=opts)
    files = _files(tmp_path / rec["study"])
    layout = Layout(*opts.panel_size)
    w, h = layout.size
    injection = rec["injection_time"].replace(":", "")
    for path in files:
        ds = pydicom.dcmread(path)
        assert ds.SOPClassUID == US_MULTIFRAME and ds.file_meta.TransferSyntaxUID == syntax
        assert ds.PhotometricInterpretation == photometric
        assert (ds.Rows, ds.Columns, ds.SamplesPerPixel) == (h, w, 3)
        assert ds.FrameIncrementPointer == 0x00181063 and ds.FrameTime > 0
        assert ds.Manufacturer == "ceusdesk-phantom"
        assert ds.PatientID and ds.StudyInstanceUID and ds.SeriesInstanceUID
        dt.datetime.strptime(ds.AcquisitionDateTime, "%Y%m%d%H%M%S.%f")
        regions = ds.SequenceOfUltrasoundRegions
        contrast = "ContrastBolusAgent" in ds
        assert len(regions) == (2 if contrast else 1)
        for r in regions:
            assert r.RegionDataType == 1 and r.PhysicalUnitsXDirection == 3 and r.PhysicalDeltaX > 0
            assert r.RegionLocationMaxX1 - r.RegionLocationMinX0 + 1 == opts.panel_size[0]  # Max inclusive
        if contrast:
            assert ds.ContrastBolusAgent == "Sonazoid" and ds.ContrastBolusStartTime == injection
        n = int(ds.NumberOfFrames)
        frame = pixel_array(path, index=n - 1)
        assert frame.shape == (h, w, 3) and frame.dtype == np.uint8
        assert frame.mean() > 10  # an image, not a black frame


def test_frame_times_fill_every_slot_window(tmp_path, tiny):
    """From the tags alone (standard DICOM timing) every protocol slot has a frame in its window."""
    rec = synthesize_case(tmp_path, seed=8, options=tiny)
    day = None
    times: list[float] = []
    has_pre = False
    for path in _files(tmp_path / rec["study"]):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        start = dt.datetime.strptime(ds.AcquisitionDateTime, "%Y%m%d%H%M%S.%f")
        day = day or start.date()
        if "ContrastBolusAgent" not in ds:
            has_pre = True
            continue
        inj = dt.datetime.combine(day, dt.datetime.strptime(ds.ContrastBolusStartTime, "%H%M%S").time())
        t0 = (start - inj).total_seconds()
        times += [t0 + i * float(ds.FrameTime) / 1000 for i in range(int(ds.NumberOfFrames))]
    assert has_pre
    for slot in default_protocol().contrast_slots:
        assert any(slot.accepts(t) for t in times), f"no frame in the {slot.name} window"


def test_contrast_panel_side_and_tint(tmp_path, tiny):
    for side in ("left", "right"):
        opts = dataclasses.replace(tiny, contrast_side=side, encoding="raw")
        rec = synthesize_case(tmp_path / side, seed=21, options=opts)
        assert rec["contrast_panel"] == side
        ds = pydicom.dcmread(_files(tmp_path / side / rec["study"])[-1])  # 10:00: liver enhanced
        img = pixel_array(ds, index=0).astype(float)
        layout = Layout(*opts.panel_size)
        x0, y0, x1, y1 = layout.panel_box(side)
        cx = img[y0:y1, x0:x1]
        bx0, by0, bx1, by1 = layout.panel_box("right" if side == "left" else "left")
        bmode = img[by0:by1, bx0:bx1]
        assert cx[..., 0].mean() > cx[..., 2].mean() + 5      # warm CEUS tint
        assert abs(bmode[..., 0].mean() - bmode[..., 2].mean()) < 1  # grey B-mode
        reg = ds.SequenceOfUltrasoundRegions
        assert sorted((r.RegionLocationMinX0, r.RegionLocationMinY0) for r in reg) == \
            sorted([layout.panel_origin("left"), layout.panel_origin("right")])


def test_early_only_and_missing_slots(tmp_path, tiny):
    early = synthesize_case(tmp_path / "e", seed=3, options=dataclasses.replace(tiny, early_only=True))
    n_early = len(_files(tmp_path / "e" / early["study"]))
    assert 4 <= n_early <= 5  # pre, arterial, 1:00, 2:00 (+ sometimes 3:00)
    miss = synthesize_case(tmp_path / "m", seed=3,
                           options=dataclasses.replace(tiny, missing_slots=("3:00", "10:00")))
    full = synthesize_case(tmp_path / "f", seed=3, options=tiny)
    assert len(_files(tmp_path / "m" / miss["study"])) == len(_files(tmp_path / "f" / full["study"])) - 2
    with pytest.raises(ValueError, match="unknown slot"):
        synthesize_case(tmp_path / "x", seed=3, options=dataclasses.replace(tiny, missing_slots=("7:00",)))


def test_dicomdir_tree(tmp_path, tiny):
    rec = synthesize_case(tmp_path, seed=4, options=dataclasses.replace(tiny, dicomdir=True))
    root = tmp_path / rec["study"]
    files = _files(root)
    assert (root / "DICOMDIR").is_file()
    assert all("." not in p.name and p.name.startswith("IM") for p in files)
    dicomdir = pydicom.dcmread(root / "DICOMDIR")
    refs = [r.ReferencedFileID for r in dicomdir.DirectoryRecordSequence if "ReferencedFileID" in r]
    assert sorted(Path(*r) for r in refs) == sorted(p.relative_to(root) for p in files)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".stage")]


def test_contrast_start_tag_can_be_left_out(tmp_path, tiny):
    rec = synthesize_case(tmp_path, seed=6, options=dataclasses.replace(tiny, write_contrast_start=False))
    for path in _files(tmp_path / rec["study"]):
        assert "ContrastBolusStartTime" not in pydicom.dcmread(path, stop_before_pixels=True)


def test_video_export(tmp_path, tiny):
    cv2 = pytest.importorskip("cv2")
    rec = synthesize_case(tmp_path, seed=7, options=dataclasses.replace(tiny, video=True))
    clips = sorted((tmp_path / rec["study"]).iterdir())
    assert len(clips) >= 9 and all(p.suffix in (".mp4", ".avi") for p in clips)
    cap = cv2.VideoCapture(str(clips[0]))
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape[:2] == Layout(*tiny.panel_size).size[::-1]


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="contrast_side"):
        PhantomOptions(contrast_side="top")
    with pytest.raises(ValueError, match="panel_size"):
        PhantomOptions(panel_size=(10, 10))
