"""Preprocessed-case cache: one ``.npz`` per case, keyed by what determines its tensors.

The key hashes the case record, the input spec, the preprocess version, the protocol and the study
folder's file listing (names, sizes, mtimes), so a changed study or spec never reuses a stale entry.
Files are written through :func:`ceusdesk.atomicio.write_atomic`, so an interrupted first pass leaves
no torn entry. This module imports no torch: the cache is built in worker processes that only need
ceusdesk.

Besides the model input (``images``, ``mask``: exactly what the app computes), an entry holds

- ``context`` uint8 [n_slots, P, P]: a larger grey crop around each slot's ROI (side
  :data:`CONTEXT_FACTOR` × the ROI's square side, same centre, P = round(factor × S) pixels), cut by
  ceusdesk.preprocess.crop_roi from the same panel and ROI; the trainer jitters the ROI inside it
  (trainer.augment), so training never sees only perfectly centred ROIs;
- ``ctx_scale`` float32 [n_slots]: the ROI's side / the context's side, per slot;
- ``reader`` float32 [n_slots, 2]: mean grey of the lesion (central disk of the ROI) and of a liver
  reference disk beside it at the same depth, per slot (NaN where absent) — the rendered, noisy
  intensities the washout reader (trainer.reader) scores.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ceusdesk.atomicio import write_atomic
from ceusdesk.preprocess import PREPROCESS_VERSION, InputSpec, Roi, crop_roi, to_gray
from ceusdesk.protocol import Protocol

log = logging.getLogger(__name__)

ENTRY_FORMAT = 3  # 2: + context, ctx_scale, reader; 3: reader reference placement (older entries rebuilt)
CONTEXT_FACTOR = 3.0  # context side / ROI side: room for ±20 % centre and up to 1.56x side jitter + rotation
READER_DISK = 0.3  # lesion and liver disks: radius = this × ROI side (phantom ROI side ≈ 1.6 × diameter)
READER_OFFSETS = (1.0, 1.5)  # liver reference centre: this × ROI side right or left, same depth
READER_MIN_INSIDE = 0.9  # share of the reference disk inside the panel
READER_MAX_BLACK = 0.1  # share of near-black pixels (outside the scan sector) a reference disk may hold
BLACK_GREY = 8


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
        "files": _listing(study_dir(cases_dir, rec)),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]


def cache_path(cache_dir: Path, cases_dir: Path, rec: Mapping, spec: InputSpec, protocol: Protocol) -> Path:
    return Path(cache_dir) / f"{case_key(cases_dir, rec, spec, protocol)}.npz"


@dataclass
class Entry:
    """One cache entry; ``context``/``ctx_scale``/``reader`` are None in entries that lack them."""

    images: np.ndarray
    mask: np.ndarray
    context: np.ndarray | None = None
    ctx_scale: np.ndarray | None = None
    reader: np.ndarray | None = None


def write_entry(path: Path, images: np.ndarray, mask: np.ndarray, warnings: list[str], *,
                context: np.ndarray | None = None, ctx_scale: np.ndarray | None = None,
                reader: np.ndarray | None = None) -> None:
    """Atomically write one cache entry."""
    arrays = {
        "images": images.astype(np.float32, copy=False),
        "mask": mask.astype(np.float32, copy=False),
        "warnings": np.array(warnings, dtype=str),
    }
    if context is not None:
        arrays["context"] = np.asarray(context, dtype=np.uint8)
        arrays["ctx_scale"] = np.asarray(ctx_scale, dtype=np.float32)
    if reader is not None:
        arrays["reader"] = np.asarray(reader, dtype=np.float32)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    write_atomic(path, buf.getvalue())


def read_entry(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as z:
        return z["images"], z["mask"]


def read_full_entry(path: Path, with_context: bool = False) -> Entry:
    with np.load(path) as z:
        files = set(z.files)
        has_ctx = with_context and "context" in files
        return Entry(
            images=z["images"], mask=z["mask"],
            context=z["context"] if has_ctx else None,
            ctx_scale=z["ctx_scale"] if has_ctx else None,
            reader=z["reader"] if "reader" in files else None,
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


def _disk(gray: np.ndarray, cx: float, cy: float, r: float) -> tuple[np.ndarray, float]:
    """(grey values inside the disk, share of the disk inside the image)."""
    H, W = gray.shape
    x0, x1 = max(int(np.floor(cx - r)), 0), min(int(np.ceil(cx + r)) + 1, W)
    y0, y1 = max(int(np.floor(cy - r)), 0), min(int(np.ceil(cy + r)) + 1, H)
    if x1 <= x0 or y1 <= y0:
        return np.empty(0, dtype=gray.dtype), 0.0
    yy, xx = np.mgrid[y0:y1, x0:x1]
    inside = (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 <= r * r
    return gray[y0:y1, x0:x1][inside], float(inside.sum()) / (np.pi * r * r)


def reader_intensities(gray: np.ndarray, roi: Roi) -> tuple[float, float]:
    """(lesion mean grey, liver reference mean grey) for one slot's panel and ROI.

    The reference disk lies beside the lesion at the same depth, as a reader places a liver ROI: the
    nearest of READER_OFFSETS × side, right then left, that lies inside the panel and inside the scan
    sector (few near-black pixels). NaN when the lesion disk or no reference fits.
    """
    x, y, w, h = roi
    side = max(w, h)
    cx, cy, r = x + w / 2.0, y + h / 2.0, READER_DISK * side
    lesion, share = _disk(gray, cx, cy, r)
    if share < READER_MIN_INSIDE or len(lesion) == 0:
        return float("nan"), float("nan")
    for offset in READER_OFFSETS:
        for sgn in (1.0, -1.0):
            ref, share = _disk(gray, cx + sgn * offset * side, cy, r)
            if share >= READER_MIN_INSIDE and len(ref) and (ref < BLACK_GREY).mean() <= READER_MAX_BLACK:
                return float(lesion.mean()), float(ref.mean())
    return float(lesion.mean()), float("nan")


def build_case_arrays(
    cases_dir: Path, rec: Mapping, spec: InputSpec, protocol: Protocol
) -> tuple[Entry, list[str]]:
    """Run the app's own ingestion and input builder on one case → (entry, warnings).

    Every present slot is used (the app may use fewer: the early set's slots for an early case);
    evaluation masks slots per phase combination.
    """
    from ceusdesk.frames import panel_image  # imported here: they are not needed to read the cache
    from ceusdesk.inputs import case_inputs
    from ceusdesk.study import open_study

    study = open_study(
        study_dir(cases_dir, rec),
        injection_time=rec.get("injection_time"),
        contrast_panel=rec.get("contrast_panel"),
        slot_overrides=rec.get("slot_overrides"),
        protocol=protocol,
    )
    roi = tuple(int(v) for v in rec["roi"])
    # ROIs adjusted by hand per slot in the app (cases saved with "Save as training case")
    slot_rois = {k: tuple(int(v) for v in r) for k, r in (rec.get("slot_rois") or {}).items()}
    # decoded once here and handed to case_inputs (which would decode the same frames the same way)
    panels = {n: panel_image(sf) for n, sf in (study.slots or {}).items()
              if sf is not None and n in protocol.slot_names}
    ci = case_inputs(study, roi, spec, protocol=protocol, rois=slot_rois or None, panels=panels)
    n = len(protocol.slot_names)
    pixels = int(round(CONTEXT_FACTOR * spec.size))
    context = np.zeros((n, pixels, pixels), dtype=np.uint8)
    ctx_scale = np.ones(n, dtype=np.float32)
    reader = np.full((n, 2), np.nan, dtype=np.float32)
    for i, name in enumerate(protocol.slot_names):
        if ci.mask[i] <= 0 or name not in ci.rois:
            continue
        gray = to_gray(np.asarray(panels[name]))
        context[i], ctx_scale[i] = context_crop(gray, ci.rois[name], pixels)
        reader[i] = reader_intensities(gray, ci.rois[name])
    entry = Entry(np.asarray(ci.images, dtype=np.float32), np.asarray(ci.mask, dtype=np.float32),
                  context, ctx_scale, reader)
    return entry, [str(w) for w in (ci.warnings or [])]


def prepare_case(
    cases_dir: str, rec: dict, spec_dict: dict, protocol_dict: dict, cache_dir: str
) -> tuple[str, str | None]:
    """Build one cache entry unless present. Returns (case_id, error message or None). Picklable for pools."""
    spec, protocol = InputSpec.from_dict(spec_dict), Protocol.from_dict(protocol_dict)
    case_id = str(rec.get("case_id"))
    try:
        path = cache_path(Path(cache_dir), Path(cases_dir), rec, spec, protocol)
        if path.is_file():
            return case_id, None
        e, warnings = build_case_arrays(Path(cases_dir), rec, spec, protocol)
        expected = (len(protocol.slot_names), spec.size, spec.size)
        if e.images.shape != expected or e.mask.shape != expected[:1]:
            raise CaseError(f"input builder returned {e.images.shape}/{e.mask.shape}, expected {expected}")
        write_entry(path, e.images, e.mask, warnings, context=e.context, ctx_scale=e.ctx_scale,
                    reader=e.reader)
        return case_id, None
    except Exception as err:  # noqa: BLE001 - reported per case, the cohort goes on
        where = study_dir(Path(cases_dir), rec) if "study" in rec else cases_dir
        return case_id, f"{where}: {type(err).__name__}: {err}".splitlines()[0]
