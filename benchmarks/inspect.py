"""Inspect a realistic 9-slot study; print wall time and peak memory against one decoded clip's size.

    python benchmarks/inspect.py                 # builds a study in a temp folder (JPEG Baseline cine)
    python benchmarks/inspect.py --study DIR     # or inspects an existing one (e.g. a phantom --realistic)

The point: inspect decodes only the few frames it needs (panel statistics and the slot frames), so its
peak memory stays far below the size of one decoded clip.
"""
# ruff: noqa: E402  (the sys.path fix below must run before the imports)
from __future__ import annotations

import os
import sys

# this file is named like the stdlib module `inspect`: run as a script, its folder would shadow it
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
sys.path.insert(0, os.path.dirname(_HERE))

import argparse
import io
import resource
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGBaseline8Bit, UltrasoundMultiFrameImageStorage, generate_uid

ROWS, COLS = 480, 640
INJECTION = datetime(2024, 5, 14, 10, 0, 0)
# (start s after injection, seconds long) per clip: B-mode, arterial, then every minute, Kupffer
CLIPS = [(-60, 10), (0, 60), (55, 15), (115, 15), (175, 15), (235, 15), (295, 15), (355, 15), (595, 15)]


def _frame(t: float, rng: np.random.Generator) -> np.ndarray:
    img = np.zeros((ROWS, COLS, 3), np.uint8)
    bmode = np.clip(100 + rng.normal(0, 25, (380, 300)), 0, 255)
    level = 0.0 if t < 12 else min(150.0, 150 * (t - 12) / 18)
    ceus = np.clip(level + rng.normal(0, 20, (380, 300)) * (level / 150), 0, 255)
    img[50:430, 10:310] = bmode[..., None]
    img[50:430, 330:630] = ceus[..., None]
    return img


def _region(x0: int, x1: int) -> Dataset:
    r = Dataset()
    r.RegionSpatialFormat, r.RegionDataType, r.RegionFlags = 1, 1, 0
    r.RegionLocationMinX0, r.RegionLocationMinY0 = x0, 50
    r.RegionLocationMaxX1, r.RegionLocationMaxY1 = x1 - 1, 429  # inclusive
    r.PhysicalUnitsXDirection = r.PhysicalUnitsYDirection = 3
    r.PhysicalDeltaX = r.PhysicalDeltaY = 0.04
    return r


def build_study(folder: Path, fps: float) -> int:
    """Write the clips as JPEG Baseline YBR_FULL_422 cine loops; returns frames of the longest clip."""
    rng = np.random.default_rng(0)
    study_uid = generate_uid()
    longest = 0
    for i, (start, seconds) in enumerate(CLIPS):
        n = int(seconds * fps)
        longest = max(longest, n)
        fragments = []
        for k in range(n):
            buf = io.BytesIO()
            Image.fromarray(_frame(start + k / fps, rng)).save(buf, "JPEG", quality=85, subsampling=1)
            fragments.append(buf.getvalue())
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = UltrasoundMultiFrameImageStorage
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
        ds.SOPClassUID = UltrasoundMultiFrameImageStorage
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        ds.Modality, ds.PatientID, ds.StudyInstanceUID = "US", "BENCH", study_uid
        ds.SeriesInstanceUID = generate_uid()
        t0 = INJECTION + timedelta(seconds=start)
        ds.AcquisitionDateTime = t0.strftime("%Y%m%d%H%M%S")
        ds.ContrastBolusStartTime = INJECTION.strftime("%H%M%S")
        ds.Rows, ds.Columns, ds.SamplesPerPixel = ROWS, COLS, 3
        ds.PhotometricInterpretation, ds.PlanarConfiguration = "YBR_FULL_422", 0
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
        ds.NumberOfFrames, ds.FrameIncrementPointer, ds.FrameTime = n, 0x00181063, 1000.0 / fps
        ds.SequenceOfUltrasoundRegions = [_region(10, 310), _region(330, 630)]
        ds.PixelData = encapsulate(fragments)
        ds["PixelData"].VR = "OB"
        ds.save_as(folder / f"IM{i:06d}", enforce_file_format=True)
    return longest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--study", type=Path, help="inspect this study instead of building one")
    ap.add_argument("--fps", type=float, default=10.0, help="frame rate of the built clips (default 10)")
    args = ap.parse_args()
    from ceusdesk.ingest import scan
    from ceusdesk.study import open_study
    from ceusdesk.study.frames import slot_panels

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.study
        if folder is None:
            folder = Path(tmp)
            t = time.perf_counter()
            build_study(folder, args.fps)
            print(f"built {len(CLIPS)} clips in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        clips = scan(folder).clips
        biggest = max(clips, key=lambda c: c.n_frames * c.rows * c.cols)
        clip_bytes = biggest.n_frames * biggest.rows * biggest.cols * 3
        disk = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        t = time.perf_counter()
        study = open_study(folder)
        panels = slot_panels(study)
        wall = time.perf_counter() - t
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    filled = sum(p is not None for p in panels.values())
    print(f"study: {len(clips)} clips, {disk / 1e6:.1f} MB on disk; phase set {study.phase_set}, "
          f"{filled} slots filled")
    print(f"inspect + slot panels: {wall:.2f} s wall, {study.frames_decoded + filled} frames decoded")
    print(f"peak traced memory {peak / 1e6:.1f} MB vs one decoded clip (uint8 RGB, {biggest.n_frames} "
          f"frames) {clip_bytes / 1e6:.1f} MB: ratio {peak / clip_bytes:.3f}")
    print(f"max RSS grew {(rss1 - rss0) / 1e3:.1f} MB during inspect (ru_maxrss)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
