"""Evidence beside the model: from a study, the model's result and the ROI to ``result.evidence``.

Qt-free and torch-free; the CLI and the app call :func:`compute_evidence` with the analysis they ran, so
the evidence rests on the same slot frames, the same per-slot ROIs and the same clips the model used
(with the early set: nothing after 2:00). Fields and units: docs/evidence.md.
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from ..errors import BadRoi
from ..ingest import FrameError, read_frame
from ..inputs import map_roi, reference_slot
from ..preprocess import Roi, roi_inside
from . import features as F
from .intensity import brightness, linearization_for
from .liver_roi import place_liver_roi
from .pattern import radial_profile
from .readout import disagreement, readout
from .size import crop, diameter_mm, lesion_region
from .tic import FRAMES_PER_CLIP, MAX_ARTERIAL_FRAMES, Sample, mean_patch, measure, plan

log = logging.getLogger(__name__)

PATTERN_AFTER_ARRIVAL_S = 10.0

FIELDS = ("lesion_size_mm", "liver_roi", "liver_rois", "tic", "arrival_s", "time_to_peak_s", "peak_ratio",
          "wash_in_rate", "aphe", "aphe_pattern", "washout_onset_s", "washout_degree", "washout_degree_at",
          "kupffer_ratio", "kupffer_defect", "assumptions", "readout", "disagreement")


@dataclass
class Evidence:
    """``result.evidence``: every value a plain number, string, bool or None (standard JSON)."""

    values: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {k: _clean(self.values.get(k)) for k in FIELDS} | {
            k: _clean(v) for k, v in self.values.items() if k not in FIELDS}


def _clean(v: Any) -> Any:
    """NaN/Infinity → None, numpy scalars → Python, recursively (standard JSON)."""
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(float(v)) else None
    return v


def _roi(v: Any) -> Roi:
    x, y, w, h = (int(a) for a in v)
    return x, y, w, h


def _r(v: float | None, nd: int = 3) -> float | None:
    return None if v is None or not math.isfinite(v) else round(float(v), nd)


def _get(result: Any, key: str) -> Any:
    return result[key] if isinstance(result, Mapping) else getattr(result, key)


def check_liver_roi(liver_roi: Roi, lesion_roi: Roi, shape: tuple[int, ...]) -> list[str]:
    """A user's liver ROI: its centre must lie in the contrast panel (BadRoi); overlap only warns."""
    if not roi_inside(liver_roi, shape):
        raise BadRoi(f"--liver-roi {','.join(map(str, liver_roi))} lies outside the contrast panel "
                     f"({shape[1]}x{shape[0]} px); give X,Y,W,H in contrast-panel pixels")
    x, y, w, h = liver_roi
    lx, ly, lw, lh = lesion_roi
    ox = max(0, min(x + w, lx + lw) - max(x, lx))
    oy = max(0, min(y + h, ly + lh) - max(y, ly))
    if ox * oy > 0.1 * w * h:
        return ["the liver ROI given overlaps the lesion ROI: ratios to the liver are diluted"]
    return []


def compute_evidence(
    study: Any, result: Any, roi: Roi, *, liver_roi: Roi | None = None,
    reader: Callable[[Any, int], np.ndarray] = read_frame,
    per_clip: int = FRAMES_PER_CLIP, max_arterial: int = MAX_ARTERIAL_FRAMES,
) -> Evidence:
    """The evidence for one analysis.

    Parameters
    ----------
    study
        The :class:`ceusdesk.study.Study` the model read.
    result
        The model's result (``AnalysisResult`` or its JSON): ``slots_used``, ``rois`` (per slot, the
        ROIs the model cropped), ``call``, ``phase_set``.
    roi
        The lesion ROI as given, in contrast-panel pixels (the reference panel).
    liver_roi
        The reference liver ROI in the same pixels; default: placed automatically.

    Raises
    ------
    BadRoi
        ``liver_roi``'s centre lies outside the contrast panel.
    """
    protocol = study.protocol
    used = [s for s in _get(result, "slots_used") if study.slots.get(s) is not None
            and protocol.slot(s).kind == "contrast"]
    used.sort(key=lambda s: float(protocol.slot(s).target_s or 0.0))
    rois: dict[str, Roi] = {s: _roi(_get(result, "rois")[s]) for s in used}
    phase_set = _get(result, "phase_set")
    call = _get(result, "call")
    reasons: dict[str, str] = {}
    assumptions: list[str] = []
    ev: dict[str, Any] = {k: None for k in FIELDS}
    ev.update(tic=[], assumptions=assumptions, readout=[], disagreement=None)
    if not used:
        reasons["aphe"] = reasons["washout"] = reasons["kupffer"] = reasons["size"] = "no contrast slot used"
        assumptions.append("no contrast-phase slot was used: no evidence")
        ev["readout"] = readout(ev, reasons)
        return Evidence(ev)

    ref = reference_slot({s: True for s in used}, protocol) or used[0]
    lin_info = linearization_for(*_scanner(study.slots[ref].clip))
    lut = lin_info.lut
    assumptions.append(lin_info.describe())

    # slot frames: linear panel images (decoded one at a time, a few frames in all)
    lin: dict[str, np.ndarray] = {}
    bright: dict[str, np.ndarray] = {}
    for s in used:
        sf = study.slots[s]
        x0, y0, x1, y1 = sf.panel
        try:
            b = brightness(reader(sf.clip, sf.frame_index)[y0:y1, x0:x1])
        except FrameError as err:
            assumptions.append(f"slot {s}: {err}")
            continue
        bright[s], lin[s] = b, lut[b]
    if ref not in lin:
        assumptions.append(f"the reference slot {ref} could not be decoded: no evidence")
        ev["readout"] = readout(ev, reasons)
        return Evidence(ev)
    ref_shape = lin[ref].shape
    same = [s for s in used if s in lin and lin[s].shape == ref_shape]
    base = rois[ref]

    def offset(s: str) -> tuple[int, int]:
        return rois[s][0] - base[0], rois[s][1] - base[1]

    if liver_roi is not None:
        liver_roi = _roi(liver_roi)
        assumptions += check_liver_roi(liver_roi, roi, ref_shape)
        assumptions.append("liver ROI given by the user")
    else:
        liver_roi = place_liver_roi(base, [lin[s] for s in same], [bright[s] for s in same],
                                    [offset(s) for s in same])
        if liver_roi is None:
            why = "no liver region beside the lesion at its depth passed the checks: pass --liver-roi X,Y,W,H"
            assumptions.append(why)
            reasons.update(aphe=why, washout=why, kupffer=why, size=why)
            ev["readout"] = readout(ev, reasons)
            return Evidence(ev)
        assumptions.append("liver ROI placed automatically beside the lesion at the same depth")
    ev["liver_roi"] = list(liver_roi)

    liver_rois: dict[str, Roi] = {}
    for s in used:
        if s not in lin:
            continue
        if lin[s].shape == ref_shape:
            dx, dy = offset(s)
            liver_rois[s] = (liver_roi[0] + dx, liver_roi[1] + dy, liver_roi[2], liver_roi[3])
        else:
            sp = study.slots
            liver_rois[s], _ = map_roi(liver_roi, ref_shape, lin[s].shape, sp[ref].pixel_spacing_cm,
                                       sp[s].pixel_spacing_cm)

    ev["liver_rois"] = {s: list(r) for s, r in liver_rois.items()}  # per slot, for drawing (the app)

    # lesion region: segmented on the slot frame where the lesion stands out most
    patches, liver_means = {}, {}
    for s in same:
        p = crop(lin[s], rois[s])
        lp = crop(lin[s], liver_rois[s])
        if p is not None and lp is not None and p.shape == (base[3], base[2]):
            patches[s], liver_means[s] = p, float(lp.mean())
    if not patches:
        why = "the lesion ROI does not lie inside the contrast panel on any slot frame"
        assumptions.append(why)
        reasons.update(aphe=why, washout=why, kupffer=why, size=why)
        ev["readout"] = readout(ev, reasons)
        return Evidence(ev)
    seg = lesion_region(patches, liver_means)
    if seg.mask is not None:
        assumptions.append(f"lesion region segmented on the {seg.slot} image (the curve reads its core)")
    else:
        assumptions.append(f"lesion region not segmented ({seg.note}): the curve reads a central disk of "
                           "0.56 × the ROI side")
        reasons["size"] = seg.note or "not segmented"
    cores = {s: _resize_mask(seg.core, rois[s]) for s in liver_rois}
    if seg.diameter_px is not None:
        spacing = study.slots[seg.slot].pixel_spacing_cm
        ev["lesion_size_mm"] = _r(diameter_mm(seg.diameter_px, spacing), 1)
        if spacing is None:
            reasons["size"] = "no pixel spacing (Physical Delta X/Y) in the file"

    # the curve
    groups = plan(study, [s for s in used if s in liver_rois], ref, per_clip=per_clip,
                  max_arterial=max_arterial)
    data = measure(study, groups, rois, liver_rois, cores, lut, reader=reader)
    assumptions += [f"frame skipped: {m}" for m in data.skipped]
    samples = data.samples
    ev["tic"] = [{"t_s": _r(x.t_s, 2), "lesion": _r(x.lesion, 5), "liver": _r(x.liver, 5)} for x in samples]
    n_art = sum(x.arterial for x in samples)
    assumptions.append(f"curve: {n_art} frames of the arterial clip, up to {per_clip} frames of each later "
                       "clip "
                       f"({len(samples)} samples)")
    if len(samples) < 2:
        reasons.update(aphe="too few timed frames", washout="too few timed frames")
    else:
        curve = F.Curve.build([x.t_s for x in samples], [x.lesion for x in samples],
                              [x.liver for x in samples], [x.clip_no for x in samples],
                              [x.arterial for x in samples])
        k = F.kinetics(curve)
        assumptions += k.notes or []
        ev.update(arrival_s=_r(k.arrival_s, 1), time_to_peak_s=_r(k.time_to_peak_s, 1),
                  peak_ratio=_r(k.peak_ratio), wash_in_rate=_r(k.wash_in_rate, 6),
                  washout_onset_s=_r(k.washout_onset_s, 1), washout_degree=k.washout_degree,
                  washout_degree_at=k.washout_degree_at, kupffer_ratio=_r(k.kupffer_ratio),
                  kupffer_defect=k.kupffer_defect)
        vascular = [x.t_s for x in samples if x.t_s <= F.VASCULAR_END_S]
        if vascular:
            reasons["last_vascular"] = _fmt_t(max(vascular))
        _aphe(ev, study, samples, seg, liver_rois, lut, reader, reasons)
    if ev["kupffer_defect"] is None:
        if phase_set == "early":
            reasons["kupffer"] = "early set: the model used no 10:00 image"
            assumptions.append("early set: the Kupffer-phase fields are null (no 10:00 image was used) and "
                               "washout is assessed through 2:00 only")
        else:
            reasons["kupffer"] = "no 10:00 frame could be measured"
    assumptions.append(f"thresholds: hyper ≥ {F.HYPER_RATIO}× liver, hypo (washout, defect) < "
                       f"{F.HYPO_RATIO}×, "
                       f"marked ≤ {F.MARKED_RATIO}× within 2:00")
    ev["readout"] = readout(ev, reasons)
    ev["disagreement"] = disagreement(ev, call)
    return Evidence(ev)


def _scanner(clip: Any) -> tuple[str | None, str | None]:
    """(Manufacturer, Manufacturer Model Name) of a clip; the model only DICOM files carry."""
    model = None
    if clip.kind == "dicom":
        from ..ingest.decode import dicom_header

        try:
            model = str(dicom_header(clip.path).get("ManufacturerModelName") or "") or None
        except OSError as err:
            log.warning("%s: header not read again: %s", clip.path, err)
    return clip.manufacturer, model


def _fmt_t(t: float) -> str:
    from ..protocol import format_t

    return format_t(t)


def _resize_mask(mask: np.ndarray, roi: Roi) -> np.ndarray:
    w, h = int(roi[2]), int(roi[3])
    if mask.shape == (h, w):
        return mask
    return cv2.resize(mask.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0


def _aphe(ev: dict[str, Any], study: Any, samples: list[Sample], seg: Any, liver_rois: dict[str, Roi],
          lut: np.ndarray, reader: Callable[[Any, int], np.ndarray], reasons: dict[str, str]) -> None:
    """APHE and its pattern from the frames around the arterial peak (three averaged against speckle):
    the lesion's peak, but no later than ``PATTERN_AFTER_ARRIVAL_S`` after its arrival (a hemangioma's
    nodules merge into a ring, then a disk, as it fills in)."""
    art = [x for x in samples if x.arterial]
    if ev["peak_ratio"] is None or not art:
        reasons.setdefault("aphe", "no arterial peak")
        return
    when = ev["time_to_peak_s"] or 0.0
    if ev["arrival_s"] is not None:  # the pattern shows early: later a filling lesion looks uniform
        when = min(when, ev["arrival_s"] + PATTERN_AFTER_ARRIVAL_S)
    k = min(range(len(art)), key=lambda i: abs(art[i].t_s - when))
    near = art[max(0, k - 1):k + 2]
    patch = mean_patch(study, near, lut, reader=reader)
    liver = float(np.mean([x.liver for x in near]))
    region = seg.mask if seg.mask is not None else seg.core
    profile = None
    if patch is not None and patch.shape == region.shape:
        profile = radial_profile(patch, region, liver)
    rim = profile.rim_ratio if profile is not None else None
    ev["aphe"] = bool(ev["peak_ratio"] >= F.HYPER_RATIO or (rim is not None and rim >= F.HYPER_RATIO))
    ev["aphe_pattern"] = profile.pattern if (ev["aphe"] and profile is not None) else None
