"""The reference liver ROI: a square of parenchyma beside the lesion, at the same depth.

Contrast signal falls with depth (attenuation that time-gain compensation only partly undoes), so the
liver is sampled at the lesion's depth along the beam: on the arc through the lesion around the probe's
apex (found where the sector's side edges meet; a linear probe's depth is the row). Candidates sit left
and right of the lesion ROI (a gap of :data:`GAP` × its side away), nudged up or down by a quarter of their
side, fully inside the imaged sector.
A candidate is rejected when, on any slot frame, its mean is below :data:`LOW_MEAN` × the median of all
candidates (a vessel, shadow or the edge of the liver: Sonazoid leaves vessels dark from the late phase
on) or more than :data:`DARK_SHARE` of it is dark (a vessel crossing it). The nearest surviving candidate
wins, the more homogeneous one on a tie: that is the liver ROI shown and adjustable. The liver's level is
read over it **and** up to :data:`POOL` - 1 more surviving squares at the same depth, the nearest on the
other side first (see :func:`place_liver_reference`): parenchymal enhancement is patchy on the scale of a
centimetre, and one square can sit on a bright or dark patch by ±10 %, which moves a slowly falling
lesion/liver ratio across the washout threshold by tens of seconds. When nothing survives (a large
lesion leaves no room beside its ROI), a smaller square may reach into the ROI's liver margin
(avoiding its central :data:`INNER` share). None when still nothing survives: the caller then asks
for ``--liver-roi``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ceusdesk.base.roi import Roi

GAP = 0.15
LOW_MEAN = 0.7
DARK_SHARE = 0.12
MIN_SIDE, MAX_SIDE = 12, 48
EDGE_PX = 3  # keep this far from the sector's edge and the panel border
POOL = 4  # squares whose pixels make up the liver's level (the shown ROI first)
INNER = 0.7  # second try: only this central share of the lesion ROI (the lesion, ~1/1.6) is avoided


@dataclass(frozen=True)
class Candidate:
    roi: Roi
    distance: float  # lateral distance from the lesion ROI's centre, px
    cv: float = 0.0  # mean coefficient of variation over the frames (smoothed)


def liver_side(lesion_roi: Roi) -> int:
    return int(np.clip(round(0.8 * min(lesion_roi[2], lesion_roi[3])), MIN_SIDE, MAX_SIDE))


def imaged_mask(frames: Sequence[np.ndarray]) -> np.ndarray:
    """Pixels inside the imaged sector: ever non-black in the frames."""
    seen = np.zeros(frames[0].shape[:2], bool)
    for f in frames:
        seen |= f > 0
    return cv2.morphologyEx(seen.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8)) > 0


def apex_of(imaged: np.ndarray) -> tuple[float, float] | None:
    """Where the sector's straight side edges meet (a convex or phased probe's apex), in panel pixels;
    None for parallel edges (a linear probe: depth is then simply the row)."""
    rows = np.flatnonzero(imaged.any(axis=1))
    if len(rows) < 10:
        return None
    H, W = imaged.shape
    ys, left, right = [], [], []
    for y in rows[len(rows) // 5: len(rows) * 4 // 5]:
        xs = np.flatnonzero(imaged[y])
        if xs[0] > 0 and xs[-1] < W - 1:  # both edges inside the panel on this row
            ys.append(y)
            left.append(xs[0])
            right.append(xs[-1])
    if len(ys) < 10:
        return None
    al, bl = np.polyfit(ys, left, 1)
    ar, br = np.polyfit(ys, right, 1)
    if abs(al - ar) < 0.05:
        return None
    ay = (br - bl) / (al - ar)
    if ay > rows[0]:
        return None  # the edges meet inside the image: not a sector
    return float(al * ay + bl), float(ay)


def candidates(lesion_roi: Roi, shape: Sequence[int], imaged: np.ndarray, side: int | None = None
               ) -> list[Candidate]:
    """Every admissible position (inside the imaged sector, ``EDGE_PX`` from its edge, clear of the lesion
    ROI plus its gap), at the lesion's depth along the beam: on the arc through the lesion's centre around
    the probe's apex."""
    x, y, w, h = lesion_roi
    apex = apex_of(imaged)
    imaged = cv2.erode(imaged.astype(np.uint8), np.ones((2 * EDGE_PX + 1,) * 2, np.uint8)) > 0
    s = side or liver_side(lesion_roi)
    H, W = int(shape[0]), int(shape[1])
    cx, cy = x + w / 2.0, y + h / 2.0
    radius = float(np.hypot(cx - apex[0], cy - apex[1])) if apex is not None else 0.0
    gap = max(3, int(round(GAP * max(w, h))))
    step = max(2, s // 4)
    out: list[Candidate] = []
    lefts = list(range(x - gap - s, -1, -step)) + list(range(x + w + gap, W - s + 1, step))
    for left in lefts:
        mid = left + s / 2.0
        depth_y = cy
        if apex is not None:
            if radius <= abs(mid - apex[0]):
                continue
            depth_y = apex[1] + float(np.sqrt(radius ** 2 - (mid - apex[0]) ** 2))
        for dy in (0, -s // 4, s // 4):
            top = int(round(depth_y - s / 2.0)) + dy
            if top < 0 or top + s > H:
                continue
            box = imaged[top:top + s, left:left + s]
            if box.shape != (s, s) or not box.all():
                continue
            if top < y + h + gap and top + s > y - gap and left < x + w + gap and left + s > x - gap:
                continue  # the arc bends back towards the lesion ROI
            out.append(Candidate((left, top, s, s), abs(mid - cx) + abs(dy)))
    return out


def _smoothed(img: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(img.astype(np.float32), (0, 0), 1.5)


def _patch(img: np.ndarray, roi: Roi, offset: tuple[int, int]) -> np.ndarray | None:
    x, y, w, h = roi
    x, y = x + offset[0], y + offset[1]
    if x < 0 or y < 0 or x + w > img.shape[1] or y + h > img.shape[0]:
        return None
    return img[y:y + h, x:x + w]


def _best(good: list[Candidate]) -> Candidate:
    nearest = min(c.distance for c in good)
    near = [c for c in good if c.distance <= nearest + 1.5 * c.roi[2]]
    return min(near, key=lambda c: (c.cv, c.distance))


def survivors(cands: list[Candidate], frames: Sequence[np.ndarray],
              offsets: Sequence[tuple[int, int]] | None = None) -> list[Candidate]:
    """The candidates that pass the vessel and dark-spot checks on every informative frame."""
    if not cands:
        return []
    offsets = offsets or [(0, 0)] * len(frames)
    ok = np.ones(len(cands), bool)
    cvs = np.zeros(len(cands))
    informative = 0
    for f, off in zip(frames, offsets, strict=True):
        sm = _smoothed(f)
        patches = [_patch(sm, c.roi, off) for c in cands]
        means = np.array([float(p.mean()) if p is not None else 0.0 for p in patches])
        ref = float(np.median(means))
        if ref <= 1e-6:
            continue  # no contrast yet on this frame: it tells nothing about vessels
        informative += 1
        ok &= means >= LOW_MEAN * ref
        for i, patch in enumerate(patches):
            if patch is None:
                continue
            m = max(means[i], 1e-9)
            ok[i] &= float((patch < 0.4 * m).mean()) <= DARK_SHARE
            cvs[i] += float(patch.std()) / m
    if not informative:
        return []  # no signal beside the lesion on any frame: nothing to call liver
    return [Candidate(c.roi, c.distance, float(cvs[i])) for i, c in enumerate(cands) if ok[i]]


def _overlaps(a: Roi, b: Roi) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def pool(shown: Candidate, good: list[Candidate], lesion_centre_x: float, n: int = POOL) -> list[Roi]:
    """``shown`` and up to ``n`` - 1 more non-overlapping survivors, nearest first, alternating sides
    (the other side's nearest comes second: two independent patches of liver)."""
    picked = [shown]

    def left(c: Candidate) -> bool:
        return c.roi[0] + c.roi[2] / 2.0 < lesion_centre_x

    rest = sorted((c for c in good if c is not shown), key=lambda c: c.distance)
    while len(picked) < n:
        free = [c for c in rest if not any(_overlaps(c.roi, p.roi) for p in picked)]
        nxt = next((c for c in free if left(c) != left(picked[-1])), free[0] if free else None)
        if nxt is None:
            break
        picked.append(nxt)
        rest.remove(nxt)
    return [c.roi for c in picked]


def place_liver_reference(lesion_roi: Roi, frames: Sequence[np.ndarray], display: Sequence[np.ndarray],
                          offsets: Sequence[tuple[int, int]] | None = None) -> list[Roi]:
    """The liver reference on the reference panel (the panel ``lesion_roi`` is given on): the shown
    liver ROI first, then the squares pooled with it (:func:`pool`); empty when nothing passed.

    ``frames``: linear images of the slot frames (panels of one size); ``display``: their uint8
    brightness (the imaged sector, fixed to the probe); ``offsets``: each frame's lesion ROI position
    minus ``lesion_roi``'s (tracking), applied to the candidates on that frame.
    """
    imaged = imaged_mask(display)
    good = survivors(candidates(lesion_roi, frames[0].shape, imaged), frames, offsets)
    if not good:  # a large lesion leaves no room: a smaller square, into the ROI's liver margin
        x, y, w, h = lesion_roi
        inner = (int(round(x + w * (1 - INNER) / 2)), int(round(y + h * (1 - INNER) / 2)),
                 int(round(w * INNER)), int(round(h * INNER)))
        good = survivors(candidates(inner, frames[0].shape, imaged, MIN_SIDE), frames, offsets)
    if not good:
        return []
    return pool(_best(good), good, lesion_roi[0] + lesion_roi[2] / 2.0)
