"""Lesion segmentation inside the ROI: its size, and the region whose mean the curve follows.

On the slot frame where the lesion differs most from the liver (largest |log(core / liver)|; the next
one when that gives no plausible region), the ROI is
smoothed (speckle) and the lesion's outline found along rays from its centre, where a step from the
lesion's level to the liver's fits best (see :func:`segment`). Its size is the equivalent diameter (the
circle of the same area), in mm through the pixel spacing. A region that reaches the ROI's border, or is
far smaller or larger than a lesion the ROI could frame, is not trusted: size None, and the curve uses
the default core (a disk of :data:`CORE_FRACTION` × the ROI side, centred).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ceusdesk.base.roi import Roi

CORE_FRACTION = 0.28  # radius / ROI side: 0.9 × a lesion framed by an ROI of 1.6 diameters
MIN_CONTRAST = 0.15   # |log ratio| (natural log, ~0.65 dB) below which the lesion does not stand out
ERODE = 0.1           # the curve's region: the segmented lesion shrunk by this share of its radius
SMOOTH_MIN_PX = 2.0   # speckle smoothing (Gaussian sigma): averages a few dozen speckle cells
CENTRE_FRACTION = 0.15  # the lesion's level is read in a central disk of this radius / ROI side
RAYS = 64
RAY_CLIP = 0.4
DEVIATION_SCALE = 0.2  # rms log departure (~0.9 dB) above which the multi-phase departure is compressed
LOG_FLOOR = 0.1  # intensities below this share of the liver's count as this share


@dataclass
class Segmentation:
    mask: np.ndarray | None           # bool (h, w) in ROI coordinates: the lesion, None when not trusted
    core: np.ndarray                  # bool (h, w): where the lesion's mean is read
    diameter_px: float | None         # equivalent diameter in pixels
    slot: str | None                  # the slot frame it was made on (with ``phases``: the most contrasted)
    note: str | None = None
    phases: int = 1                   # how many slot frames the outline rests on


def deviation_map(patches: dict[str, np.ndarray], liver_means: dict[str, float]) -> np.ndarray | None:
    """Per pixel, how far its enhancement over the phases departs from the liver's: the root mean square,
    over the slot frames, of log(smoothed intensity / the liver's level). Liver sits near 0 on every
    frame; a lesion departs on some (hyper in the arterial phase, hypo later, a necrotic centre on all),
    so a lesion that is iso on one frame or patchy on another still stands out as a whole. None with
    fewer than two usable frames."""
    logs = []
    for s, patch in patches.items():
        liver = liver_means.get(s, 0.0)
        if liver <= 1e-6:
            continue
        h, w = patch.shape
        sm = cv2.GaussianBlur(patch.astype(np.float32), (0, 0), max(SMOOTH_MIN_PX, min(w, h) / 30.0))
        logs.append(np.log(np.maximum(sm, LOG_FLOOR * liver) / liver))
    if len(logs) < 2:
        return None
    return np.sqrt(np.mean(np.square(np.stack(logs)), axis=0))


def segment_deviation(dev: np.ndarray) -> tuple[np.ndarray | None, str | None]:
    """The lesion's mask from a :func:`deviation_map`: the star-shaped region around the ROI's centre
    where the departure sits at the centre's level, against the level outside the ROI's inscribed
    circle (its liver margin)."""
    # compressed: a necrotic centre departs far more than the viable rim around it, and a step fit on the
    # raw departure would outline the necrosis alone; on log(1 + D / scale) both sit well above the liver
    dev = np.log1p(dev / DEVIATION_SCALE)
    h, w = dev.shape
    yy, xx = np.mgrid[0:h, 0:w]
    rr = np.hypot(xx - (w - 1) / 2.0, yy - (h - 1) / 2.0) / (0.5 * min(w, h))
    inside = float(np.median(dev[default_core(w, h, CENTRE_FRACTION)]))
    margin = dev[rr >= 0.9]
    outside = float(np.median(margin)) if margin.size else 0.0
    if inside - outside < MIN_CONTRAST:
        return None, "the lesion's enhancement over the phases does not depart from the liver's"
    return _star_region(dev, inside, outside)


def default_core(w: int, h: int, fraction: float = CORE_FRACTION) -> np.ndarray:
    """A centred ellipse of radii ``fraction`` × the ROI's width and height."""
    yy, xx = np.mgrid[0:h, 0:w]
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    return ((xx - cx) / (fraction * w)) ** 2 + ((yy - cy) / (fraction * h)) ** 2 <= 1.0


def crop(img: np.ndarray, roi: Roi) -> np.ndarray | None:
    x, y, w, h = roi
    if x < 0 or y < 0 or x + w > img.shape[1] or y + h > img.shape[0]:
        return None
    return img[y:y + h, x:x + w]


def contrast(patch: np.ndarray, liver_mean: float) -> float:
    """How much the whole lesion stands out on this frame: the smaller |log(level / liver)| of its centre
    and of the ring around it, 0 when they lie on opposite sides of the liver (a rim, nodules, a lesion
    filling in: no single outline to find there)."""
    if liver_mean <= 1e-6:
        return 0.0
    h, w = patch.shape
    centre = default_core(w, h, CENTRE_FRACTION)
    ring = default_core(w, h) & ~centre
    c = np.log(max(float(patch[centre].mean()), 1e-9) / liver_mean)
    a = np.log(max(float(patch[ring].mean()), 1e-9) / liver_mean)
    if c * a <= 0:
        return 0.0
    return float(min(abs(c), abs(a)))


def segment(patch: np.ndarray, liver_mean: float) -> tuple[np.ndarray | None, str | None]:
    """The lesion's mask in a linear ROI image, or (None, why).

    Star-shaped: along :data:`RAYS` rays from the centre to the ROI's inscribed circle (liver there,
    when the ROI frames the lesion with a margin), the boundary is where a step from the lesion's level to
    the liver's fits the ray's profile best. Rays that run into a vessel or a neighbour are outliers,
    clipped to within :data:`RAY_CLIP` of the median radius. Then once more from the region's centroid.
    """
    h, w = patch.shape
    sigma = max(SMOOTH_MIN_PX, min(w, h) / 30.0)
    sm = cv2.GaussianBlur(patch.astype(np.float32), (0, 0), sigma)
    lesion_level = float(np.median(sm[default_core(w, h, CENTRE_FRACTION)]))
    if abs(np.log(max(lesion_level, 1e-9) / liver_mean)) < MIN_CONTRAST:
        return None, "the lesion does not stand out from the liver at the ROI's centre"
    floor = LOG_FLOOR * liver_mean  # display-black pixels would otherwise weigh without bound in log
    logv = np.log(np.maximum(sm, floor))
    return _star_region(logv, np.log(max(lesion_level, floor)), np.log(liver_mean))


def _star_region(values: np.ndarray, inside: float, outside: float) -> tuple[np.ndarray | None, str | None]:
    """The star-shaped region around the ROI's centre where ``values`` sit at the ``inside`` level (rays,
    step fits, outlier clipping, once more from the centroid), or (None, why)."""
    h, w = values.shape
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    mask = np.zeros((h, w), np.uint8)
    for _ in range(2):
        radii, hit_edge = _ray_radii(values, cx, cy, inside, outside)
        if hit_edge > 0.25:
            return None, "the lesion's region reaches the ROI's border (ROI too small or lesion iso)"
        med = float(np.median(radii))
        if med < 2.0:
            return None, "no region stands out at the ROI's centre"
        radii = np.clip(radii, (1 - RAY_CLIP) * med, (1 + RAY_CLIP) * med)
        theta = np.linspace(0, 2 * np.pi, RAYS, endpoint=False)
        poly = np.stack([cx + radii * np.cos(theta), cy + radii * np.sin(theta)], axis=1)
        mask = np.zeros((h, w), np.uint8)
        cv2.fillPoly(mask, [np.round(poly * 4).astype(np.int32)], 1, shift=2)
        ys, xs = np.nonzero(mask)
        if not len(xs):
            return None, "no region stands out at the ROI's centre"
        cx, cy = float(xs.mean()), float(ys.mean())
    frac = mask.sum() / float(w * h)
    if not 0.02 <= frac <= 0.6:
        return None, "the segmented region is implausibly small or large for this ROI"
    return mask > 0, None


def _ray_radii(values: np.ndarray, cx: float, cy: float, inside: float, outside: float
               ) -> tuple[np.ndarray, float]:
    """Per ray, the radius that best splits its profile into the ``inside`` level and the ``outside`` one
    (least squares), and the share of rays whose best split lies at the inscribed circle (the lesion
    reaches the ROI's edge)."""
    h, w = values.shape
    r_max = 0.5 * min(w, h) - 1.0
    steps = np.arange(0.0, r_max, 0.5)
    theta = np.linspace(0, 2 * np.pi, RAYS, endpoint=False)
    xs = np.clip(cx + np.outer(np.cos(theta), steps), 0, w - 1)
    ys = np.clip(cy + np.outer(np.sin(theta), steps), 0, h - 1)
    vals = cv2.remap(values.astype(np.float32), xs.astype(np.float32), ys.astype(np.float32),
                     cv2.INTER_LINEAR)
    in_cost = np.cumsum((vals - inside) ** 2, axis=1)
    out_cost = np.cumsum(((vals - outside) ** 2)[:, ::-1], axis=1)[:, ::-1]
    # split k: samples < k inside, >= k outside
    n = len(steps)
    cost = np.zeros((RAYS, n + 1))
    cost[:, 1:] += in_cost
    cost[:, :n] += out_cost
    k = np.argmin(cost, axis=1)
    radii = np.where(k > 0, steps[np.clip(k - 1, 0, n - 1)] + 0.25, 0.0)
    return radii, float(np.mean(k >= n - 1))


def lesion_region(patches: dict[str, np.ndarray], liver_means: dict[str, float]) -> Segmentation:
    """Segment on all slot frames together (:func:`deviation_map`); when that finds no plausible region,
    on the slot whose patch stands out most. The core is the segmentation shrunk by ERODE."""
    if not patches:
        raise ValueError("no slot patch to segment")
    some = next(iter(patches.values()))
    h, w = some.shape
    fallback = default_core(w, h)
    scores = {s: contrast(p, liver_means[s]) for s, p in patches.items() if liver_means.get(s, 0) > 1e-6}
    if not scores:
        return Segmentation(None, fallback, None, None, "no liver signal on any slot frame")
    order = sorted((s for s in scores if scores[s] >= MIN_CONTRAST), key=lambda s: scores[s], reverse=True)
    if not order:
        return Segmentation(None, fallback, None, None, "the lesion is iso to the liver on every slot frame")
    why = None
    single, best = None, order[0]
    for slot in order:  # the most contrasted frame first; the next when its region is not plausible
        single, why = segment(patches[slot], liver_means[slot])
        if single is not None:
            best = slot
            break
    dev = deviation_map({s: patches[s] for s in scores}, liver_means)
    joint, why_joint = segment_deviation(dev) if dev is not None else (None, None)
    # a lesion with an inner structure (a necrotic centre, a hemangioma's unfilled centre, a hypervascular
    # ring) is outlined by its inner part on one of the two and as a whole on the other: keep the larger
    candidates = [(m, n) for m, n in ((single, 1), (joint, len(scores))) if m is not None]
    if not candidates:
        return Segmentation(None, fallback, None, order[0], why or why_joint)
    mask, phases = max(candidates, key=lambda c: int(c[0].sum()))
    diameter = 2.0 * float(np.sqrt(mask.sum() / np.pi))
    k = int(round(ERODE * diameter / 2.0))
    core = cv2.erode(mask.astype(np.uint8), np.ones((2 * k + 1,) * 2, np.uint8)) > 0 if k > 0 else mask
    if core.sum() < 9:
        core = mask
    return Segmentation(mask, core, diameter, best, phases=phases)


def diameter_mm(diameter_px: float | None, spacing_cm: tuple[float, float] | None) -> float | None:
    """Equivalent diameter in mm (area scaled by both spacings); None without pixel spacing."""
    if diameter_px is None or spacing_cm is None:
        return None
    sx, sy = spacing_cm
    return float(diameter_px * np.sqrt(sx * sy) * 10.0)
