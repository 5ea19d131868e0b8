"""Where the images are in a frame: tissue panels from the ultrasound regions, or found in the pixels.

A dual display puts a B-mode panel beside the contrast panel; no tag says which is which and vendors use
either side: :mod:`.sidedecision` decides it from physical cues (:mod:`.sidecues`).
"""
from __future__ import annotations

import cv2
import numpy as np

from ceusdesk.ingest.records import TISSUE, Clip, Region

Box = tuple[int, int, int, int]  # x0, y0, x1, y1, end-exclusive

MIN_PANEL_PX = 32  # smaller tissue regions are thumbnails or icons, not images to analyse
_DARK = 12  # grey level under which a pixel counts as background
_ACTIVE_FRACTION = 0.02  # a row/column with fewer non-background pixels than this is empty
_MIN_GAP_PX = 3
_VALLEY_SHARE = 0.15  # columns this sparse, relative to the median image column, may separate two panels
_DENSITY_PX = 9  # neighbourhood that tells an image (dense) from text and tick marks (thin strokes)


def tissue_panels(clip: Clip) -> list[Region]:
    """Tissue regions big enough to be an image, not nested in another, left to right (at most two)."""
    cands = [r for r in clip.regions if r.data_type == TISSUE and
             r.x1 - r.x0 >= MIN_PANEL_PX and r.y1 - r.y0 >= MIN_PANEL_PX]
    cands.sort(key=lambda r: -r.area)
    kept: list[Region] = []
    for r in cands:
        if not any(_contains(k.box, r.box) for k in kept):
            kept.append(r)
    kept = kept[:2]
    if len(kept) == 2 and _overlap_x(kept[0].box, kept[1].box):
        kept = kept[:1]  # stacked or overlapping tissue regions are not a side-by-side display
    return sorted(kept, key=lambda r: r.x0)


def _contains(outer: Box, inner: Box) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and outer[2] >= inner[2] and outer[3] >= inner[3]


def _overlap_x(a: Box, b: Box) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > 0.5 * min(a[2] - a[0], b[2] - b[0])


def detect_panels(gray: np.ndarray) -> list[Box]:
    """Find one or two image panels in a grey frame (use the maximum over several frames of a clip so a
    still-dark contrast panel shows up): the bounding box of the content, split at an empty vertical gap
    near its middle. Falls back to the whole frame when nothing stands out.

    Content is judged on a density mask (non-background share of a 9×9 neighbourhood over one half):
    burned-in text, depth-scale ticks and labels between the panels are thin strokes and drop out, so
    they neither bridge the gap between two panels nor widen a panel's box.
    """
    h, w = gray.shape[:2]
    mask = cv2.blur((gray > _DARK).astype(np.float32), (_DENSITY_PX, _DENSITY_PX)) > 0.5
    cols = mask.mean(axis=0) > _ACTIVE_FRACTION
    rows = mask.mean(axis=1) > _ACTIVE_FRACTION
    if cols.sum() < MIN_PANEL_PX or rows.sum() < MIN_PANEL_PX:
        return [(0, 0, w, h)]
    x0, x1 = int(np.argmax(cols)), int(w - np.argmax(cols[::-1]))
    gap = _middle_gap(cols[x0:x1])
    if gap is None:  # no empty gap: labels may sit between the panels; look for a sparse valley instead
        share = mask.mean(axis=0)[x0:x1]
        gap = _middle_gap(share > _VALLEY_SHARE * float(np.median(share[share > _ACTIVE_FRACTION])))
    if gap is None:
        return [_trim(mask, (x0, 0, x1, h))]
    g0, g1 = x0 + gap[0], x0 + gap[1]
    boxes = [_trim(mask, (x0, 0, g0, h)), _trim(mask, (g1, 0, x1, h))]
    if any(b[2] - b[0] < MIN_PANEL_PX or b[3] - b[1] < MIN_PANEL_PX for b in boxes):
        return [_trim(mask, (x0, 0, x1, h))]
    # side by side panels share their rows: a dark near field in one must not move its top edge
    top, bottom = min(b[1] for b in boxes), max(b[3] for b in boxes)
    return [(b[0], top, b[2], bottom) for b in boxes]


def _middle_gap(active: np.ndarray) -> tuple[int, int] | None:
    """The widest run of empty columns whose centre lies in the middle 30-70 % of the content."""
    n = len(active)
    best: tuple[int, int] | None = None
    i = 0
    while i < n:
        if active[i]:
            i += 1
            continue
        j = i
        while j < n and not active[j]:
            j += 1
        centre = (i + j) / 2
        wide = best is None or j - i > best[1] - best[0]
        if j - i >= _MIN_GAP_PX and 0.3 * n <= centre <= 0.7 * n and wide:
            best = (i, j)
        i = j
    return best


def _trim(mask: np.ndarray, box: Box) -> Box:
    x0, y0, x1, y1 = box
    sub = mask[y0:y1, x0:x1]
    rows = _drop_edge_labels(np.flatnonzero(sub.mean(axis=1) > _ACTIVE_FRACTION))
    cols = _drop_edge_labels(np.flatnonzero(sub.mean(axis=0) > _ACTIVE_FRACTION))
    if len(rows) == 0 or len(cols) == 0:
        return box
    return x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1


def _drop_edge_labels(active: np.ndarray) -> np.ndarray:
    """Active lines without a small run at either end cut off by a clear gap: a label banner above the
    panel or a scale beside it (at most 20 % of the extent, at least 3 empty lines away)."""
    if len(active) < 2:
        return active
    breaks = np.flatnonzero(np.diff(active) > _MIN_GAP_PX) + 1  # indices where a new run starts
    extent = int(active[-1] - active[0] + 1)
    if len(breaks) and active[breaks[0] - 1] - active[0] + 1 <= 0.2 * extent:
        active = active[breaks[0]:]
        breaks = breaks[1:] - breaks[0]
    if len(breaks) and active[-1] - active[breaks[-1]] + 1 <= 0.2 * extent:
        active = active[:breaks[-1]]
    return active


def panel_mean(gray: np.ndarray, box: Box) -> float:
    x0, y0, x1, y1 = box
    return float(gray[y0:y1, x0:x1].mean())
