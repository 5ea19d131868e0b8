"""Study + ROI → model input: THE function the app and the trainer both call.

:func:`case_inputs` takes the slot frames of a :class:`ceusdesk.study.Study`, one ROI drawn on the
contrast panel, and an :class:`~ceusdesk.preprocess.InputSpec`; it places the ROI on every slot's panel
and hands the panels to :func:`ceusdesk.preprocess.case_tensor`.

ROI placement (docs/analyze.md):

- The ROI is given in pixels of the *reference* panel: the first present contrast slot in protocol
  order. Every contrast slot whose panel has the reference's size gets the same coordinates.
- A panel of another size (typically the B-mode clip before injection, acquired at another zoom) is
  mapped through pixel spacing (Physical Delta X/Y, cm per pixel) when both panels have it — depth
  from the panel's top edge, lateral position from the panel's centre line — else scaled by the panel
  size ratio, with a warning.
- ``track_roi``: the lesion is followed from slot to slot in time order by template matching
  (``cv2.matchTemplate`` on speckle-smoothed images), its shift bounded relative to the placed ROI; a
  weak match, or one on the bound, keeps the placed ROI and warns. The B slot is never tracked
  (B-mode and contrast images do not correlate).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from .errors import BadRoi
from .preprocess import InputSpec, Roi, case_tensor, roi_inside, to_gray
from .protocol import Protocol, default_protocol

log = logging.getLogger(__name__)

MAX_TRACK_SHIFT = 0.5
"""Tracking may move the ROI at most this fraction of its side (per axis) from where it was placed."""
MIN_TRACK_SCORE = 0.3
"""Below this normalized correlation a tracking match is not trusted."""


@dataclass
class CaseInputs:
    """Model input for one case, plus what a user must be told about how it was built."""

    images: np.ndarray  # float32 [n_slots, S, S], protocol order
    mask: np.ndarray  # float32 [n_slots]: 1 where the slot's image is used
    rois: dict[str, Roi]  # slot → (x, y, w, h) in that slot's panel pixels, for the slots used
    warnings: list[str] = field(default_factory=list)
    reference_slot: str | None = None  # the slot whose panel the given ROI refers to


def _spacing(slot_frame: Any) -> tuple[float, float] | None:
    """(cm per pixel x, y) from a SlotFrame, or None when unknown or not positive."""
    sp = getattr(slot_frame, "pixel_spacing_cm", None)
    if sp is None:
        return None
    if isinstance(sp, (int, float)):
        sp = (sp, sp)
    try:
        sx, sy = float(sp[0]), float(sp[1])
    except (TypeError, ValueError, IndexError):
        return None
    if not (sx > 0 and sy > 0 and np.isfinite(sx) and np.isfinite(sy)):
        return None
    return sx, sy


def map_roi(
    roi: Roi,
    src_shape: Sequence[int],
    dst_shape: Sequence[int],
    src_spacing: tuple[float, float] | None = None,
    dst_spacing: tuple[float, float] | None = None,
) -> tuple[Roi, str]:
    """Map an ROI from one panel to another by panel geometry.

    Returns the mapped ROI and how it was mapped: ``same`` (same panel size), ``spacing`` (through
    cm per pixel; depth from the top edge, lateral from the centre line) or ``scaled`` (size ratio).
    """
    sh, sw = int(src_shape[0]), int(src_shape[1])
    dh, dw = int(dst_shape[0]), int(dst_shape[1])
    x, y, w, h = roi
    if (sh, sw) == (dh, dw):
        return (x, y, w, h), "same"
    cx, cy = x + w / 2.0, y + h / 2.0
    if src_spacing is not None and dst_spacing is not None:
        fx, fy = src_spacing[0] / dst_spacing[0], src_spacing[1] / dst_spacing[1]
        ncx = dw / 2.0 + (cx - sw / 2.0) * fx
        ncy = cy * fy
        how = "spacing"
    else:
        fx, fy = dw / sw, dh / sh
        ncx, ncy = cx * fx, cy * fy
        how = "scaled"
    nw, nh = max(1, round(w * fx)), max(1, round(h * fy))
    return (int(round(ncx - nw / 2.0)), int(round(ncy - nh / 2.0)), int(nw), int(nh)), how


def track_shift(
    prev_gray: np.ndarray, prev_roi: Roi, gray: np.ndarray, anchor: Roi, max_shift: float = MAX_TRACK_SHIFT
) -> tuple[Roi, float]:
    """Find ``prev_roi``'s content of ``prev_gray`` in ``gray`` near ``anchor``.

    The search keeps the ROI within ``max_shift`` × its side of ``anchor`` on each axis. Returns the
    matched ROI (same size as ``prev_roi``) and its normalized correlation (−1…1; −1 when no match
    could be computed, e.g. a flat template or a ROI reaching outside the image, or when the best
    match lies on the bound).
    """
    x, y, w, h = prev_roi
    H, W = gray.shape[:2]
    if x < 0 or y < 0 or x + w > prev_gray.shape[1] or y + h > prev_gray.shape[0]:
        return prev_roi, -1.0
    template = prev_gray[y:y + h, x:x + w]
    if float(template.std()) < 1e-6:
        return prev_roi, -1.0
    ax, ay = anchor[0], anchor[1]
    mx, my = int(round(max_shift * w)), int(round(max_shift * h))
    # candidate top-left corners: within the bound around the anchor and inside the image
    x0, x1 = max(ax - mx, 0), min(ax + mx, W - w)
    y0, y1 = max(ay - my, 0), min(ay + my, H - h)
    if x1 < x0 or y1 < y0:
        return prev_roi, -1.0
    window = gray[y0:y1 + h, x0:x1 + w]
    scores = cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED)
    scores = np.nan_to_num(scores, nan=-1.0, posinf=-1.0, neginf=-1.0)
    _, best, _, (bx, by) = cv2.minMaxLoc(scores)
    nx, ny = x0 + bx, y0 + by
    if abs(nx - ax) >= mx > 0 or abs(ny - ay) >= my > 0:
        return prev_roi, -1.0  # the peak sits on the bound: the true match lies beyond it, or nowhere
    return (nx, ny, w, h), float(best)


def _smooth(gray: np.ndarray, side: int) -> np.ndarray:
    """Blur away speckle (it decorrelates between frames) so matching follows the lesion's shape."""
    k = max(3, (side // 10) | 1)
    return cv2.GaussianBlur(gray, (k, k), 0)


def _load_panels(
    study: Any, names: Sequence[str], panels: Mapping[str, np.ndarray | None] | None,
    loader: Callable[[Any], np.ndarray] | None,
) -> dict[str, np.ndarray]:
    """Panel images (uint8, RGB or grey) of the named slots that have a frame."""
    out: dict[str, np.ndarray] = {}
    slots = getattr(study, "slots", {}) or {}
    for name in names:
        if panels is not None and panels.get(name) is not None:
            out[name] = np.asarray(panels[name])
            continue
        sf = slots.get(name)
        if sf is None:
            continue
        if loader is None:
            from .frames import panel_image  # decoded lazily: callers that pass panels need no decoder

            loader = panel_image
        out[name] = loader(sf)
    return out


def case_inputs(
    study: Any,
    roi: Roi,
    spec: InputSpec,
    *,
    protocol: Protocol | None = None,
    use_slots: Sequence[str] | None = None,
    track_roi: bool = False,
    panels: Mapping[str, np.ndarray | None] | None = None,
    loader: Callable[[Any], np.ndarray] | None = None,
) -> CaseInputs:
    """Build the model input of one case.

    Parameters
    ----------
    study
        A :class:`ceusdesk.study.Study` (anything with ``.slots``: slot name → SlotFrame or None; a
        SlotFrame's ``pixel_spacing_cm`` is used for mapping the ROI to a panel of another size).
    roi
        (x, y, w, h) in pixels of the contrast panel (the first present contrast slot's panel).
    spec
        The model's input spec (size, normalization, preprocess version).
    protocol
        The slot order and kinds; default: ``study.protocol`` or the default protocol. Pass the
        model's protocol when running a model.
    use_slots
        Only these slots are decoded and used (the others get mask 0), e.g. the early set's slots.
    track_roi
        Follow the lesion across contrast slots by template matching with a bounded shift.
    panels
        Already decoded panel images by slot (the GUI's cache, tests); missing ones are decoded.
    loader
        SlotFrame → panel image; default :func:`ceusdesk.frames.panel_image`.

    Raises
    ------
    BadRoi
        When no contrast slot is present to place the ROI on, or its centre lies outside that panel.
    """
    protocol = protocol or getattr(study, "protocol", None) or default_protocol()
    allowed = set(protocol.slot_names if use_slots is None else use_slots)
    names = [n for n in protocol.slot_names if n in allowed]
    imgs = _load_panels(study, names, panels, loader)
    slots = getattr(study, "slots", {}) or {}
    warnings: list[str] = []

    contrast = [s.name for s in protocol.slots if s.kind == "contrast" and s.name in imgs]
    if not contrast:
        raise BadRoi("no contrast-phase image is present to place the ROI on")
    ref = contrast[0]
    ref_shape = imgs[ref].shape
    if not roi_inside(roi, ref_shape):
        raise BadRoi(
            f"ROI {','.join(map(str, roi))} lies outside the contrast panel "
            f"({ref_shape[1]}x{ref_shape[0]} px); give X,Y,W,H in contrast-panel pixels"
        )
    ref_spacing = _spacing(slots.get(ref))

    rois: dict[str, Roi] = {}
    for name in names:
        if name not in imgs:
            continue
        mapped, how = map_roi(roi, ref_shape, imgs[name].shape, ref_spacing, _spacing(slots.get(name)))
        if how == "scaled":
            warnings.append(
                f"slot {name}: panel size {imgs[name].shape[1]}x{imgs[name].shape[0]} differs from the "
                f"contrast panel's {ref_shape[1]}x{ref_shape[0]} and no pixel spacing is known; "
                "the ROI was scaled - check its position"
            )
        if not roi_inside(mapped, imgs[name].shape):
            warnings.append(f"slot {name}: the ROI falls outside this panel; the image is mostly empty")
        rois[name] = mapped

    if track_roi:
        _track(protocol, contrast, imgs, rois, warnings)

    images, mask = case_tensor(imgs, rois, protocol, spec, use_slots=names)
    for w in warnings:
        log.info("%s", w)
    return CaseInputs(images=images, mask=mask, rois=rois, warnings=warnings, reference_slot=ref)


def _track(
    protocol: Protocol, contrast: list[str], imgs: Mapping[str, np.ndarray], rois: dict[str, Roi],
    warnings: list[str],
) -> None:
    """Update ``rois`` of the contrast slots after the reference by chained template matching."""
    by_time = sorted(contrast, key=lambda n: float(protocol.slot(n).target_s or 0.0))
    side = max(rois[by_time[0]][2], rois[by_time[0]][3])
    gray = {n: _smooth(to_gray(imgs[n]), side) for n in by_time}
    prev = by_time[0]
    for name in by_time[1:]:
        if gray[name].shape != gray[prev].shape:
            prev = name  # geometry differs: keep the mapped ROI, restart the chain here
            continue
        found, score = track_shift(gray[prev], rois[prev], gray[name], rois[name])
        if score < MIN_TRACK_SCORE:
            warnings.append(f"slot {name}: ROI tracking found no reliable match; the ROI was not moved")
        else:
            rois[name] = found
        prev = name
