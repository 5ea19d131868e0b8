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

from ceusdesk.base.errors import BadRoi
from ceusdesk.base.roi import Roi, roi_inside
from ceusdesk.evidence import features as F
from ceusdesk.evidence.intensity import brightness, linearization_for
from ceusdesk.evidence.liver_roi import place_liver_reference
from ceusdesk.evidence.pattern import radial_profile
from ceusdesk.evidence.readout import disagreement, readout
from ceusdesk.evidence.size import crop, diameter_mm, lesion_region
from ceusdesk.evidence.tic import (
    FRAMES_PER_CLIP,
    MAX_ARTERIAL_FRAMES,
    Sample,
    mean_patch,
    measure,
    plan,
    pooled_mean,
    untimed_slots,
)
from ceusdesk.inference.inputs import map_roi, reference_slot
from ceusdesk.ingest import FrameError, read_frame

log = logging.getLogger(__name__)

PATTERN_AFTER_ARRIVAL_S = 10.0

FIELDS = ("lesion_size_mm", "liver_roi", "liver_rois", "liver_reference", "tic", "arrival_s",
          "time_to_peak_s", "peak_ratio", "wash_in_rate", "aphe", "aphe_pattern", "aphe_pattern_at_s",
          "aphe_centre_ratio", "aphe_periphery_ratio", "washout_onset_s",
          "washout_onset_range_s", "washout_degree", "washout_degree_at", "kupffer_ratio",
          "kupffer_ratio_range", "kupffer_defect", "kupffer_defect_borderline", "ratio_uncertainty",
          "assumptions", "readout", "disagreement", "version")
"""Every key of ``result.evidence``, present (null where not measured) whichever way the computation ends."""
VERSION = 2
"""Bumped when a change moves the measured values (2: pooled liver reference, lesion outlined on all
phases, ranges); caches of evidence (the trainer's) key on it."""
ASSUMED_REFERENCE_SD = 0.10
"""Relative SD of the liver's level between squares, assumed (parenchymal enhancement varies by about
±10 % between centimetre-sized patches): alone for a single square or the user's ROI, and as a prior worth
:data:`PRIOR_DF` degrees of freedom beside the spread measured between a few squares."""
PRIOR_DF = 4
ON_LESION_MAX = 0.5
"""A liver ROI with more than this share of its pixels on the lesion, or covering more than this share
of the lesion, gives no ratios (the user's; the automatic one never overlaps the lesion ROI)."""


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
        The :class:`ceusdesk.study.records.Study` the model read.
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
    ev.update(tic=[], assumptions=assumptions, readout=[], disagreement=None, version=VERSION)
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
        reference = [liver_roi]
    else:
        reference = place_liver_reference(base, [lin[s] for s in same], [bright[s] for s in same],
                                          [offset(s) for s in same])
        liver_roi = reference[0] if reference else None
        if liver_roi is None:
            why = "no liver region beside the lesion at its depth passed the checks: pass --liver-roi X,Y,W,H"
            assumptions.append(why)
            reasons.update(aphe=why, washout=why, kupffer=why, size=why)
            ev["readout"] = readout(ev, reasons)
            return Evidence(ev)
        more = (f"over it and {len(reference) - 1} more square{'s' if len(reference) > 2 else ''} of liver "
                "at that depth (liver_reference)" if len(reference) > 1 else
                "over it alone (no other square of liver at that depth passed the checks)")
        assumptions.append(f"liver ROI placed automatically beside the lesion at the same depth; the liver's "
                           f"level is read {more}")
    ev["liver_roi"] = list(liver_roi)
    ev["liver_reference"] = [list(r) for r in reference]

    references: dict[str, list[Roi]] = {}  # per slot: the reference squares in that slot's panel pixels
    for s in used:
        if s not in lin:
            continue
        if lin[s].shape == ref_shape:
            dx, dy = offset(s)
            references[s] = [(r[0] + dx, r[1] + dy, r[2], r[3]) for r in reference]
        else:
            sp = study.slots
            references[s] = [map_roi(r, ref_shape, lin[s].shape, sp[ref].pixel_spacing_cm,
                                     sp[s].pixel_spacing_cm)[0] for r in reference]
    liver_rois = {s: r[0] for s, r in references.items()}

    ev["liver_rois"] = {s: list(r) for s, r in liver_rois.items()}  # per slot, for drawing (the app)

    # lesion region: segmented on the slot frame where the lesion stands out most
    patches, liver_means = {}, {}
    for s in same:
        p = crop(lin[s], rois[s])
        lm = pooled_mean(lin[s], references[s])
        if p is not None and lm is not None and p.shape == (base[3], base[2]):
            patches[s], liver_means[s] = p, lm
    if not patches:
        why = "the lesion ROI does not lie inside the contrast panel on any slot frame"
        assumptions.append(why)
        reasons.update(aphe=why, washout=why, kupffer=why, size=why)
        ev["readout"] = readout(ev, reasons)
        return Evidence(ev)
    seg = lesion_region(patches, liver_means)
    if seg.mask is not None:
        on = (f"on {seg.phases} slot images together (where its enhancement departs from the liver's)"
              if seg.phases > 1 else f"on the {seg.slot} image")
        assumptions.append(f"lesion region segmented {on} (the curve reads its core)")
    else:
        assumptions.append(f"lesion region not segmented ({seg.note}): the curve reads a central disk of "
                           "0.56 × the ROI side")
        reasons["size"] = seg.note or "not segmented"
    cores = {s: _resize_mask(seg.core, rois[s]) for s in liver_rois}
    if seg.diameter_px is not None:
        spacing = study.slots[seg.slot].pixel_spacing_cm
        ev["lesion_size_mm"] = _r(diameter_mm(seg.diameter_px, spacing), 1)
        if spacing is None:  # a size in pixels means nothing to a reader: say why there is none
            reasons["size"] = "no pixel spacing (Physical Delta X/Y) in the file"
    of_roi, of_lesion = lesion_share(liver_roi, base, seg.mask if seg.mask is not None else seg.core)
    if max(of_roi, of_lesion) > ON_LESION_MAX:
        # a reference that is mostly lesion makes every ratio lesion ÷ lesion: none is given
        how = (f"{100 * of_roi:.0f} % of it is lesion" if of_roi >= of_lesion
               else f"it covers {100 * of_lesion:.0f} % of the lesion")
        why = f"the liver ROI lies on the lesion ({how}): move it onto liver beside the lesion, at its depth"
        assumptions.append(why)
        reasons.update(aphe=why, washout=why, kupffer=why)
        ev["readout"] = readout(ev, reasons)
        return Evidence(ev)

    # the curve
    on_curve = [s for s in used if s in liver_rois]
    untimed = untimed_slots(study, on_curve)
    if untimed:
        assumptions.append(f"slots {', '.join(untimed)} have no time after injection (assigned by hand, "
                           "their files carry no timing): they are not on the curve")
    groups = plan(study, on_curve, ref, per_clip=per_clip, max_arterial=max_arterial)
    data = measure(study, groups, rois, references, cores, lut, reader=reader)
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
        sd, n_sq, measured_sd = reference_sd(lin, references, same)
        region_vascular, region_kupffer = 0.0, 0.0
        if seg.mask is None:  # no outline: the central disk read may hold part liver, part necrosis
            region_vascular, region_kupffer = region_sd(lin, rois, cores, seg.core, same, protocol)
        k = F.kinetics(curve, float(np.hypot(sd, region_vascular)), float(np.hypot(sd, region_kupffer)))
        assumptions += k.notes or []
        ev["ratio_uncertainty"] = {
            "liver_reference_sd": _r(sd, 4), "squares": n_sq, "measured": measured_sd,
            "lesion_region_sd": {"vascular": _r(region_vascular, 4), "kupffer": _r(region_kupffer, 4)},
            "later_point_sd": _r(k.ratio_sd, 4), "z": F.Z}
        assumptions.append(
            f"ranges: ± {F.Z:g} relative standard errors of the ratio: the liver reference "
            f"({100 * sd:.1f} %, {'from' if measured_sd else 'assumed for'} {n_sq} square(s)), "
            + ("which part of the unoutlined lesion is read (its inner half against the disk), "
               if seg.mask is None else "") + "and the scatter of each clip's frames")
        ev.update(arrival_s=_r(k.arrival_s, 1), time_to_peak_s=_r(k.time_to_peak_s, 1),
                  peak_ratio=_r(k.peak_ratio), wash_in_rate=_r(k.wash_in_rate, 6),
                  washout_onset_s=_r(k.washout_onset_s, 1), washout_degree=k.washout_degree,
                  washout_degree_at=k.washout_degree_at, kupffer_ratio=_r(k.kupffer_ratio),
                  kupffer_defect=k.kupffer_defect,
                  washout_onset_range_s=[_r(x, 1) for x in k.washout_onset_range_s]
                  if k.washout_onset_range_s else None,
                  kupffer_ratio_range=[_r(x) for x in k.kupffer_ratio_range]
                  if k.kupffer_ratio_range else None,
                  kupffer_defect_borderline=k.kupffer_defect_borderline)
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


def region_sd(lin: dict[str, np.ndarray], rois: dict[str, Roi], cores: dict[str, np.ndarray],
              core: np.ndarray, slots: list[str], protocol: Any) -> tuple[float, float]:
    """How much the later ratios depend on which part of the lesion is read: |log(inner half / core)| on
    the slot frames (median over the vascular ones after 1:00; the Kupffer-phase ones), taken as one
    relative standard error. Used when the lesion was not outlined (the curve then reads a central disk
    that may hold liver or necrosis): a homogeneous lesion gives ~0, a patchy one a wide range."""
    k = max(1, int(round(0.5 * np.sqrt(core.sum() / np.pi))))
    inner0 = cv2.erode(core.astype(np.uint8), np.ones((2 * k + 1,) * 2, np.uint8)) > 0
    vascular: list[float] = []
    kupffer: list[float] = []
    for s in slots:
        t = protocol.slot(s).target_s
        if t is None or t <= F.EARLY_WASHOUT_S or s not in cores:
            continue
        patch = crop(lin[s], rois[s])
        if patch is None or patch.shape != cores[s].shape:
            continue
        inner = _resize_mask(inner0, rois[s]) if inner0.any() else cores[s]
        a, b = float(patch[cores[s]].mean()), float(patch[inner].mean()) if inner.any() else 0.0
        if a <= 1e-9 or b <= 1e-9:
            continue
        (kupffer if t >= F.KUPFFER_FROM_S else vascular).append(abs(float(np.log(b / a))))
    return (float(np.median(vascular)) if vascular else 0.0, float(np.median(kupffer)) if kupffer else 0.0)


def lesion_share(liver_roi: Roi, lesion_roi: Roi, mask: np.ndarray) -> tuple[float, float]:
    """(share of the liver ROI's pixels on the lesion, share of the lesion inside the liver ROI);
    ``mask`` is the lesion in ``lesion_roi``'s pixels."""
    x, y, w, h = lesion_roi
    lx, ly, lw, lh = liver_roi
    x0, y0, x1, y1 = max(lx - x, 0), max(ly - y, 0), min(lx + lw - x, w), min(ly + lh - y, h)
    lesion = float(mask.sum())
    if x1 <= x0 or y1 <= y0 or lesion == 0 or lw * lh == 0:
        return 0.0, 0.0
    both = float(mask[y0:y1, x0:x1].sum())
    return both / (lw * lh), both / lesion


def reference_sd(lin: dict[str, np.ndarray], references: dict[str, list[Roi]], slots: list[str]
                 ) -> tuple[float, int, bool]:
    """(relative standard error of the pooled liver level, squares, measured?) from how the squares'
    levels differ, averaged over the slot frames first (speckle is fresh each frame, the parenchyma's
    patchiness is not), pooled with :data:`ASSUMED_REFERENCE_SD` (a spread from 2–4 squares alone can
    come out near zero by chance). One square (or the user's ROI): the assumed SD alone."""
    rel = []
    for s in slots:
        squares = references.get(s) or []
        means = [pooled_mean(lin[s], [r]) for r in squares]
        if len(squares) < 2 or any(m is None or m <= 1e-9 for m in means):
            continue
        m = np.asarray(means, dtype=np.float64)
        rel.append(m / m.mean())
    n = len(next(iter(references.values()), []))
    if not rel or n < 2:
        return ASSUMED_REFERENCE_SD / np.sqrt(max(n, 1)), max(n, 1), False
    per_square = np.mean(rel, axis=0)
    df = len(per_square) - 1
    var = (df * float(np.var(per_square, ddof=1)) + PRIOR_DF * ASSUMED_REFERENCE_SD ** 2) / (df + PRIOR_DF)
    return float(np.sqrt(var / len(per_square))), len(per_square), True


def _scanner(clip: Any) -> tuple[str | None, str | None, str | None]:
    """(Manufacturer, Manufacturer Model Name, Protocol Name) of a clip; model and protocol only DICOM
    files carry."""
    model = protocol = None
    if clip.kind == "dicom":
        from ceusdesk.ingest.decode import dicom_header

        try:
            header = dicom_header(clip.path)
            model = str(header.get("ManufacturerModelName") or "") or None
            protocol = str(header.get("ProtocolName") or "") or None
        except OSError as err:
            log.warning("%s: header not read again: %s", clip.path, err)
    return clip.manufacturer, model, protocol


def _fmt_t(t: float) -> str:
    from ceusdesk.base.protocol import format_t

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
    # what the pattern was read on: the readout says so when APHE rests on the periphery there, not on the
    # whole lesion at its peak (the liver may peak with it)
    ev["aphe_pattern_at_s"] = _r(float(np.mean([x.t_s for x in near])), 1)
    centre = profile.centre_ratio if profile is not None else None
    ev["aphe_centre_ratio"] = _r(centre) if centre is not None else None
    ev["aphe_periphery_ratio"] = _r(rim) if rim is not None else None
    ev["aphe_pattern"] = profile.pattern if (ev["aphe"] and profile is not None) else None
