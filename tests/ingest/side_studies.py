"""Dual-display studies that fool a brightness rule: a phantom study, post-processed as a scanner shows it.

:func:`make_side_study` renders a phantom study (uncompressed) and rewrites its dual-display clips: the
contrast panel brightened after arrival (low-MI presets), the B-mode reference dimmed, the tint kept,
removed or moved to the reference, scanner persistence and tissue leaking into the contrast panel, probe
motion, the arterial clip started after arrival, the pre-injection single-panel clip dropped, JPEG
re-encoding; or a deliberately ambiguous study whose two panels show the same B-mode image. Used by the
contrast-side tests and by ``benchmarks/contrast_side.py`` (held-back evaluation).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pydicom

from ceusdesk.phantom import PhantomOptions, synthesize_case
from ceusdesk.phantom.export import encode

SEPIA = np.array([1.0, 0.92, 0.78], np.float32)


@dataclass(frozen=True)
class SideVariant:
    side: str  # where the contrast panel is
    contrast_gain: float = 1.0  # >1: bright contrast once the agent has arrived
    reference_gain: float = 1.0  # <1: dimmed B-mode reference
    tint: str = "keep"  # keep | grey (contrast shown in grey) | swap (grey contrast, sepia reference)
    pre_clip: bool = True  # keep the single-panel pre-injection B-mode clip
    late_arterial: bool = False  # the arterial clip starts after arrival (no wash-in to see)
    persistence: bool = False  # contrast frames averaged with the previous one (bubbles decorrelate less)
    jpeg: bool = False
    tissue_leak: float = 0.0  # share of the B-mode image showing through the contrast panel (higher MI)
    motion_px: int = 0  # probe motion: both panels shift by up to this many pixels from frame to frame
    ambiguous: bool = False  # both panels show the same B-mode image: nothing can tell them apart
    # the single-panel clip is a contrast-only clip taken just before the first dual clip (after
    # injection), and no clip carries Contrast/Bolus Start Time: it must not pass for the B-mode clip
    single_is_contrast: bool = False
    panel_size: tuple[int, int] = (128, 96)
    frames_per_clip: int | None = 3


def make_side_study(root: Path, seed: int, variant: SideVariant, case_id: str | None = None,
                    scanner: str | None = None) -> Path:
    """Write one study under ``root`` and return its folder."""
    kw = {"scanner": scanner} if scanner else {}
    options = PhantomOptions(contrast_side=variant.side, encoding="raw", panel_size=variant.panel_size,
                             frames_per_clip=variant.frames_per_clip, **kw)
    rec = synthesize_case(root, seed=seed, options=options, case_id=case_id or f"side-{seed}")
    folder = root / rec["study"]
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    datasets = [(p, pydicom.dcmread(p)) for p in files]
    datasets.sort(key=lambda pd: str(pd[1].AcquisitionDateTime))
    duals = [(p, ds) for p, ds in datasets if len(ds.SequenceOfUltrasoundRegions) == 2]
    for p, ds in datasets:
        if len(ds.SequenceOfUltrasoundRegions) == 1 and not variant.pre_clip:
            p.unlink()
    for k, (p, ds) in enumerate(duals):
        _rewrite(p, ds, variant, arterial=k == 0)
    if variant.single_is_contrast:
        _contrast_single(folder, duals[0][0], variant.side)
    return folder


def _contrast_single(folder: Path, arterial_path: Path, side: str) -> None:
    """Turn the single-panel clip into contrast-only frames shown just before the arterial clip."""
    art = pydicom.dcmread(arterial_path)
    art_frames = art.pixel_array.reshape(int(art.NumberOfFrames), art.Rows, art.Columns, 3)
    cx0, cy0, cx1, cy1 = _boxes(art)[0 if side == "left" else 1]
    art_start = datetime.strptime(str(art.AcquisitionDateTime), "%Y%m%d%H%M%S.%f")
    for p in sorted(q for q in folder.rglob("*") if q.is_file()):
        ds = pydicom.dcmread(p)
        ds.pop("ContrastBolusStartTime", None)
        if len(ds.SequenceOfUltrasoundRegions) == 1:
            n = int(ds.NumberOfFrames)
            x0, y0, x1, y1 = _boxes(ds)[0]
            frames = np.zeros((n, ds.Rows, ds.Columns, 3), np.uint8)
            for i in range(n):  # later arterial frames, one per frame: bubbles change between them
                src = art_frames[max(len(art_frames) - n + i, 0), cy0:cy1, cx0:cx1]
                frames[i, y0:y1, x0:x1] = cv2.resize(src, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
            start = art_start - timedelta(seconds=n * float(ds.FrameTime) / 1000.0 + 1.0)
            ds.AcquisitionDateTime = start.strftime("%Y%m%d%H%M%S.%f")
            ds.ContentTime = ds.AcquisitionTime = start.strftime("%H%M%S.%f")
            ds.PixelData = frames.tobytes()
        ds.save_as(p, enforce_file_format=True)


def _boxes(ds) -> list[tuple[int, int, int, int]]:
    boxes = [(int(r.RegionLocationMinX0), int(r.RegionLocationMinY0), int(r.RegionLocationMaxX1) + 1,
              int(r.RegionLocationMaxY1) + 1) for r in ds.SequenceOfUltrasoundRegions]
    return sorted(boxes)


def _rewrite(path: Path, ds, v: SideVariant, arterial: bool) -> None:
    frames = ds.pixel_array.reshape(int(ds.NumberOfFrames), ds.Rows, ds.Columns, 3).astype(np.float32)
    left, right = _boxes(ds)
    cbox, rbox = (left, right) if v.side == "left" else (right, left)
    c = _cut(frames, cbox)
    r = _cut(frames, rbox)
    if v.ambiguous:
        c = r.copy()
    else:
        c = c * v.contrast_gain + v.tissue_leak * r
        if v.persistence:
            c[1:] = 0.5 * (c[1:] + c[:-1])
        if v.tint in ("grey", "swap"):
            c = np.repeat((c @ np.array([0.299, 0.587, 0.114], np.float32))[..., None], 3, axis=-1)
        if v.tint == "swap":
            r = r * SEPIA
    r = r * v.reference_gain
    if v.motion_px:
        rng = np.random.default_rng([int(ds.InstanceNumber), v.motion_px])
        for i in range(1, len(c)):  # the same probe moves under both panels
            dy, dx = (int(x) for x in rng.integers(-v.motion_px, v.motion_px + 1, 2))
            c[i] = np.roll(c[i], (dy, dx), axis=(0, 1))
            r[i] = np.roll(r[i], (dy, dx), axis=(0, 1))
    _paste(frames, cbox, c)
    _paste(frames, rbox, r)
    out = np.clip(frames + 0.5, 0, 255).astype(np.uint8)
    if arterial and v.late_arterial and len(out) >= 3:
        drop = len(out) // 2
        out = out[drop:]
        start = datetime.strptime(str(ds.AcquisitionDateTime), "%Y%m%d%H%M%S.%f")
        start += timedelta(seconds=drop * float(ds.FrameTime) / 1000.0)
        ds.AcquisitionDateTime = start.strftime("%Y%m%d%H%M%S.%f")
        ds.ContentTime = ds.AcquisitionTime = start.strftime("%H%M%S.%f")
        ds.NumberOfFrames = len(out)
    ds.PixelData = out.tobytes()
    if v.jpeg:
        encode(ds, out, "jpeg")  # as the phantom's scanners write JPEG Baseline
    ds.save_as(path, enforce_file_format=True)


def _cut(frames: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return frames[:, y0:y1, x0:x1].copy()


def _paste(frames: np.ndarray, box: tuple[int, int, int, int], panel: np.ndarray) -> None:
    x0, y0, x1, y1 = box
    frames[:, y0:y1, x0:x1] = panel
