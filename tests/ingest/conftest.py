"""Fixtures: a small DICOM writer for CEUS clips as scanners export them, and studies built with it.

Images are tiny (96 x 160) so a nine-clip study is a few hundred kB. A dual display puts a B-mode
panel (stable grey texture) beside a contrast panel (black before arrival, bright after, then fading).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    UltrasoundMultiFrameImageStorage,
    generate_uid,
)

sys.path.insert(0, str(Path(__file__).parent))

ROWS, COLS = 96, 160
LEFT = (8, 8, 76, 88)  # panel boxes, end-exclusive
RIGHT = (84, 8, 152, 88)
INJECTION = datetime(2024, 5, 14, 10, 0, 0)
ARRIVAL_S = 12.0


def contrast_level(t_s: float) -> float:
    """Mean brightness of liver in the contrast panel t_s seconds after injection."""
    if t_s < ARRIVAL_S:
        return 0.0
    if t_s < 30:
        return 150.0 * (t_s - ARRIVAL_S) / (30 - ARRIVAL_S)
    return max(70.0, 150.0 - 0.15 * (t_s - 30))


def _texture(seed: int, box: tuple[int, int, int, int]) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = box[3] - box[1], box[2] - box[0]
    return rng.normal(0, 12, size=(h, w))


def make_frame(t_s: float, layout: str, seed: int = 0) -> np.ndarray:
    """One RGB frame. layout: 'left'/'right' (dual, contrast on that side), 'bmode' or 'contrast'."""
    img = np.zeros((ROWS, COLS, 3), np.uint8)
    bmode_box, ceus_box = (RIGHT, LEFT) if layout == "left" else (LEFT, RIGHT)
    if layout == "bmode":
        bmode_box, ceus_box = (8, 8, 152, 88), None
    if layout == "contrast":
        bmode_box, ceus_box = None, (8, 8, 152, 88)
    if bmode_box:
        x0, y0, x1, y1 = bmode_box
        img[y0:y1, x0:x1] = np.clip(110 + _texture(seed, bmode_box), 0, 255)[..., None]
    if ceus_box:
        x0, y0, x1, y1 = ceus_box
        level = contrast_level(t_s)
        noise = _texture(seed + 1, ceus_box) * (level / 150.0)
        img[y0:y1, x0:x1] = np.clip(level + noise + 2, 0, 255)[..., None]
    return img


def _region(box: tuple[int, int, int, int]) -> Dataset:
    r = Dataset()
    r.RegionSpatialFormat = 1
    r.RegionDataType = 1
    r.RegionFlags = 0
    r.RegionLocationMinX0, r.RegionLocationMinY0 = box[0], box[1]
    r.RegionLocationMaxX1, r.RegionLocationMaxY1 = box[2] - 1, box[3] - 1  # inclusive in DICOM
    r.PhysicalUnitsXDirection = r.PhysicalUnitsYDirection = 3
    r.PhysicalDeltaX = r.PhysicalDeltaY = 0.05
    return r


@dataclass
class ClipSpec:
    start_s: float  # relative to INJECTION
    n_frames: int = 8
    frame_time_ms: float | None = 1000.0
    layout: str = "right"
    patient_id: str = "P0001"
    study_uid: str = "1.2.826.0.1.3680043.8.498.1"
    regions: bool = True
    contrast_start: bool = False
    frame_time_vector: list[float] | None = None
    timing: bool = True


def write_clip(path: Path, spec: ClipSpec, *, sop_uid: str | None = None, big_endian: bool = False,
               seed: int = 0) -> Path:
    """Write a US multi-frame RGB clip as a scanner would; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    start = INJECTION + timedelta(seconds=spec.start_s)
    offsets = np.zeros(spec.n_frames)
    if spec.frame_time_vector is not None:
        offsets = np.cumsum(spec.frame_time_vector) / 1000.0
    elif spec.frame_time_ms:
        offsets = np.arange(spec.n_frames) * spec.frame_time_ms / 1000.0
    frames = [make_frame(spec.start_s + float(o), spec.layout, seed) for o in offsets]
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = sop_uid or generate_uid()
    ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian if big_endian else ExplicitVRLittleEndian
    ds.SOPClassUID = UltrasoundMultiFrameImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "US"
    ds.Manufacturer = "ceusdesk-test"
    ds.PatientID = spec.patient_id
    ds.PatientName = "Test^Patient"
    ds.StudyInstanceUID = spec.study_uid
    ds.SeriesInstanceUID = generate_uid()
    ds.StudyDate = INJECTION.strftime("%Y%m%d")
    ds.StudyTime = "095500"
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.AccessionNumber = ""
    if spec.timing:
        ds.AcquisitionDateTime = start.strftime("%Y%m%d%H%M%S.%f")
        ds.ContentDate = start.strftime("%Y%m%d")
        ds.ContentTime = start.strftime("%H%M%S.%f")
    if spec.contrast_start:
        ds.ContrastBolusAgent = "Sonazoid"
        ds.ContrastBolusStartTime = INJECTION.strftime("%H%M%S")
    ds.Rows, ds.Columns = ROWS, COLS
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.NumberOfFrames = spec.n_frames
    if spec.frame_time_vector is not None:
        ds.FrameIncrementPointer = 0x00181065
        ds.FrameTimeVector = [float(v) for v in spec.frame_time_vector]
    elif spec.frame_time_ms:
        ds.FrameIncrementPointer = 0x00181063
        ds.FrameTime = spec.frame_time_ms
    if spec.regions:
        boxes = [LEFT, RIGHT] if spec.layout in ("left", "right") else [(8, 8, 152, 88)]
        ds.SequenceOfUltrasoundRegions = [_region(b) for b in boxes]
    ds.PixelData = np.stack(frames).tobytes()
    ds.save_as(path, enforce_file_format=True, little_endian=not big_endian, implicit_vr=False)
    return path


# a study: clips at these seconds after injection (jittered per-minute), each 8-10 s long
JITTERED = [(-70.0, 6), (1.0, 40), (56.0, 10), (117.0, 10), (183.0, 8), (236.0, 10), (304.0, 8),
            (357.0, 8), (482.0, 8), (596.0, 8)]


def write_study(folder: Path, *, layout: str = "right", contrast_start: bool = True,
                clips: list[tuple[float, int]] | None = None, **spec_kw) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (t, n) in enumerate(clips or JITTERED):
        spec = ClipSpec(start_s=t, n_frames=n, layout=layout, contrast_start=contrast_start, **spec_kw)
        paths.append(write_clip(folder / f"IM{i:06d}", spec, seed=i))
    return paths


@pytest.fixture
def study_dir(tmp_path: Path) -> Path:
    """Nine slots' worth of jittered clips, contrast on the right, Contrast/Bolus Start Time set."""
    write_study(tmp_path / "study")
    return tmp_path / "study"


def data_file(name: str) -> Path:
    """A real scanner file from pydicom-data (installed with the dev extra; nothing is downloaded)."""
    data_store = pytest.importorskip("data_store")
    return Path(data_store.DataStore().get_path(name))
