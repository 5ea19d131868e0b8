"""One analysis, for every front end: study + model + the user's inputs → the ``result`` document.

``ceusdesk analyze``, ``ceusdesk demo``, the app's worker (``gui/backend.py``) and ``trainer
test-package`` all call :func:`analyze_study`, so what they put in a result (the classification, the
contrast side it was read on, the measured evidence, the timings) cannot drift apart. What each front
end does around it (loading the model in parallel, progress, Cancel, which outputs to write) stays
with the front end.

The flow, in the folders' order: ``ingest`` read the files, ``study`` placed them in slots, then here
``inference`` classifies, ``evidence`` measures, and ``outputs`` files the result.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ceusdesk.base.classes import CLASSES
from ceusdesk.base.errors import ContrastPanelUnsure
from ceusdesk.base.roi import Roi
from ceusdesk.evidence import compute_evidence
from ceusdesk.evidence.fusion import fusion_inputs, slot_ratios
from ceusdesk.inference import LoadedModel, analyze
from ceusdesk.ingest import read_frame
from ceusdesk.model_package.fusion import Fusion, as_three_class
from ceusdesk.outputs import audit
from ceusdesk.outputs.wording import FUSION_FALLBACK
from ceusdesk.study.records import Study

Progress = Callable[[int, int], None]
MIN_FUSION_INPUTS = 2  # fewer measured evidence inputs than this: the CNN's call stands
FrameReader = Callable[[Any, int], np.ndarray]


@dataclass(frozen=True)
class AnalysisRequest:
    """What the user chose for one analysis (everything besides the study and the model).

    ``roi``: the lesion ROI in contrast-panel pixels; ``rois``: hand-set ROIs of single slots in their
    own panel pixels; ``liver_roi``: the evidence's reference liver ROI (None: placed automatically).
    """

    roi: Roi
    rois: Mapping[str, Roi] = field(default_factory=dict)
    track_roi: bool = False
    liver_roi: Roi | None = None


def analyze_study(
    study: Study,
    model: LoadedModel,
    request: AnalysisRequest,
    *,
    panels: Mapping[str, np.ndarray | None] | None = None,
    reader: FrameReader | None = None,
    progress: Progress | None = None,
    importance: bool = True,
    evidence: bool = True,
) -> dict[str, Any]:
    """The ``result`` document of design.md: classification, ``contrast_panel``, ``evidence``, timings.

    ``panels``: slot images a caller has already decoded; ``reader``: how the evidence decodes a frame
    (the app's checks Cancel there). ``importance`` and ``evidence`` may be switched off by batch
    callers (``trainer test-package``) that do not show them; a document without evidence has
    ``evidence: null``.

    Raises
    ------
    ContrastPanelUnsure
        The study could not tell which panel shows contrast; nothing is classified (exit 6).
    IncompletePhaseSet, BadRoi
        As :func:`ceusdesk.inference.analyze` raises them.
    """
    if study.contrast_panel_unsure:  # never classify what may be the B-mode panel
        raise ContrastPanelUnsure(study.contrast_panel_reason)
    step = progress or (lambda _done, _total: None)
    step(0, 2)
    result = analyze(study, request.roi, model, track_roi=request.track_roi, rois=dict(request.rois) or None,
                     importance=importance, panels=panels)
    step(1, 2)
    doc = result.to_json()
    doc["contrast_panel"] = {"side": study.contrast_panel, "source": study.contrast_panel_source}
    doc["model"]["call_source"] = "cnn"
    doc["evidence"] = None
    fusion = model.manifest.fusion_model()
    fused = fusion if fusion is not None and fusion.default and fusion.for_set(result.phase_set) else None
    if evidence or fused is not None:  # the shipped call needs the evidence when it is the fused one
        t = time.perf_counter()
        budget = dict(fused.evidence) if fused is not None else {}
        doc["evidence"] = compute_evidence(study, result, request.roi, liver_roi=request.liver_roi,
                                           reader=reader or read_frame, **budget).to_json()
        doc["timings_ms"]["evidence"] = round((time.perf_counter() - t) * 1000.0, 2)
    if fused is not None:
        apply_fusion(doc, fused, study)
    step(2, 2)
    return doc


def apply_fusion(doc: dict[str, Any], fusion: Fusion, study: Study) -> None:
    """Make the result's call the fused one ("model + measured evidence"), keeping the CNN's own call
    under ``cnn``; with too little measured to fuse, the CNN's call stays and a warning says why."""
    set_fusion = fusion.for_set(doc["phase_set"])
    if set_fusion is None:
        return
    ev = doc["evidence"] or {}
    values = fusion_inputs(doc["malignant_probability"], slot_ratios(study, ev, doc["slots_used"]), ev)
    measured = [k for k in set_fusion.inputs if k != "cnn_logit" and math.isfinite(values[k])]
    if len(measured) < MIN_FUSION_INPUTS:
        doc["warnings"].append(f"{FUSION_FALLBACK}: only {len(measured)} of the evidence's "
                               f"{len(set_fusion.inputs) - 1} inputs were measured")
        return
    p = set_fusion.probability(values)
    cnn = {k: doc[k] for k in ("probabilities", "malignant_probability", "call", "threshold")}
    probs = as_three_class(np.array([p]), np.array([[doc["probabilities"][c] for c in CLASSES]]))[0]
    doc.update(probabilities={c: float(v) for c, v in zip(CLASSES, probs, strict=True)},
               malignant_probability=float(p), call="malignant" if p >= set_fusion.threshold else "benign",
               threshold=set_fusion.threshold, cnn=cnn)
    doc["model"].update(call_source="cnn+evidence", threshold=set_fusion.threshold,
                        threshold_source=f"fusion.sets.{doc['phase_set']}.threshold")


def analysis_document(study: Study, result: Mapping[str, Any], roi: Roi) -> dict[str, Any]:
    """``analyze --json``: inspect's document plus the ROI given and ``result``."""
    doc = study.to_json()
    doc["roi"] = list(roi)
    doc["result"] = dict(result)
    return doc


def record_analysis(study: Study, result: Mapping[str, Any], roi: Roi, source: str,
                    report: str | Path | None = None) -> Path:
    """The analysis's audit record (no PHI: ids hashed), the same from the CLI and the app."""
    return audit.log_analysis(result, patient_id=study.patient_id, study_path=study.root, roi=roi,
                              source=source, report=report)
