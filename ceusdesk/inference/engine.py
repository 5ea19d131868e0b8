"""One classification: phase set decision, model input, one batched run, probabilities and importance.

The phase set decides which slots the model sees: ``full`` uses every slot, ``early`` only the slots up
to 2:00 (``Protocol.set_slots("early")``) even when 3–6 min clips exist, so the flag shown to the user is
true to what the model saw. ``incomplete`` raises :class:`~ceusdesk.base.errors.IncompletePhaseSet`.

Per-phase importance is the change in malignant probability when one used slot is masked out (image
zeroed, mask 0, as in training's phase dropout): ``p_malignant(without slot) − p_malignant(all)``. A
negative value means the slot pushed the result towards malignant. The base case and every masked
variant run as one batch.

The operating threshold is the package's threshold for the phase set that ran (``thresholds.early`` or
``thresholds.full``; a gapped full set — 3–6 min missing — is "full"); an older package with one
``threshold`` uses it for both and the result says so. Probabilities that are not finite, outside
[0, 1] or not summing to 1 are refused (``ModelRefused``), never turned into a call.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ceusdesk.base.classes import CLASSES, MALIGNANT
from ceusdesk.base.errors import IncompletePhaseSet, ModelRefused
from ceusdesk.base.protocol import PhaseSet, Protocol
from ceusdesk.base.roi import Roi
from ceusdesk.inference import runtime
from ceusdesk.inference.inputs import CaseInputs, case_inputs
from ceusdesk.inference.loader import LoadedModel
from ceusdesk.inference.runtime import ORT_ERRORS
from ceusdesk.model_package.manifest import RESEARCH_USE_ONLY
from ceusdesk.study.types import StudyLike

log = logging.getLogger(__name__)

PROBABILITY_SUM_TOLERANCE = 1e-3
"""Softmax outputs sum to 1 within float32 rounding (export checks 1e-5); far beyond means a broken model."""
SINGLE_THRESHOLD_NOTE = ("this model package (an older one) has one operating threshold for both phase "
                         "sets (chosen on the full set); newer packages have one per set")


@dataclass
class AnalysisResult:
    """analyze's ``result`` (design.md) plus the ROIs used, warnings and the research-use statement."""

    phase_set: PhaseSet
    slots_used: list[str]
    probabilities: dict[str, float]
    malignant_probability: float
    call: str  # "benign" | "malignant" at the manifest's threshold
    threshold: float
    model: dict[str, Any]  # name, version, uid, sha256, manifest_sha256, manifest_pinned, threshold…
    phase_importance: dict[str, float]
    rois: dict[str, list[int]]
    warnings: list[str] = field(default_factory=list)
    roi_sources: dict[str, str] = field(default_factory=dict)  # slot → given | mapped | tracked | user
    timings_ms: dict[str, float] = field(default_factory=dict)
    research_use_only: str = RESEARCH_USE_ONLY

    def to_json(self) -> dict[str, Any]:
        return {
            "phase_set": self.phase_set,
            "slots_used": list(self.slots_used),
            "probabilities": dict(self.probabilities),
            "malignant_probability": self.malignant_probability,
            "call": self.call,
            "threshold": self.threshold,
            "model": dict(self.model),
            "phase_importance": dict(self.phase_importance),
            "rois": {k: list(v) for k, v in self.rois.items()},
            "roi_sources": dict(self.roi_sources),
            "warnings": list(self.warnings),
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "research_use_only": self.research_use_only,
        }


def decide_phase_set(present: list[str] | set[str], protocol: Protocol) -> tuple[PhaseSet, tuple[str, ...]]:
    """The phase set of the present slots and the slots a classification of it uses.

    Raises :class:`IncompletePhaseSet` naming the missing early-set slots.
    """
    phase_set, missing = protocol.phase_set(present)
    if phase_set == "incomplete":
        raise IncompletePhaseSet(missing)
    return phase_set, protocol.set_slots(phase_set)


def present_slots(study: StudyLike) -> list[str]:
    return [name for name, sf in (study.slots or {}).items() if sf is not None]


def run_model(model: LoadedModel, images: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Probabilities [N, 3] for images [N, n_slots, S, S] and mask [N, n_slots] (float32)."""
    feeds = {model.images_name: np.ascontiguousarray(images, dtype=np.float32),
             model.mask_name: np.ascontiguousarray(mask, dtype=np.float32)}
    batch_dim = model.session.get_inputs()[0].shape[0]
    if isinstance(batch_dim, int) and batch_dim != images.shape[0]:  # a fixed-batch export: one by one
        return np.concatenate([run_model_one(model, images[i:i + 1], mask[i:i + 1])
                               for i in range(images.shape[0])])
    return _session_run(model, feeds, images.shape[0])


def run_model_one(model: LoadedModel, images: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return _session_run(model, {model.images_name: images, model.mask_name: mask}, images.shape[0])


def _session_run(model: LoadedModel, feeds: dict[str, np.ndarray], rows: int) -> np.ndarray:
    """One session run; a model that fails at run time, or answers for another number of cases than it
    was given, is refused (exit 5) - never a traceback, never a result taken from the wrong row."""
    try:
        (probs,) = model.session.run([model.output_name], feeds)
    except ORT_ERRORS as err:
        raise ModelRefused(f"{model.manifest_path}: the model failed at run time "
                           f"({' '.join(str(err).split())[:200]}); no result is given - the package may be "
                           "damaged or made for another input, reinstall it") from err
    out = np.asarray(probs, dtype=np.float32)
    if out.ndim != 2 or out.shape[0] != rows:
        raise ModelRefused(f"{model.manifest_path}: the model returned {list(out.shape)} for {rows} case(s) "
                           f"(expected [{rows}, {len(CLASSES)}]); no result is given - reinstall the package")
    return out


def masked_batch(ci: CaseInputs) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Row 0 the case as is, then one row per used slot with that slot masked out."""
    used = [i for i in range(ci.mask.shape[0]) if ci.mask[i] > 0]
    n = 1 + len(used)
    images = np.repeat(ci.images[None], n, axis=0)
    mask = np.repeat(ci.mask[None], n, axis=0)
    for row, i in enumerate(used, start=1):
        images[row, i] = 0.0
        mask[row, i] = 0.0
    return images, mask, used


def classify(
    model: LoadedModel, ci: CaseInputs, *, importance: bool = True
) -> tuple[np.ndarray, dict[str, float]]:
    """Probabilities (3,) of the case and, when asked, the per-slot importance."""
    names = model.protocol.slot_names
    if importance:
        images, mask, used = masked_batch(ci)
    else:
        images, mask, used = ci.images[None], ci.mask[None], []
    probs = run_model(model, images, mask)
    check_probabilities(model, probs)
    mal = probs[:, [CLASSES.index(c) for c in MALIGNANT]].sum(axis=1, dtype=np.float64)
    imp = {names[i]: float(mal[row] - mal[0]) for row, i in enumerate(used, start=1)}
    return probs[0], imp


def check_probabilities(model: LoadedModel, probs: np.ndarray) -> None:
    """Refuse outputs that are no probability distribution (NaN, Inf, out of [0, 1], sum ≠ 1)."""
    p = np.asarray(probs, dtype=np.float64)
    ok = (p.ndim == 2 and p.shape[1] == len(CLASSES) and bool(np.isfinite(p).all())
          and bool(((p >= -1e-6) & (p <= 1 + 1e-6)).all())
          and bool((np.abs(p.sum(axis=1) - 1.0) <= PROBABILITY_SUM_TOLERANCE).all()))
    if not ok:
        raise ModelRefused(f"{model.manifest_path}: the model returned values that are not probabilities "
                           f"(shape {list(p.shape)}, finite {bool(np.isfinite(p).all())}); no result is "
                           "given - the package may be damaged, reinstall it")


def threshold_block(model: LoadedModel, phase_set: str) -> tuple[float, dict[str, Any], list[str]]:
    """The threshold for ``phase_set``, the model block's fields describing it, and a note if any."""
    value, source = model.manifest.threshold_for(phase_set)
    notes = [SINGLE_THRESHOLD_NOTE] if source == "threshold" else []
    notes += cpu_notes(model)
    return value, {"threshold": value, "threshold_source": source, "threshold_phase_set": phase_set}, notes


NO_VNNI_NOTE = ("this CPU lacks VNNI and the int8 model was quantized without reduce_range: its int8 "
                "arithmetic can saturate here, so probabilities may differ from the validated ones "
                "(docs/export.md); re-export with --reduce-range on for such PCs")


def cpu_notes(model: LoadedModel) -> list[str]:
    """A warning when this CPU may compute the int8 model differently from the CPU it was validated on."""
    if model.manifest.quantization.reduce_range or runtime.has_vnni() is not False:
        return []
    return [NO_VNNI_NOTE]


def analyze(
    study: StudyLike,
    roi: Roi,
    model: LoadedModel,
    *,
    track_roi: bool = False,
    rois: Mapping[str, Roi] | None = None,
    importance: bool = True,
    panels: Mapping[str, np.ndarray | None] | None = None,
    loader: Callable[[Any], np.ndarray] | None = None,
) -> AnalysisResult:
    """Classify the lesion under ``roi`` in ``study`` with ``model``.

    ``roi`` is drawn on the contrast panel and placed on every slot (mapped, optionally tracked);
    ``rois`` are hand-set ROIs of single slots in their own panel pixels, used as they are. The
    result's ``rois`` and ``roi_sources`` say where each used slot's ROI came from.

    Raises
    ------
    IncompletePhaseSet
        The early set is not complete (no classification).
    BadRoi
        The ROI cannot be placed on the contrast panel, or a hand-set ROI names an unknown slot or
        lies outside its panel.
    """
    t0 = time.perf_counter()
    protocol = model.protocol
    phase_set, use_slots = decide_phase_set(present_slots(study), protocol)
    ci = case_inputs(study, roi, model.spec, protocol=protocol, use_slots=use_slots, track_roi=track_roi,
                     rois=rois, panels=panels, loader=loader)
    t1 = time.perf_counter()
    p, imp = classify(model, ci, importance=importance)
    t2 = time.perf_counter()
    probabilities = {c: float(p[k]) for k, c in enumerate(CLASSES)}
    malignant = float(sum(probabilities[c] for c in MALIGNANT))
    threshold, model_threshold, notes = threshold_block(model, phase_set)
    used = [n for n, m in zip(protocol.slot_names, ci.mask, strict=True) if m > 0]
    result = AnalysisResult(
        phase_set=phase_set,
        slots_used=used,
        probabilities=probabilities,
        malignant_probability=malignant,
        call="malignant" if malignant >= threshold else "benign",
        threshold=threshold,
        model={**model.provenance(), **model_threshold},
        phase_importance=imp,
        rois={k: [int(v) for v in r] for k, r in ci.rois.items()},
        warnings=list(ci.warnings) + notes,
        roi_sources={k: v for k, v in ci.roi_sources.items() if k in ci.rois},
        timings_ms={"inputs": (t1 - t0) * 1000.0, "inference": (t2 - t1) * 1000.0,
                    "total": (time.perf_counter() - t0) * 1000.0},
    )
    log.info("analysis: %s set, %d slots, inference %.0f ms", phase_set, len(used),
             result.timings_ms["inference"])
    return result
