"""Preprocessed-case cache: one ``.npz`` per case, keyed by what determines its tensors.

The key hashes the case record, the input spec, the preprocess version, the protocol and the study
folder's file listing (names, sizes, mtimes), so a changed study or spec never reuses a stale entry.
Files are written to a temporary name and renamed, so an interrupted first pass leaves no torn entry.
This module imports no torch: the cache is built in worker processes that only need ceusdesk.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ceusdesk.preprocess import PREPROCESS_VERSION, InputSpec
from ceusdesk.protocol import Protocol

log = logging.getLogger(__name__)


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
        "files": _listing(study_dir(cases_dir, rec)),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:32]


def cache_path(cache_dir: Path, cases_dir: Path, rec: Mapping, spec: InputSpec, protocol: Protocol) -> Path:
    return Path(cache_dir) / f"{case_key(cases_dir, rec, spec, protocol)}.npz"


def write_entry(path: Path, images: np.ndarray, mask: np.ndarray, warnings: list[str]) -> None:
    """Atomically write one cache entry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(
                f,
                images=images.astype(np.float32, copy=False),
                mask=mask.astype(np.float32, copy=False),
                warnings=np.array(warnings, dtype=str),
            )
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_entry(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as z:
        return z["images"], z["mask"]


def build_case_arrays(
    cases_dir: Path, rec: Mapping, spec: InputSpec, protocol: Protocol
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Run the app's own ingestion and input builder on one case → (images, mask, warnings).

    Every present slot is used (the app may use fewer: the early set's slots for an early case);
    evaluation masks slots per phase combination.
    """
    from ceusdesk.inputs import case_inputs  # imported here: they are not needed to read the cache
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
    ci = case_inputs(study, roi, spec, protocol=protocol, rois=slot_rois or None)
    return (
        np.asarray(ci.images, dtype=np.float32),
        np.asarray(ci.mask, dtype=np.float32),
        [str(w) for w in (ci.warnings or [])],
    )


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
        images, mask, warnings = build_case_arrays(Path(cases_dir), rec, spec, protocol)
        expected = (len(protocol.slot_names), spec.size, spec.size)
        if images.shape != expected or mask.shape != expected[:1]:
            raise CaseError(f"input builder returned {images.shape}/{mask.shape}, expected {expected}")
        write_entry(path, images, mask, warnings)
        return case_id, None
    except Exception as err:  # noqa: BLE001 - reported per case, the cohort goes on
        where = study_dir(Path(cases_dir), rec) if "study" in rec else cases_dir
        return case_id, f"{where}: {type(err).__name__}: {err}".splitlines()[0]
