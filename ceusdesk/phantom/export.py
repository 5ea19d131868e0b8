"""Write clips the way scanners export them: DICOM US multi-frame files, a DICOMDIR tree, or MP4.

Encodings (chosen per clip): JPEG Baseline YBR_FULL_422 (Pillow, quality 90, 4:2:2, encapsulated),
RLE Lossless (pydicom's ``Dataset.compress``) and explicit VR little endian RGB.
"""
from __future__ import annotations

import datetime as dt
import io
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.fileset import FileSet
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import Tag
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    RLELossless,
    generate_uid,
)

from ceusdesk import __version__
from ceusdesk.phantom.scanner import MANUFACTURER

log = logging.getLogger(__name__)

US_MULTIFRAME = UID("1.2.840.10008.5.1.4.1.1.3.1")
ENCODINGS = ("jpeg", "rle", "raw")


@dataclass(frozen=True)
class StudyInfo:
    """Identifiers shared by every file of one study."""

    uid_seed: str            # entropy for deterministic UIDs
    patient_name: str
    patient_id: str
    birth_date: str          # YYYYMMDD
    sex: str
    study_start: dt.datetime  # date and time the examination began
    injection: dt.datetime
    model: str = "synthetic"  # ManufacturerModelName: the virtual scanner (see scanner.py)


@dataclass(frozen=True)
class ClipInfo:
    number: int              # 1-based instance number
    start: dt.datetime       # first frame
    frame_time_s: float
    contrast: bool
    regions: Sequence[tuple[int, int, int, int]]  # [x0, y0, x1, y1) per tissue panel
    cm_per_px: float


def uid(info: StudyInfo, *parts: object) -> UID:
    return generate_uid(entropy_srcs=[info.uid_seed, *map(str, parts)])


def _region(box: tuple[int, int, int, int], cm_per_px: float) -> Dataset:
    x0, y0, x1, y1 = box
    r = Dataset()
    r.RegionSpatialFormat = 1      # 2D tissue image
    r.RegionDataType = 1           # tissue
    r.RegionFlags = 0
    r.RegionLocationMinX0 = x0
    r.RegionLocationMinY0 = y0
    r.RegionLocationMaxX1 = x1 - 1  # inclusive in DICOM
    r.RegionLocationMaxY1 = y1 - 1
    r.PhysicalUnitsXDirection = 3  # cm
    r.PhysicalUnitsYDirection = 3
    r.PhysicalDeltaX = float(cm_per_px)
    r.PhysicalDeltaY = float(cm_per_px)
    r.ReferencePixelX0 = (x1 - x0) // 2
    r.ReferencePixelY0 = 0
    r.ReferencePixelPhysicalValueX = 0.0
    r.ReferencePixelPhysicalValueY = 0.0
    return r


def build_dataset(frames: np.ndarray, study: StudyInfo, clip: ClipInfo,
                  write_contrast_start: bool) -> Dataset:
    """The dataset of one clip with uncompressed RGB pixel data (frames: N×H×W×3 uint8)."""
    n, h, w, _ = frames.shape
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = US_MULTIFRAME
    ds.file_meta.MediaStorageSOPInstanceUID = uid(study, "sop", clip.number)
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds.file_meta.ImplementationVersionName = f"CEUSDESK_{__version__}"[:16]
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "ABDOMINAL", "0001"]
    ds.SOPClassUID = US_MULTIFRAME
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyDate = study.study_start.strftime("%Y%m%d")
    ds.StudyTime = study.study_start.strftime("%H%M%S")
    ds.SeriesDate = ds.StudyDate
    ds.SeriesTime = ds.StudyTime
    ds.ContentDate = clip.start.strftime("%Y%m%d")
    ds.ContentTime = clip.start.strftime("%H%M%S.%f")
    ds.AcquisitionDateTime = clip.start.strftime("%Y%m%d%H%M%S.%f")
    ds.AcquisitionTime = ds.ContentTime
    ds.AccessionNumber = ""
    ds.Modality = "US"
    ds.Manufacturer = MANUFACTURER
    ds.InstitutionName = "Phantom Hospital"
    ds.ReferringPhysicianName = ""
    ds.StudyDescription = "LIVER CEUS"
    ds.SeriesDescription = "Abdomen"
    ds.ManufacturerModelName = study.model
    ds.SoftwareVersions = __version__
    ds.PatientName = study.patient_name
    ds.PatientID = study.patient_id
    ds.PatientBirthDate = study.birth_date
    ds.PatientSex = study.sex
    ds.BodyPartExamined = "ABDOMEN"
    if clip.contrast:
        ds.ContrastBolusAgent = "Sonazoid"
        ds.ContrastBolusRoute = "IV"
        if write_contrast_start:
            ds.ContrastBolusStartTime = study.injection.strftime("%H%M%S")
    ds.FrameTime = round(clip.frame_time_s * 1000.0, 3)
    ds.CineRate = int(round(1.0 / clip.frame_time_s)) if clip.frame_time_s > 0 else 0
    ds.StudyInstanceUID = uid(study, "study")
    ds.SeriesInstanceUID = uid(study, "series")
    ds.StudyID = "1"
    ds.SeriesNumber = 1
    ds.InstanceNumber = clip.number
    ds.SequenceOfUltrasoundRegions = DicomSequence([_region(b, clip.cm_per_px) for b in clip.regions])
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = 0
    ds.NumberOfFrames = n
    ds.FrameIncrementPointer = Tag(0x0018, 0x1063)
    ds.Rows = h
    ds.Columns = w
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = np.ascontiguousarray(frames, dtype=np.uint8).tobytes()
    return ds


def _jpeg_frames(frames: np.ndarray) -> list[bytes]:
    out = []
    for f in frames:
        buf = io.BytesIO()
        Image.fromarray(f, "RGB").save(buf, format="JPEG", quality=90, subsampling=1)  # 1 = 4:2:2
        out.append(buf.getvalue())
    return out


def encode(ds: Dataset, frames: np.ndarray, encoding: str) -> None:
    """Re-encode ``ds``'s pixel data in place (the SOP Instance UID is kept)."""
    if encoding == "raw":
        return
    if encoding == "rle":
        # pydicom expects a single frame without the frame axis (Number of Frames 1)
        arr = frames[0] if frames.shape[0] == 1 else frames
        ds.compress(RLELossless, arr, generate_instance_uid=False)
        return
    if encoding != "jpeg":
        raise ValueError(f"unknown encoding {encoding!r}; expected one of {', '.join(ENCODINGS)}")
    parts = _jpeg_frames(frames)
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.PixelData = encapsulate(parts)
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionRatio = round(frames.nbytes / max(1, sum(map(len, parts))), 2)
    ds.LossyImageCompressionMethod = "ISO_10918_1"


def write_clip(path: Path, frames: np.ndarray, study: StudyInfo, clip: ClipInfo, encoding: str,
               write_contrast_start: bool = True) -> Dataset:
    ds = build_dataset(frames, study, clip, write_contrast_start)
    encode(ds, frames, encoding)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return ds


def write_dicomdir(study_dir: Path, staged: list[Path], study: StudyInfo) -> list[Path]:
    """Move ``staged`` files into a USB-style tree under ``study_dir`` with a DICOMDIR at its root."""
    fs = FileSet()
    fs.UID = uid(study, "fileset")
    fs.ID = "CEUSDESK"
    for p in staged:
        fs.add(p)
    fs.write(study_dir)
    for p in staged:
        p.unlink()
    written = sorted(q for q in study_dir.rglob("*") if q.is_file() and q.name != "DICOMDIR")
    return written


def write_video(path: Path, frames: np.ndarray, fps: float) -> Path:
    """MP4 (mp4v) as exported to USB sticks; falls back to MJPG AVI where MP4 cannot be written."""
    h, w = frames.shape[1:3]
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix, fourcc in ((".mp4", "mp4v"), (".avi", "MJPG")):
        target = path.with_suffix(suffix)
        writer = cv2.VideoWriter(str(target), cv2.VideoWriter.fourcc(*fourcc), fps, (w, h))
        if writer.isOpened():
            for f in frames:
                writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
            writer.release()
            return target
        writer.release()
        target.unlink(missing_ok=True)
    raise RuntimeError(f"{path}: OpenCV can write neither MP4 nor AVI here")


def clean_dir(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)
