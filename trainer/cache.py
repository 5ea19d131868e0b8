"""Preprocessed-case cache: one ``.npz`` per case, keyed by what determines its tensors.

The key hashes the case record, the input spec, the preprocess version, the protocol, the evidence's
version (``ceusdesk.evidence.VERSION``) and frame budget, and the study folder's file listing (names,
sizes, mtimes), so a changed study, spec or evidence never reuses a stale entry.
Files are written through :func:`ceusdesk.base.atomicio.write_atomic`, so an interrupted first pass leaves
no torn entry. This module imports no torch: the cache is built in worker processes that only need
ceusdesk.

Besides the model input (``images``, ``mask``: exactly what the app computes), an entry holds

- ``context`` uint8 [n_slots, P, P]: a larger grey crop around each slot's ROI (side
  :data:`CONTEXT_FACTOR` × the ROI's square side, same centre, P = round(factor × S) pixels), cut by
  ceusdesk.inference.preprocess.crop_roi from the same panel and ROI; the trainer jitters the ROI inside it
  (trainer.augment), so training never sees only perfectly centred ROIs;
- ``ctx_scale`` float32 [n_slots]: the ROI's side / the context's side, per slot;
- ``evidence`` (a JSON string): the compact measured-evidence record the washout reader (trainer.reader)
  scores — the app's own ``ceusdesk.evidence`` for the case (:func:`measured_evidence`): one lesion ÷
  liver point per slot (its clip's samples), washout onset, Kupffer ratio and defect, peak ratio, APHE,
  the frame budget used, the evidence's version (``evidence_version``), and ``error`` when nothing could
  be measured.

The evidence decodes a few dozen frames per case (the arterial clip capped at
:data:`EVIDENCE_MAX_ARTERIAL`, :data:`EVIDENCE_PER_CLIP` per later clip, as the app); the slot frames are
decoded once for both the model input and the evidence (:class:`SlotFrames`).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ceusdesk.base.atomicio import write_atomic
from ceusdesk.base.errors import CeusdeskError
from ceusdesk.base.protocol import Protocol
from ceusdesk.base.roi import Roi
from ceusdesk.evidence import VERSION as EVIDENCE_VERSION
from ceusdesk.evidence import compute_evidence
from ceusdesk.evidence.fusion import clip_spans, contrast_slots_used, evidence_points
from ceusdesk.inference.preprocess import PREPROCESS_VERSION, InputSpec, crop_roi, to_gray
from ceusdesk.ingest import read_frame

log = logging.getLogger(__name__)

# 2: + context, ctx_scale, reader; 3: reader reference placement; 4: the measured-evidence record replaces
# the grey reader intensities (older entries are rebuilt)
ENTRY_FORMAT = 4
CONTEXT_FACTOR = 3.0  # context side / ROI side: room for ±20 % centre and up to 1.56x side jitter + rotation
# the evidence's frame budget. Later clips as the app reads them (its FRAMES_PER_CLIP), since the washout
# reader's points come from them; the arterial clip (peak ratio, APHE, where washout is timed from) capped
# below the app's 150, which bounds a scanner-length clip's cost (compact studies have fewer frames anyway)
EVIDENCE_PER_CLIP = 8
EVIDENCE_MAX_ARTERIAL = 30
EVIDENCE_KEYS = ("washout_onset_s", "washout_degree", "kupffer_ratio", "kupffer_defect", "peak_ratio", "aphe",
                 "liver_roi")


class CaseError(ValueError):
    """One case could not be turned into model input; the message names the case and the problem."""


def study_dir(cases_dir: Path, rec: Mapping) -> Path:
    return (Path(cases_dir) / str(rec["study"])).resolve()


def _listing(folder: Path) -> list[tuple[str, int, int]]:
    out = []
    for root, _dirs, files in os.walk(folder):
        for name in files:
            p = Path(root) / name
            st = p.stat()
            out.append((str(p.relative_to(folder)), st.st_size, st.st_mtime_ns))
    return sorted(out)


def case_key(cases_dir: Path, rec: Mapping, spec: InputSpec, protocol: Protocol) -> str:
    payload = {
        "record": dict(rec),
        "spec": spec.to_dict(),
        "preprocess_version": PREPROCESS_VERSION,
        "protocol": protocol.to_dict(),
        "entry_format": ENTRY_FORMAT,
        # an entry measured by another version of the evidence holds other values: rebuilt
        "evidence": {"version": EVIDENCE_VERSION, "per_clip": EVIDENCE_PER_CLIP,
                     "max_arterial": EVIDENCE_MAX_ARTERIAL},
        "files": _listing(study_dir(cases_dir, rec)),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]


def cache_path(cache_dir: Path, cases_dir: Path, rec: Mapping, spec: InputSpec, protocol: Protocol) -> Path:
    return Path(cache_dir) / f"{case_key(cases_dir, rec, spec, protocol)}.npz"


@dataclass
class Entry:
    """One cache entry; ``context``/``ctx_scale``/``evidence`` are None in entries that lack them."""

    images: np.ndarray
    mask: np.ndarray
    context: np.ndarray | None = None
    ctx_scale: np.ndarray | None = None
    evidence: dict | None = None  # the measured-evidence record (measured_evidence)


def write_entry(path: Path, images: np.ndarray, mask: np.ndarray, warnings: list[str], *,
                context: np.ndarray | None = None, ctx_scale: np.ndarray | None = None,
                evidence: Mapping | None = None) -> None:
    """Atomically write one cache entry."""
    arrays = {
        "images": images.astype(np.float32, copy=False),
        "mask": mask.astype(np.float32, copy=False),
        "warnings": np.array(warnings, dtype=str),
    }
    if context is not None:
        arrays["context"] = np.asarray(context, dtype=np.uint8)
        arrays["ctx_scale"] = np.asarray(ctx_scale, dtype=np.float32)
    if evidence is not None:
        arrays["evidence"] = np.array(json.dumps(evidence, allow_nan=False))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_atomic(path, buf.getvalue())


def read_full_entry(path: Path, with_context: bool = False) -> Entry:
    with np.load(path) as z:
        files = set(z.files)
        has_ctx = with_context and "context" in files
        return Entry(
            images=z["images"], mask=z["mask"],
            context=z["context"] if has_ctx else None,
            ctx_scale=z["ctx_scale"] if has_ctx else None,
            evidence=json.loads(str(z["evidence"])) if "evidence" in files else None,
        )


def context_crop(gray: np.ndarray, roi: Roi, pixels: int) -> tuple[np.ndarray, float]:
    """A square grey crop centred exactly where crop_roi centres ``roi``, CONTEXT_FACTOR × its side.

    Returns (uint8 [pixels, pixels], ROI side / context side). The context's side exceeds the ROI's
    by an even number of pixels, so the ROI's own crop sits at its exact centre.
    """
    x, y, w, h = (int(v) for v in roi)
    side = max(w, h)
    pad = int(round((CONTEXT_FACTOR - 1.0) * side / 2.0))
    big = side + 2 * pad
    x0, y0 = (2 * x + w - side) // 2, (2 * y + h - side) // 2  # crop_roi's top-left
    crop = crop_roi(gray, (x0 - pad, y0 - pad, big, big))
    interp = cv2.INTER_AREA if big >= pixels else cv2.INTER_LINEAR
    return cv2.resize(crop, (pixels, pixels), interpolation=interp), side / big


class SlotFrames:
    """A study's slot frames, each decoded once: the panels the model input is cut from (what
    ceusdesk.study.frames.panel_image gives), and the whole frames for the evidence, which reads the slot
    frames
    again (``read`` decodes any other frame as ``read_frame`` does)."""

    def __init__(self, study: Any, names: Sequence[str]):
        self._frames: dict[tuple[int, int], np.ndarray] = {}
        self.panels: dict[str, np.ndarray] = {}
        for name in names:
            sf = (study.slots or {}).get(name)
            if sf is None:
                continue
            key = (id(sf.clip), int(sf.frame_index))
            if key not in self._frames:
                frame = read_frame(sf.clip, sf.frame_index)
                frame.setflags(write=False)  # shared by both readers: nobody may draw on it
                self._frames[key] = frame
            x0, y0, x1, y1 = sf.panel
            self.panels[name] = np.ascontiguousarray(self._frames[key][y0:y1, x0:x1])

    def read(self, clip: Any, index: int) -> np.ndarray:
        frame = self._frames.get((id(clip), int(index)))
        return frame if frame is not None else read_frame(clip, index)


def measured_evidence(study: Any, slots_used: Sequence[str], rois: Mapping[str, Roi], roi: Roi, *,
                      reader: Callable[[Any, int], np.ndarray] = read_frame) -> dict:
    """The compact measured-evidence record of one case (trainer.reader reads it; keys in
    :data:`EVIDENCE_KEYS`, ``points`` per slot, ``error`` None or why nothing was measured).

    The app's :func:`ceusdesk.evidence.compute_evidence` on the same study, ROI and per-slot ROIs the
    model crops, with every slot the study has (phase set ``full``: the reader sees all of it), the later
    clips read as the app reads them, the arterial clip at most :data:`EVIDENCE_MAX_ARTERIAL` frames.
    A failure (a frame that cannot be decoded, no liver ROI, a bad ROI) is the record's ``error``: the
    caller warns, naming the case.
    """
    record: dict[str, Any] = {k: None for k in EVIDENCE_KEYS}
    record.update(points=[], per_clip=EVIDENCE_PER_CLIP, max_arterial=EVIDENCE_MAX_ARTERIAL,
                  evidence_version=EVIDENCE_VERSION, error=None)
    result = {"slots_used": list(slots_used), "rois": {k: list(v) for k, v in rois.items()},
              "phase_set": "full", "call": None}
    t0 = time.perf_counter()
    try:
        ev = compute_evidence(study, result, roi, reader=reader, per_clip=EVIDENCE_PER_CLIP,
                              max_arterial=EVIDENCE_MAX_ARTERIAL).to_json()
    except (CeusdeskError, OSError, ValueError) as err:  # FrameError is a ValueError; BadRoi a CeusdeskError
        record["error"] = f"{type(err).__name__}: {err}".splitlines()[0]
        return record
    finally:
        record["seconds"] = round(time.perf_counter() - t0, 3)
    used = contrast_slots_used(study, result["slots_used"])  # the evidence's clip order
    record.update({k: ev.get(k) for k in EVIDENCE_KEYS if k in ev})
    record["points"] = evidence_points(ev.get("tic") or [], clip_spans(study, used))
    if ev.get("liver_roi") is None:
        record["error"] = "no liver ROI: " + ((ev.get("assumptions") or ["?"])[-1])
    elif not record["points"]:
        record["error"] = "no lesion/liver point measured: " + "; ".join(ev.get("assumptions") or [])[-300:]
    return record


def side_is_known(rec: Mapping) -> bool:
    """A phantom case records the side it was drawn with; app and site cases' sides are checked."""
    return rec.get("source", "phantom") == "phantom" and rec.get("contrast_panel") in ("left", "right")


def build_case_arrays(
    cases_dir: Path, rec: Mapping, spec: InputSpec, protocol: Protocol
) -> tuple[Entry, list[str]]:
    """Run the app's own ingestion, input builder and evidence on one case → (entry, warnings).

    Every present slot is used (the app may use fewer: the early set's slots for an early case);
    evaluation masks slots per phase combination. The evidence's failure is not the case's: its record
    says why (``error``) and the case keeps its model input.
    """
    from ceusdesk.inference.inputs import case_inputs  # imported here: not needed to read the cache
    from ceusdesk.study import open_study

    study = open_study(
        study_dir(cases_dir, rec),
        injection_time=rec.get("injection_time"),
        contrast_panel=rec.get("contrast_panel"),
        slot_overrides=rec.get("slot_overrides"),
        protocol=protocol,
        # a phantom case's side is the generator's own: measuring the side cues again is ~60 % of a case
        check_side=not side_is_known(rec),
    )
    roi = tuple(int(v) for v in rec["roi"])
    # ROIs adjusted by hand per slot in the app (cases saved with "Save as training case")
    slot_rois = {k: tuple(int(v) for v in r) for k, r in (rec.get("slot_rois") or {}).items()}
    # decoded once here and handed to case_inputs (which would decode the same frames the same way)
    frames = SlotFrames(study, protocol.slot_names)
    ci = case_inputs(study, roi, spec, protocol=protocol, rois=slot_rois or None, panels=frames.panels)
    n = len(protocol.slot_names)
    pixels = int(round(CONTEXT_FACTOR * spec.size))
    context = np.zeros((n, pixels, pixels), dtype=np.uint8)
    ctx_scale = np.ones(n, dtype=np.float32)
    for i, name in enumerate(protocol.slot_names):
        if ci.mask[i] <= 0 or name not in ci.rois:
            continue
        gray = to_gray(np.asarray(frames.panels[name]))
        context[i], ctx_scale[i] = context_crop(gray, ci.rois[name], pixels)
    used = [name for name, m in zip(protocol.slot_names, ci.mask, strict=True) if m > 0]
    evidence = measured_evidence(study, used, ci.rois, roi, reader=frames.read)
    entry = Entry(np.asarray(ci.images, dtype=np.float32), np.asarray(ci.mask, dtype=np.float32),
                  context, ctx_scale, evidence)
    return entry, [str(w) for w in (ci.warnings or [])]


def prepare_case(
    cases_dir: str, rec: dict, spec_dict: dict, protocol_dict: dict, cache_dir: str
) -> tuple[str, str | None, str | None]:
    """Build one cache entry unless present. Picklable for pools.

    Returns (case_id, error message or None, why the evidence measured nothing or None): a case with an
    error is skipped; one without evidence keeps its entry, and its washout reader score is NaN.
    """
    spec, protocol = InputSpec.from_dict(spec_dict), Protocol.from_dict(protocol_dict)
    case_id = str(rec.get("case_id"))
    try:
        path = cache_path(Path(cache_dir), Path(cases_dir), rec, spec, protocol)
        if path.is_file():
            return case_id, None, None
        e, warnings = build_case_arrays(Path(cases_dir), rec, spec, protocol)
        expected = (len(protocol.slot_names), spec.size, spec.size)
        if e.images.shape != expected or e.mask.shape != expected[:1]:
            raise CaseError(f"input builder returned {e.images.shape}/{e.mask.shape}, expected {expected}")
        write_entry(path, e.images, e.mask, warnings, context=e.context, ctx_scale=e.ctx_scale,
                    evidence=e.evidence)
        return case_id, None, (e.evidence or {}).get("error")
    except Exception as err:
        where = study_dir(Path(cases_dir), rec) if "study" in rec else cases_dir
        return case_id, f"{where}: {type(err).__name__}: {err}".splitlines()[0], None
