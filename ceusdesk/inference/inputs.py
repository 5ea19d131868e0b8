"""Study + ROI → model input: THE function the app and the trainer both call.

:func:`case_inputs` takes the slot frames of a :class:`ceusdesk.study.records.Study`, one ROI drawn on the
contrast panel, and an :class:`~ceusdesk.inference.preprocess.InputSpec`; it places the ROI on every slot's
panel
and hands the panels to :func:`ceusdesk.inference.preprocess.case_tensor`.

ROI placement (docs/analyze.md):

- The ROI is given in pixels of the *reference* panel: the first present contrast slot in protocol
  order. Every contrast slot whose panel has the reference's size gets the same coordinates.
- A panel of another size (typically the B-mode clip before injection, acquired at another zoom) is
  mapped through pixel spacing (Physical Delta X/Y, cm per pixel) when both panels have a plausible
  one (:data:`SPACING_CM_RANGE`) — depth from the panel's top edge, lateral position from the panel's
  centre line — else scaled by the panel size ratio, with a warning. A spacing mapping that would make
  the ROI larger than the panel is not trusted either (scaled instead).
- ROI numbers are checked before anything is allocated (:func:`check_roi_numbers`,
  :func:`check_roi_on_panel`): a ROI larger than its panel or with absurd coordinates is refused
  (``BadRoi``, exit 2) instead of becoming a crop of gigabytes.
- ``track_roi``: the lesion is followed from slot to slot in time order by template matching
  (``cv2.matchTemplate`` on speckle-smoothed images), its shift bounded relative to the placed ROI; a
  weak match, or one on the bound, keeps the placed ROI and warns. The B slot is never tracked
  (B-mode and contrast images do not correlate).
- ``rois``: ROIs the user set by hand for single slots, in that slot's own panel pixels. They replace
  the placed ROI of their slot and are never moved by tracking; with tracking on, the next slot is
  matched against the lesion at the hand-set position. Every slot's ROI is reported with its source
  (:data:`ROI_SOURCES`).
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import cv2
import numpy as np

from ceusdesk.base.errors import BadRoi
from ceusdesk.base.protocol import Protocol, default_protocol
from ceusdesk.base.roi import Roi, check_roi_numbers, check_roi_on_panel, roi_inside
from ceusdesk.inference.preprocess import InputSpec, case_tensor, to_gray
from ceusdesk.study.types import SlotFrameLike, StudyLike

log = logging.getLogger(__name__)


MAX_TRACK_SHIFT = 0.5
"""Tracking may move the ROI at most this fraction of its side (per axis) from where it was placed."""


MIN_TRACK_SCORE = 0.3
"""Below this normalized correlation a tracking match is not trusted."""


SPACING_CM_RANGE = (1e-4, 1.0)
"""Plausible ultrasound pixel spacing, cm per pixel (1 µm … 1 cm); outside it a tag is not trusted."""


ROI_SOURCES = ("given", "mapped", "tracked", "user")
"""Where a slot's ROI came from: the given ROI as is (a panel of the reference's size), mapped onto a
panel of another size, moved there by tracking, or set by the user for that slot."""


@dataclass
class CaseInputs:
    """Model input for one case, plus what a user must be told about how it was built."""

    images: np.ndarray  # float32 [n_slots, S, S], protocol order
    mask: np.ndarray  # float32 [n_slots]: 1 where the slot's image is used
    rois: dict[str, Roi]  # slot → (x, y, w, h) in that slot's panel pixels, for the slots used
    warnings: list[str] = field(default_factory=list)
    reference_slot: str | None = None  # the slot whose panel the given ROI refers to
    roi_sources: dict[str, str] = field(default_factory=dict)  # slot → one of ROI_SOURCES


@dataclass
class RoiPlacement:
    """Each slot's ROI, where it came from, and what the user must be told about it."""

    rois: dict[str, Roi]
    sources: dict[str, str]  # slot → one of ROI_SOURCES
    warnings: list[str]
    reference_slot: str


def usable_spacing(sp: Any) -> tuple[float, float] | None:
    """(cm per pixel x, y) when both are numbers within :data:`SPACING_CM_RANGE`, else None."""
    if sp is None:
        return None
    if isinstance(sp, (int, float)):
        sp = (sp, sp)
    try:
        sx, sy = float(sp[0]), float(sp[1])
    except (TypeError, ValueError, IndexError):
        return None
    lo, hi = SPACING_CM_RANGE
    if not (lo <= sx <= hi and lo <= sy <= hi):  # also false for NaN
        return None
    return sx, sy


def _spacing(slot_frame: SlotFrameLike | None) -> tuple[float, float] | None:
    """A SlotFrame's usable pixel spacing (see :func:`usable_spacing`), or None."""
    return None if slot_frame is None else usable_spacing(slot_frame.pixel_spacing_cm)


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
    src_spacing, dst_spacing = usable_spacing(src_spacing), usable_spacing(dst_spacing)
    if src_spacing is not None and dst_spacing is not None:
        fx, fy = src_spacing[0] / dst_spacing[0], src_spacing[1] / dst_spacing[1]
        ncx = dw / 2.0 + (cx - sw / 2.0) * fx
        ncy = cy * fy
        how = "spacing"
        if w * fx > dw or h * fy > dh:  # larger than the panel: the tags disagree with the images
            src_spacing = None
    if src_spacing is None or dst_spacing is None:
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
    study: StudyLike, names: Sequence[str], panels: Mapping[str, np.ndarray | None] | None,
    loader: Callable[[Any], np.ndarray] | None,
) -> dict[str, np.ndarray]:
    """Panel images (uint8, RGB or grey) of the named slots that have a frame."""
    out: dict[str, np.ndarray] = {}
    slots = study.slots
    for name in names:
        if panels is not None and panels.get(name) is not None:
            out[name] = np.asarray(panels[name])
            continue
        sf = slots.get(name)
        if sf is None:
            continue
        if loader is None:
            from ceusdesk.study.frames import (
                panel_image,  # decoded lazily: callers that pass panels need no decoder
            )

            # it reads a real SlotFrame's clip; a study of another slot-frame type passes panels or a loader
            loader = cast(Callable[[Any], np.ndarray], panel_image)
        out[name] = loader(sf)
    return out


def _check_user_rois(
    user: Mapping[str, Roi], protocol: Protocol, imgs: Mapping[str, np.ndarray], warnings: list[str]
) -> dict[str, Roi]:
    """The hand-set ROIs that apply: known slot, usable ROI, centre inside that slot's panel."""
    out: dict[str, Roi] = {}
    for name, r in user.items():
        if name not in protocol.slot_names:
            raise BadRoi(f"ROI for unknown slot {name!r}; slots are {', '.join(protocol.slot_names)}")
        x, y, w, h = check_roi_numbers(r, f"ROI for slot {name}")
        if name not in imgs:
            warnings.append(f"slot {name}: its ROI was set but the slot is not used (no image, or not in "
                            "this phase set)")
            continue
        out[name] = check_roi_on_panel((x, y, w, h), imgs[name].shape, f" for slot {name}")
    return out


def reference_slot(imgs: Mapping[str, Any], protocol: Protocol) -> str | None:
    """The slot whose panel the given ROI refers to: the first contrast slot (protocol order) in ``imgs``."""
    return next((s.name for s in protocol.slots if s.kind == "contrast" and imgs.get(s.name) is not None),
                None)


def roi_to_reference(
    study: StudyLike, roi: Roi, slot: str, imgs: Mapping[str, np.ndarray | None], *,
    protocol: Protocol | None = None,
) -> Roi:
    """An ROI drawn on ``slot``'s panel, expressed in the reference panel's pixels (placing's inverse).

    Identity when ``slot`` is the reference or its panel has the reference's size; otherwise mapped
    as :func:`map_roi` maps (through pixel spacing when both panels have it, else scaled).
    """
    protocol = protocol or study.protocol or default_protocol()
    ref = reference_slot(imgs, protocol)
    if ref is None:
        raise BadRoi("no contrast-phase image is present to place the ROI on")
    on_slot, on_ref = imgs.get(slot), imgs[ref]
    if slot == ref or on_slot is None or on_ref is None:  # on_ref: never None (reference_slot)
        x, y, w, h = (int(v) for v in roi)
        return x, y, w, h
    slots = study.slots
    mapped, _how = map_roi(roi, on_slot.shape, on_ref.shape, _spacing(slots.get(slot)),
                           _spacing(slots.get(ref)))
    return mapped


def place_rois(
    study: StudyLike,
    roi: Roi,
    imgs: Mapping[str, np.ndarray | None],
    *,
    protocol: Protocol | None = None,
    rois: Mapping[str, Roi] | None = None,
    track_roi: bool = False,
) -> RoiPlacement:
    """Place the ROI on every slot image in ``imgs`` (no model input is built; the GUI previews with it).

    ``roi`` is given on the reference panel (the first contrast slot of ``imgs`` in protocol order);
    ``rois`` are hand-set ROIs of single slots in their own panel pixels. See :func:`case_inputs`.
    """
    protocol = protocol or study.protocol or default_protocol()
    shown = {k: v for k, v in imgs.items() if v is not None}
    slots = study.slots
    warnings: list[str] = []
    ref = reference_slot(shown, protocol)
    if ref is None:
        raise BadRoi("no contrast-phase image is present to place the ROI on")
    contrast = [s.name for s in protocol.slots if s.kind == "contrast" and s.name in shown]
    ref_shape = shown[ref].shape
    roi = check_roi_on_panel(roi, ref_shape, panel="the contrast panel")
    user = _check_user_rois(rois or {}, protocol, shown, warnings)
    ref_spacing = _spacing(slots.get(ref))

    placed: dict[str, Roi] = {}
    sources: dict[str, str] = {}
    for name in protocol.slot_names:
        if name not in shown:
            continue
        mapped, how = map_roi(roi, ref_shape, shown[name].shape, ref_spacing, _spacing(slots.get(name)))
        placed[name] = mapped
        sources[name] = "given" if how == "same" else "mapped"
        if name in user:
            continue  # the user placed this one: mapping notes about it do not apply
        if how == "scaled":
            warnings.append(
                f"slot {name}: panel size {shown[name].shape[1]}x{shown[name].shape[0]} differs from the "
                f"contrast panel's {ref_shape[1]}x{ref_shape[0]} and no usable pixel spacing is known; "
                "the ROI was scaled - check its position"
            )
        if not roi_inside(mapped, shown[name].shape):
            warnings.append(f"slot {name}: the ROI falls outside this panel; the image is mostly empty")

    final = {**placed, **user}
    sources.update({name: "user" for name in user})
    if track_roi:
        for name in _track(protocol, contrast, shown, placed, final, warnings, pinned=set(user)):
            sources[name] = "tracked"
    return RoiPlacement(rois=final, sources=sources, warnings=warnings, reference_slot=ref)


def case_inputs(
    study: StudyLike,
    roi: Roi,
    spec: InputSpec,
    *,
    protocol: Protocol | None = None,
    use_slots: Sequence[str] | None = None,
    track_roi: bool = False,
    rois: Mapping[str, Roi] | None = None,
    panels: Mapping[str, np.ndarray | None] | None = None,
    loader: Callable[[Any], np.ndarray] | None = None,
) -> CaseInputs:
    """Build the model input of one case.

    Parameters
    ----------
    study
        A :class:`ceusdesk.study.records.Study`, or any :class:`~ceusdesk.study.types.StudyLike` (``.slots``:
        slot name → SlotFrame or None; a SlotFrame's ``pixel_spacing_cm`` is used for mapping the ROI
        to a panel of another size; ``.protocol``).
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
    rois
        ROIs the user set by hand for single slots (slot → (x, y, w, h) in that slot's panel pixels).
        They replace the placed ROI of their slot and are never moved by tracking; slots not named
        keep the automatic placement. A named slot that is not used is reported in ``warnings``.
    panels
        Already decoded panel images by slot (the GUI's cache, tests); missing ones are decoded.
    loader
        SlotFrame → panel image; default :func:`ceusdesk.study.frames.panel_image`.

    Raises
    ------
    BadRoi
        When no contrast slot is present to place the ROI on, or its centre lies outside that panel;
        when a hand-set ROI names an unknown slot or its centre lies outside its slot's panel.
    """
    protocol = protocol or study.protocol or default_protocol()
    allowed = set(protocol.slot_names if use_slots is None else use_slots)
    names = [n for n in protocol.slot_names if n in allowed]
    imgs = _load_panels(study, names, panels, loader)
    placement = place_rois(study, roi, imgs, protocol=protocol, rois=rois, track_roi=track_roi)
    images, mask = case_tensor(imgs, placement.rois, protocol, spec, use_slots=names)
    for w in placement.warnings:
        log.info("%s", w)
    return CaseInputs(images=images, mask=mask, rois=placement.rois, warnings=placement.warnings,
                      reference_slot=placement.reference_slot, roi_sources=placement.sources)


def _track(
    protocol: Protocol, contrast: list[str], imgs: Mapping[str, np.ndarray], placed: Mapping[str, Roi],
    rois: dict[str, Roi], warnings: list[str], pinned: Collection[str] = (),
) -> list[str]:
    """Update ``rois`` of the contrast slots after the first by chained template matching.

    ``placed`` are the ROIs before tracking (each match is bounded around its slot's placed ROI);
    ``pinned`` slots (set by hand) are never moved, and the slot after one is matched against the
    lesion at the hand-set position (the placed ROI's size centred there). Returns the slots moved.
    """
    by_time = sorted(contrast, key=lambda n: float(protocol.slot(n).target_s or 0.0))
    side = max(placed[by_time[0]][2], placed[by_time[0]][3])
    gray = {n: _smooth(to_gray(imgs[n]), side) for n in by_time}

    def template(name: str) -> Roi:
        if name not in pinned:
            return rois[name]
        x, y, w, h = rois[name]
        pw, ph = placed[name][2], placed[name][3]
        return (int(round(x + w / 2.0 - pw / 2.0)), int(round(y + h / 2.0 - ph / 2.0)), pw, ph)

    tracked: list[str] = []
    prev = by_time[0]
    for name in by_time[1:]:
        if gray[name].shape != gray[prev].shape or name in pinned:
            prev = name  # other geometry, or a hand-set ROI: keep it and restart the chain here
            continue
        found, score = track_shift(gray[prev], template(prev), gray[name], placed[name])
        if score < MIN_TRACK_SCORE:
            warnings.append(f"slot {name}: ROI tracking found no reliable match; the ROI was not moved")
        else:
            rois[name] = found
            tracked.append(name)
        prev = name
    return tracked
