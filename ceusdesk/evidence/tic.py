"""The time-intensity curve: lesion and liver means over the frames of the clips the model's slots came from.

Every timed frame of the arterial clip is read (at most :data:`MAX_ARTERIAL_FRAMES`, evenly strided
beyond that: decoding is most of the time this takes), and up to :data:`FRAMES_PER_CLIP` frames, evenly
spaced and including the slot frame, of each later clip. Frames are decoded one at a time
(``ceusdesk.ingest.read_frame``): memory stays at a frame or two.

Within a clip the lesion is followed from the slot frame outwards, frame to frame, by the same bounded
template matching the slot ROIs use (``ceusdesk.inference.inputs.track_shift``), within
:data:`CLIP_MAX_SHIFT` of
the slot's ROI (breathing within one clip); a weak match keeps the previous position. The liver ROI
moves with the lesion ROI (breathing moves both).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from ceusdesk.base.roi import Roi
from ceusdesk.evidence.intensity import brightness
from ceusdesk.inference.inputs import track_shift
from ceusdesk.ingest import FrameError, read_frame

log = logging.getLogger(__name__)

MAX_ARTERIAL_FRAMES = 150  # a 45 s sweep keeps >= 3.3 frames/s: arrival and peak to a third of a second
FRAMES_PER_CLIP = 8
TRACK_MIN_SCORE = 0.5  # frame-to-frame: lower than this keeps the previous position
CLIP_MAX_SHIFT = 0.15  # within a clip the lesion stays within this share of its ROI side of the slot's ROI


@dataclass(frozen=True)
class FrameRef:
    slot: str          # the slot whose clip this frame belongs to (its ROI anchors the tracking)
    clip_no: int       # index of the clip in the study's clip list
    index: int         # frame index in the clip
    t_s: float         # seconds after injection
    arterial: bool


@dataclass
class Sample:
    t_s: float
    lesion: float
    liver: float
    clip_no: int
    arterial: bool
    slot: str
    index: int
    roi: Roi


@dataclass
class CurveData:
    samples: list[Sample] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # frames that could not be decoded


def _evenly(indices: Sequence[int], n: int, must: int) -> list[int]:
    if len(indices) <= n:
        return list(indices)
    pick = {indices[int(round(k))] for k in np.linspace(0, len(indices) - 1, n)}
    pick.add(must)
    return sorted(pick)


def plan(study: Any, slots: Sequence[str], arterial_slot: str | None, *,
         per_clip: int = FRAMES_PER_CLIP, max_arterial: int = MAX_ARTERIAL_FRAMES) -> list[list[FrameRef]]:
    """Frames to read, grouped by clip (each group starts its tracking at its slot's frame)."""
    groups: dict[int, list[FrameRef]] = {}
    owner: dict[int, str] = {}
    for slot in slots:
        sf = study.slots.get(slot)
        if sf is None:
            continue
        clip_no = next(i for i, e in enumerate(study.clips) if e.clip is sf.clip)
        if clip_no in owner:
            continue  # one clip filling two slots: read once, tracked from the first slot's frame
        owner[clip_no] = slot
        entry = study.clips[clip_no]
        timed = [i for i in range(sf.clip.usable_frames) if entry.frame_t_s(i) is not None]
        if entry.clip.frame_offsets_s is None:
            timed = [sf.frame_index] if entry.frame_t_s(sf.frame_index) is not None else []
        if not timed:  # a clip placed by hand without any time (video, still): no point on the curve
            continue
        arterial = slot == arterial_slot
        pick = _evenly(timed, max_arterial if arterial else per_clip, sf.frame_index)
        groups[clip_no] = [FrameRef(slot, clip_no, i, float(entry.frame_t_s(i)), arterial) for i in pick]
    return list(groups.values())


def untimed_slots(study: Any, slots: Sequence[str]) -> list[str]:
    """The slots whose frame has no time after injection (assigned by hand, no timing): off the curve."""
    return [s for s in slots if (sf := study.slots.get(s)) is not None and sf.t_s is None]


def _blur(gray: np.ndarray, side: int) -> np.ndarray:
    k = max(3, (side // 10) | 1)
    return cv2.GaussianBlur(gray, (k, k), 0)


def _mean_in(img: np.ndarray, roi: Roi, mask: np.ndarray | None = None) -> float | None:
    x, y, w, h = roi
    H, W = img.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
    if x1 <= x0 or y1 <= y0:
        return None
    patch = img[y0:y1, x0:x1]
    if mask is not None:
        m = mask[y0 - y:y1 - y, x0 - x:x1 - x]
        if not m.any():
            return None
        return float(patch[m].mean())
    return float(patch.mean())


def pooled_mean(img: np.ndarray, rois: Sequence[Roi], dx: int = 0, dy: int = 0) -> float | None:
    """The mean over the pixels of all ``rois`` (moved by ``dx``, ``dy``) that lie in ``img``."""
    total, count = 0.0, 0
    H, W = img.shape
    for x, y, w, h in rois:
        x, y = x + dx, y + dy
        x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, W), min(y + h, H)
        if x1 > x0 and y1 > y0:
            total += float(img[y0:y1, x0:x1].sum(dtype=np.float64))
            count += (x1 - x0) * (y1 - y0)
    return total / count if count else None


def measure(study: Any, groups: list[list[FrameRef]], rois: dict[str, Roi],
            liver_rois: Mapping[str, Sequence[Roi]], cores: dict[str, np.ndarray], lut: np.ndarray,
            reader: Callable[[Any, int], np.ndarray] = read_frame) -> CurveData:
    """Stream the planned frames: per frame the lesion core's linear mean and the liver reference's (the
    pooled pixels of the slot's liver squares, moved with the lesion ROI)."""
    out = CurveData()
    for group in groups:
        slot = group[0].slot
        sf = study.slots[slot]
        x0, y0, x1, y1 = sf.panel
        anchor = rois[slot]
        side = max(anchor[2], anchor[3])
        start = min(range(len(group)), key=lambda k: abs(group[k].index - sf.frame_index))
        # forward from the slot frame, then backward from it
        for backward, order in ((False, group[start:]), (True, group[:start + 1][::-1])):
            prev_gray, prev_roi = None, anchor
            for ref in order:
                try:
                    frame = reader(sf.clip, ref.index)
                except FrameError as err:
                    out.skipped.append(str(err))
                    log.warning("%s", err)
                    continue
                bright = brightness(frame[y0:y1, x0:x1])
                gray = _blur(bright, side)
                roi = prev_roi
                if prev_gray is not None:
                    found, score = track_shift(prev_gray, prev_roi, gray, anchor, CLIP_MAX_SHIFT)
                    if score >= TRACK_MIN_SCORE:
                        roi = found
                prev_gray, prev_roi = gray, roi
                if backward and ref.index == group[start].index:
                    continue  # the slot frame was measured on the way forward
                lin = lut[bright]
                dx, dy = roi[0] - anchor[0], roi[1] - anchor[1]
                lesion = _mean_in(lin, roi, cores[slot])
                liver = pooled_mean(lin, liver_rois[slot], dx, dy)
                if lesion is None or liver is None:
                    continue
                out.samples.append(Sample(ref.t_s, lesion, liver, ref.clip_no, ref.arterial, slot, ref.index,
                                          roi))
    out.samples.sort(key=lambda s: s.t_s)
    return out


def mean_patch(study: Any, samples: Sequence[Sample], lut: np.ndarray,
               reader: Callable[[Any, int], np.ndarray] = read_frame) -> np.ndarray | None:
    """The linear lesion-ROI image averaged over ``samples`` (same clip, same ROI size): less speckle."""
    acc = None
    n = 0
    for s in samples:
        sf = study.slots[s.slot]
        x0, y0, x1, y1 = sf.panel
        try:
            frame = reader(sf.clip, s.index)
        except FrameError as err:
            log.warning("%s", err)
            continue
        lin = lut[brightness(frame[y0:y1, x0:x1])]
        x, y, w, h = s.roi
        if x < 0 or y < 0 or x + w > lin.shape[1] or y + h > lin.shape[0]:
            continue
        patch = lin[y:y + h, x:x + w]
        acc = patch.astype(np.float64) if acc is None else acc + patch
        n += 1
    return None if acc is None else (acc / n).astype(np.float32)
