"""Lesion segmentation inside the ROI: its size, and the region whose mean the curve follows.

On the slot frame where the lesion differs most from the liver (largest |log(core / liver)|; the next
one when that gives no plausible region), the ROI is
smoothed (speckle), thresholded half-way between the lesion's level and the liver's (in linear power,
where a blurred edge crosses half-way at the true edge), and the connected region at the ROI's centre is
kept, holes filled. Its size is the equivalent diameter (the circle of the same area), in mm through the
pixel spacing. A region that touches most of the ROI's border, or is far smaller or larger than a lesion
the ROI could frame, is not trusted: size None, and the curve uses the default core (a disk of
:data:`CORE_FRACTION` × the ROI side, centred).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..preprocess import Roi

CORE_FRACTION = 0.28  # radius / ROI side: 0.9 × a lesion framed by an ROI of 1.6 diameters
MIN_CONTRAST = 0.15   # |log ratio| (natural log, ~0.65 dB) below which the lesion does not stand out
ERODE = 0.1           # the curve's region: the segmented lesion shrunk by this share of its radius
SMOOTH_MIN_PX = 2.0   # speckle smoothing (Gaussian sigma): averages a few dozen speckle cells


@dataclass
class Segmentation:
    mask: np.ndarray | None           # bool (h, w) in ROI coordinates: the lesion, None when not trusted
    core: np.ndarray                  # bool (h, w): where the lesion's mean is read
    diameter_px: float | None         # equivalent diameter in pixels
    slot: str | None                  # the slot frame it was made on
    note: str | None = None


def default_core(w: int, h: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    return ((xx - cx) / (CORE_FRACTION * w)) ** 2 + ((yy - cy) / (CORE_FRACTION * h)) ** 2 <= 1.0


def crop(img: np.ndarray, roi: Roi) -> np.ndarray | None:
    x, y, w, h = roi
    if x < 0 or y < 0 or x + w > img.shape[1] or y + h > img.shape[0]:
        return None
    return img[y:y + h, x:x + w]


def contrast(patch: np.ndarray, liver_mean: float) -> float:
    """|log(core mean / liver mean)|: how much the lesion stands out on this frame."""
    core = default_core(patch.shape[1], patch.shape[0])
    m = float(patch[core].mean())
    if liver_mean <= 1e-6 or m <= 1e-6:
        return 0.0 if liver_mean <= 1e-6 else float(np.log(liver_mean / 1e-6))
    return abs(float(np.log(m / liver_mean)))


def segment(patch: np.ndarray, liver_mean: float) -> tuple[np.ndarray | None, str | None]:
    """The lesion's mask in a linear ROI image, or (None, why)."""
    h, w = patch.shape
    sigma = max(SMOOTH_MIN_PX, min(w, h) / 30.0)
    sm = cv2.GaussianBlur(patch.astype(np.float32), (0, 0), sigma)
    core = default_core(w, h)
    lesion_level = float(np.median(sm[core]))
    level = 0.5 * (lesion_level + liver_mean)
    inside = sm < level if lesion_level < liver_mean else sm > level
    # the connected region at the centre (the lesion the ROI frames); closing bridges speckle gaps
    k = max(3, int(round(min(w, h) / 16)) | 1)
    inside = cv2.morphologyEx(inside.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    n, labels = cv2.connectedComponents(inside, connectivity=8)
    if n <= 1:
        return None, "no region stands out at the ROI's centre"
    centre_labels = labels[core]
    counts = np.bincount(centre_labels[centre_labels > 0], minlength=n)
    if counts.sum() == 0:
        return None, "no region stands out at the ROI's centre"
    region = labels == int(np.argmax(counts))
    region = _fill_holes(region)
    border = np.concatenate([region[0], region[-1], region[:, 0], region[:, -1]])
    frac = region.sum() / float(w * h)
    if border.mean() > 0.3:
        return None, "the lesion's region reaches the ROI's border (ROI too small or lesion iso)"
    if not 0.03 <= frac <= 0.7:
        return None, "the segmented region is implausibly small or large for this ROI"
    return region, None


def _fill_holes(region: np.ndarray) -> np.ndarray:
    m = region.astype(np.uint8)
    pad = np.pad(m, 1)
    flood = pad.copy()
    cv2.floodFill(flood, None, (0, 0), 1)
    holes = (flood == 0)[1:-1, 1:-1]
    return region | holes


def lesion_region(patches: dict[str, np.ndarray], liver_means: dict[str, float]) -> Segmentation:
    """Segment on the slot whose patch stands out most; the core is the segmentation shrunk by ERODE."""
    if not patches:
        raise ValueError("no slot patch to segment")
    some = next(iter(patches.values()))
    h, w = some.shape
    fallback = default_core(w, h)
    scores = {s: contrast(p, liver_means[s]) for s, p in patches.items() if liver_means.get(s, 0) > 1e-6}
    if not scores:
        return Segmentation(None, fallback, None, None, "no liver signal on any slot frame")
    order = sorted((s for s in scores if scores[s] >= MIN_CONTRAST), key=scores.get, reverse=True)
    if not order:
        return Segmentation(None, fallback, None, None, "the lesion is iso to the liver on every slot frame")
    why = None
    for best in order:  # the most contrasted frame first; the next when its region is not plausible
        mask, why = segment(patches[best], liver_means[best])
        if mask is not None:
            break
    else:
        return Segmentation(None, fallback, None, order[0], why)
    diameter = 2.0 * float(np.sqrt(mask.sum() / np.pi))
    k = int(round(ERODE * diameter / 2.0))
    core = cv2.erode(mask.astype(np.uint8), np.ones((2 * k + 1,) * 2, np.uint8)) > 0 if k > 0 else mask
    if core.sum() < 9:
        core = mask
    return Segmentation(mask, core, diameter, best)


def diameter_mm(diameter_px: float | None, spacing_cm: tuple[float, float] | None) -> float | None:
    """Equivalent diameter in mm (area scaled by both spacings); None without pixel spacing."""
    if diameter_px is None or spacing_cm is None:
        return None
    sx, sy = spacing_cm
    return float(diameter_px * np.sqrt(sx * sy) * 10.0)
