"""The result as a Comprehensive SR following TID 1500 (Measurement Report), one lesion group (TID 1410).

Structure (what ``dsrdump`` shows): the device observer (ceusdesk), procedure "Ultrasonography", and
under Imaging Measurements one Measurement Group: tracking identifier and UID, finding Lesion in the
Liver, the model as algorithm identification, the lesion ROI as an image region on the frame it was
drawn on, the class probabilities and P(malignant) (unit 1), the call and phase set as coded
evaluations, the size and the time-intensity quantities with their ranges (borderline ones marked).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydicom.dataset import Dataset
from pydicom.sr.coding import Code
from pydicom.uid import generate_uid

from ceusdesk import __version__ as CEUSDESK_VERSION
from ceusdesk.evidence.readout import washout_borderline
from ceusdesk.outputs.dicom import codes
from ceusdesk.outputs.dicom import items as it
from ceusdesk.outputs.dicom.dataset import Clock, base_dataset, evidence_sequence
from ceusdesk.outputs.dicom.source import FrameRef

COMPREHENSIVE_SR = "1.2.840.10008.5.1.4.1.1.88.33"
SERIES_NUMBER = 9901
LESION_ID = "Lesion 1"
DEVICE_UID_NAMESPACE = "ceusdesk"  # the device observer UID is derived from the software version


def _box_polyline(box: tuple[int, int, int, int]) -> list[tuple[float, float]]:
    x0, y0, x1, y1 = (float(v) for v in box)
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]


def _finite(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) else None


def _ranged(name: Code, value: Any, unit: Code, rng: Any = None, borderline: bool = False) -> list[Dataset]:
    """A measured quantity with its range as properties; nothing when it was not measured."""
    v = _finite(value)
    if v is None:
        return []
    children = []
    if isinstance(rng, list | tuple) and len(rng) == 2 and all(_finite(x) is not None for x in rng):
        children += [it.num(it.HAS_PROPERTIES, codes.RANGE_LOW, float(rng[0]), unit),
                     it.num(it.HAS_PROPERTIES, codes.RANGE_HIGH, float(rng[1]), unit)]
    if borderline:
        children.append(it.code(it.HAS_PROPERTIES, codes.CERTAINTY, codes.BORDERLINE))
    return [it.num(it.CONTAINS, name, v, unit, children)]


def _present(value: Any, name: Code, borderline: bool = False) -> list[Dataset]:
    if not isinstance(value, bool):
        return []
    extra = [it.code(it.HAS_PROPERTIES, codes.CERTAINTY, codes.BORDERLINE)] if borderline else []
    return [it.code(it.CONTAINS, name, codes.PRESENT if value else codes.ABSENT, extra)]


def evidence_items(ev: Mapping[str, Any] | None) -> list[Dataset]:
    """The measured evidence (``result.evidence``) as NUM and CODE items; unmeasured ones left out."""
    if not ev:
        return []
    out = _ranged(codes.DIAMETER, ev.get("lesion_size_mm"), codes.MILLIMETER)
    out += _ranged(codes.ARRIVAL, ev.get("arrival_s"), codes.SECOND)
    out += _ranged(codes.TIME_TO_PEAK, ev.get("time_to_peak_s"), codes.SECOND)
    out += _ranged(codes.PEAK_RATIO, ev.get("peak_ratio"), codes.RATIO)
    out += _ranged(codes.WASHOUT_ONSET, ev.get("washout_onset_s"), codes.SECOND,
                   ev.get("washout_onset_range_s"), borderline=washout_borderline(ev))
    out += _ranged(codes.KUPFFER_RATIO, ev.get("kupffer_ratio"), codes.RATIO, ev.get("kupffer_ratio_range"),
                   borderline=bool(ev.get("kupffer_defect_borderline")))
    out += _present(ev.get("aphe"), codes.APHE)
    degree = codes.WASHOUT_DEGREE_VALUES.get(str(ev.get("washout_degree")))
    if degree is not None:
        out.append(it.code(it.CONTAINS, codes.WASHOUT_DEGREE, degree))
    out += _present(ev.get("kupffer_defect"), codes.KUPFFER_DEFECT, bool(ev.get("kupffer_defect_borderline")))
    return out


def _observer() -> list[Dataset]:
    device_uid = generate_uid(entropy_srcs=[DEVICE_UID_NAMESPACE, CEUSDESK_VERSION])
    return [it.code(it.HAS_OBS_CONTEXT, codes.OBSERVER_TYPE, codes.DEVICE),
            it.uidref(it.HAS_OBS_CONTEXT, codes.DEVICE_OBSERVER_UID, device_uid),
            it.text(it.HAS_OBS_CONTEXT, codes.DEVICE_OBSERVER_NAME, f"ceusdesk {CEUSDESK_VERSION}"),
            it.text(it.HAS_OBS_CONTEXT, codes.DEVICE_OBSERVER_MANUFACTURER, "ceusdesk project"),
            it.text(it.HAS_OBS_CONTEXT, codes.DEVICE_OBSERVER_MODEL_NAME, "ceusdesk")]


def lesion_group(result: Mapping[str, Any], drawn_on: FrameRef, tracking_uid: str) -> Dataset:
    """TID 1410 Planar ROI Measurements and Qualitative Evaluations for the one lesion."""
    model = result["model"]
    probs = result["probabilities"]
    source = it.image(it.SELECTED_FROM, codes.SOURCE, drawn_on.sop_class, drawn_on.sop_uid,
                      [drawn_on.frame_number])
    params = (f"model uid {model['uid']}; int8 sha256 {model['sha256']}; ceusdesk {CEUSDESK_VERSION}; "
              f"ROI drawn on slot {drawn_on.slot}; research use only, not for diagnosis")
    children = [
        it.text(it.HAS_OBS_CONTEXT, codes.TRACKING_IDENTIFIER, LESION_ID),
        it.uidref(it.HAS_OBS_CONTEXT, codes.TRACKING_UID, tracking_uid),
        it.code(it.CONTAINS, codes.FINDING, codes.LESION),
        it.code(it.HAS_CONCEPT_MOD, codes.FINDING_SITE, codes.LIVER),
        it.text(it.HAS_CONCEPT_MOD, codes.ALGORITHM_NAME, str(model["name"])),
        it.text(it.HAS_CONCEPT_MOD, codes.ALGORITHM_VERSION, str(model["version"])),
        it.text(it.HAS_CONCEPT_MOD, codes.ALGORITHM_PARAMETERS, params),
        it.num(it.CONTAINS, codes.P_BENIGN, probs["benign"], codes.NO_UNITS),
        it.num(it.CONTAINS, codes.P_HCC, probs["hcc"], codes.NO_UNITS),
        it.num(it.CONTAINS, codes.P_NON_HCC, probs["non_hcc_malignant"], codes.NO_UNITS),
        it.num(it.CONTAINS, codes.P_MALIGNANT, result["malignant_probability"], codes.NO_UNITS),
        it.num(it.CONTAINS, codes.CALL_THRESHOLD, result["threshold"], codes.NO_UNITS),
        *evidence_items(result.get("evidence")),
        it.code(it.CONTAINS, codes.CALL, codes.CALL_VALUES[result["call"]]),
        it.code(it.CONTAINS, codes.CALL_SOURCE, codes.CALL_SOURCE_VALUES[model.get("call_source", "cnn")]),
        it.code(it.CONTAINS, codes.PHASE_SET, codes.PHASE_SET_VALUES[result["phase_set"]]),
        it.scoord_polyline(it.CONTAINS, codes.IMAGE_REGION, _box_polyline(drawn_on.lesion_box), source),
    ]
    return it.container(it.CONTAINS, codes.MEASUREMENT_GROUP, children)


def measurement_report(source: Dataset, result: Mapping[str, Any], refs: list[FrameRef], *, clock: Clock,
                       deidentify: bool, software: list[str]) -> Dataset:
    """The SR object. ``refs[0]``'s slot is where the ROI was drawn (the first contrast slot)."""
    drawn_on = next((r for r in refs if r.slot != "B"), refs[0])
    ds = base_dataset(source, sop_class=COMPREHENSIVE_SR, modality="SR", series_number=SERIES_NUMBER,
                      kind="measurement report (SR)", clock=clock, deidentify=deidentify, software=software)
    ds.ReferencedPerformedProcedureStepSequence = []
    ds.ContentDate, ds.ContentTime = clock.date, clock.time
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"  # nobody has signed it: a research result
    ds.PerformedProcedureCodeSequence = []
    ds.CurrentRequestedProcedureEvidenceSequence = evidence_sequence(
        [(r.study_uid, r.series_uid, r.sop_class, r.sop_uid) for r in refs])
    root = it.container(None, codes.IMAGING_MEASUREMENT_REPORT, [
        it.code(it.HAS_CONCEPT_MOD, codes.LANGUAGE, codes.ENGLISH),
        *_observer(),
        it.code(it.HAS_CONCEPT_MOD, codes.PROCEDURE_REPORTED, codes.ULTRASONOGRAPHY),
        it.container(it.CONTAINS, codes.IMAGING_MEASUREMENTS,
                     [lesion_group(result, drawn_on, generate_uid())]),
    ], template="1500")
    for elem in root:
        ds.add(elem)
    return ds
