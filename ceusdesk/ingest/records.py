"""The plain records scanning produces: regions, clips, warnings."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

# Region Data Type (0018,6014) values that carry a tissue image (PS3.3 C.8.5.5.1.2)
TISSUE = 1


@dataclass(frozen=True)
class Region:
    """One entry of the Sequence of Ultrasound Regions, in frame pixels, end-exclusive."""

    x0: int
    y0: int
    x1: int
    y1: int
    data_type: int
    physical_delta_x: float | None = None  # cm per pixel, when the units are cm
    physical_delta_y: float | None = None

    @property
    def box(self) -> tuple[int, int, int, int]:
        return self.x0, self.y0, self.x1, self.y1

    @property
    def area(self) -> int:
        return max(0, self.x1 - self.x0) * max(0, self.y1 - self.y0)


@dataclass(eq=False)
class Clip:
    """One readable image source: a DICOM object, a video file or a still image.

    Times: ``start`` is the acquisition start (naive local wall time as the scanner wrote it);
    ``frame_offsets_s[i]`` is frame ``i``'s time in seconds after ``start`` (None when unknown).
    """

    path: Path
    kind: str  # "dicom" | "video" | "still"
    n_frames: int
    rows: int
    cols: int
    start: datetime | None = None
    frame_offsets_s: np.ndarray | None = None
    patient_id: str | None = None
    patient_name: str | None = None  # PHI: never logged
    patient_birth_date: str | None = None  # PHI (DICOM DA, YYYYMMDD): for the report only
    patient_sex: str | None = None  # M | F | O as the header says
    study_uid: str | None = None
    series_uid: str | None = None
    sop_uid: str | None = None
    contrast_start: datetime | None = None
    regions: list[Region] = field(default_factory=list)
    truncated: bool = False
    frames_available: int | None = None  # frames actually present in the pixel data
    photometric: str | None = None
    transfer_syntax: str | None = None
    bits_allocated: int | None = None
    samples_per_pixel: int | None = None
    sop_class: str | None = None
    manufacturer: str | None = None
    timing_source: str | None = None  # which tags gave ``start``
    stream_t0_s: float = 0.0  # video: presentation time of the first frame (offsets are relative to it)

    def frame_time(self, index: int) -> datetime | None:
        """Absolute time of frame ``index`` (the start when per-frame offsets are unknown)."""
        if self.start is None:
            return None
        if self.frame_offsets_s is None:
            return self.start
        return self.start + timedelta(seconds=float(self.frame_offsets_s[index]))

    @property
    def usable_frames(self) -> int:
        """Frames that can be decoded (fewer than ``n_frames`` when truncated)."""
        if self.frames_available is None:
            return self.n_frames
        return min(self.n_frames, self.frames_available)


@dataclass(frozen=True)
class Warn:
    """A problem with one input, in one line that names what is wrong."""

    path: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


@dataclass
class ScanResult:
    clips: list[Clip]
    warnings: list[Warn]
    root: Path
