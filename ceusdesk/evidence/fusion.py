"""Late fusion: the model's P(malignant) together with the measured evidence, as one calibrated call.

The trainer fits a logistic regression per phase set on its inner-validation predictions (never on a
case the CNN trained on, never on the test); the package carries its coefficients in the manifest's
``fusion`` block (:mod:`ceusdesk.model_package.fusion`), and the analysis applies it with numpy. The
CNN's graph is unchanged. This module measures the inputs, the same way for the trainer and the app.

Inputs (one definition for the trainer and the app, :func:`fusion_inputs`):

- ``cnn_logit``: log-odds of the model's P(malignant) (clipped to 1e-4 … 1 − 1e-4);
- ``log_ratio_60s``, ``log_ratio_120s``: log lesion/liver of the clip at the 1:00 and 2:00 slots;
- ``log_ratio_late_min``: the lowest log lesion/liver of the late-vascular slots (after 2:00, before
  the Kupffer phase): late washout;
- ``log_kupffer_ratio``: log lesion/liver in the Kupffer phase;
- ``log_peak_ratio``: log peak lesion/liver in the arterial phase;
- ``aphe``: 1 with arterial-phase hyperenhancement, 0 without.

A measurement the evidence could not make is NaN and enters as the training mean (0 after scaling),
so a missing one neither pushes toward benign nor malignant. Per-slot ratios come from
:func:`slot_ratios`: each later clip's lesion sum over its liver sum, the way the evidence reads washout.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from ceusdesk.model_package.fusion import INPUTS

TIC_T_TOLERANCE = 0.01  # s: the evidence rounds tic times to 0.01 s
_P_CLIP = 1e-4
_RATIO_FLOOR = 1e-3


def _log(v: Any) -> float:
    if v is None:
        return math.nan
    x = float(v)
    return math.log(max(x, _RATIO_FLOOR)) if math.isfinite(x) else math.nan


def _at(ratios: Mapping[float, float | None], target: float) -> float:
    return _log(ratios.get(target))


def fusion_inputs(p_malignant: float, ratios_by_target: Mapping[float, float | None],
                  evidence: Mapping[str, Any]) -> dict[str, float]:
    """Every fusion input by name (NaN where not measured).

    ``ratios_by_target``: lesion/liver per contrast slot, keyed by the slot's target time in seconds
    (:func:`slot_ratios` gives it); ``evidence``: the evidence's scalar fields (``kupffer_ratio``,
    ``peak_ratio``, ``aphe``).
    """
    p = min(max(float(p_malignant), _P_CLIP), 1.0 - _P_CLIP)
    late = [_log(r) for t, r in ratios_by_target.items() if 120.0 < t < 570.0]
    late = [x for x in late if math.isfinite(x)]
    aphe = evidence.get("aphe")
    return {
        "cnn_logit": math.log(p / (1.0 - p)),
        "log_ratio_60s": _at(ratios_by_target, 60.0),
        "log_ratio_120s": _at(ratios_by_target, 120.0),
        "log_ratio_late_min": min(late) if late else math.nan,
        "log_kupffer_ratio": _log(evidence.get("kupffer_ratio")),
        "log_peak_ratio": _log(evidence.get("peak_ratio")),
        "aphe": math.nan if aphe is None else float(bool(aphe)),
    }


Span = tuple[float, float, list[tuple[str, tuple[float, float] | None]]]
"""(first, last frame time) of one clip the evidence reads, and the used slots it fills with their windows."""


def clip_spans(study: Any, used: Sequence[str]) -> list[Span]:
    """Each clip the evidence reads (once, however many slots it fills): its time span and its slots."""
    spans: dict[int, Span] = {}
    for slot in used:
        sf = study.slots[slot]
        window = study.protocol.slot(slot).window_s
        if id(sf.clip) in spans:
            spans[id(sf.clip)][2].append((slot, window))
            continue
        entry = next((e for e in study.clips if e.clip is sf.clip), None)
        times = [] if entry is None else [
            t for i in range(sf.clip.usable_frames) if (t := entry.frame_t_s(i)) is not None]
        if times:
            spans[id(sf.clip)] = (min(times), max(times), [(slot, window)])
    return list(spans.values())


def evidence_points(tic: Sequence[Mapping], spans: Sequence[Span]) -> list[dict]:
    """One lesion ÷ liver point per slot from the evidence's ``tic``: the lesion sum over the liver sum of
    the samples of the slot's clip, at their mean time (how the evidence reads washout from a later clip).
    A clip filling two slots (an arterial clip running into the 1:00 window) gives each slot the samples
    inside its window; samples outside every window go to its first slot."""
    acc: dict[str, list[float]] = {}
    for p in tic:
        t, lesion, liver = p.get("t_s"), p.get("lesion"), p.get("liver")
        if t is None or lesion is None or liver is None:
            continue
        span = next((sp for sp in spans if sp[0] - TIC_T_TOLERANCE <= t <= sp[1] + TIC_T_TOLERANCE), None)
        if span is None:
            continue
        slots = span[2]
        slot = next((name for name, w in slots if w is not None and w[0] <= t <= w[1]), slots[0][0])
        a = acc.setdefault(slot, [0.0, 0.0, 0.0, 0])
        a[0], a[1], a[2], a[3] = a[0] + t, a[1] + lesion, a[2] + liver, a[3] + 1
    return [{"slot": s, "t_s": round(a[0] / a[3], 2),
             "ratio": float(f"{a[1] / a[2]:.6g}") if a[2] > 1e-9 else None, "n": int(a[3])}
            for s, a in sorted(acc.items(), key=lambda kv: kv[1][0] / kv[1][3])]


def contrast_slots_used(study: Any, slots_used: Sequence[str]) -> list[str]:
    """The used contrast slots the study fills, in the evidence's clip order (by target time)."""
    protocol = study.protocol
    return sorted((s for s in slots_used if study.slots.get(s) is not None
                   and protocol.slot(s).kind == "contrast"),
                  key=lambda s: float(protocol.slot(s).target_s or 0.0))


def slot_ratios(study: Any, evidence: Mapping[str, Any],
                slots_used: Sequence[str]) -> dict[float, float | None]:
    """Lesion/liver per used contrast slot from an evidence document, keyed by the slot's target time."""
    used = contrast_slots_used(study, slots_used)
    points = evidence_points(evidence.get("tic") or [], clip_spans(study, used))
    protocol = study.protocol
    return {float(protocol.slot(p["slot"]).target_s or 0.0): p["ratio"] for p in points}


__all__ = ["INPUTS", "clip_spans", "contrast_slots_used", "evidence_points", "fusion_inputs", "slot_ratios"]
