""""Save as training case": the study's slot frames, the ROI and the user's label, in cases.jsonl form.

A hospital builds its own dataset with the app: each saved case is a folder ``DIR/<case_id>/`` holding
copies of the clip files that contain the nine slot frames (the source is never written to), and one
line in ``DIR/cases.jsonl`` in the trainer's format (design.md "Phantom and cases") with
``source: "app"``, ``slot_overrides`` naming the exact frames, ``injection_time`` and
``contrast_panel``, so ``open_study`` reads back the same frames the app showed. The patient is a
salted hash (cross-validation groups by it); no name or id is written.
"""
from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ceusdesk.base.roi import Roi
from ceusdesk.ingest.injection import format_clock
from ceusdesk.model_package.manifest import CLASSES
from ceusdesk.outputs.audit import append_jsonl, hash_id

if TYPE_CHECKING:  # the case copies the study's clip files: only a real study has them
    from ceusdesk.study.records import Study

log = logging.getLogger(__name__)

CASES_FILE = "cases.jsonl"


def new_case_id() -> str:
    return f"app-{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def save_training_case(folder: str | Path, study: Study, roi: Roi, label: str, *, case_id: str | None = None,
                       subtype: str | None = None, injection_time: str | None = None,
                       slot_rois: Mapping[str, Roi] | None = None) -> Path:
    """Copy the slot clips of ``study`` into ``folder/<case_id>`` and append its cases.jsonl line.

    ``injection_time`` (HH:MM:SS) defaults to the study's own. ``slot_rois`` are the ROIs the user
    adjusted by hand for single slots; they are saved as ``slot_rois`` so the trainer builds exactly
    the input the app analyzed. Returns the case folder.
    """
    if label not in CLASSES:
        raise ValueError(f"label {label!r}: expected one of {', '.join(CLASSES)}")
    present = {name: sf for name, sf in study.slots.items() if sf is not None}
    if not present:
        raise ValueError("no slot is filled: nothing to save")
    folder = Path(folder)
    case_id = case_id or new_case_id()
    case_dir = folder / case_id
    case_dir.mkdir(parents=True, exist_ok=False)
    copied: dict[Path, str] = {}  # source file → name in the case folder
    overrides: dict[str, dict[str, Any]] = {}
    for name, sf in present.items():
        src = Path(sf.clip.path)
        if src not in copied:
            dest = f"{len(copied):02d}_{src.name}"
            shutil.copy2(src, case_dir / dest)
            copied[src] = dest
        overrides[name] = {"path": copied[src], "frame_index": int(sf.frame_index)}
    inj = injection_time or (format_clock(study.injection_time) if study.injection_time else None)
    record: dict[str, Any] = {
        "case_id": case_id,
        "study": case_id,
        "label": label,
        "subtype": subtype,
        "roi": [int(v) for v in roi],
        "washout_score": None,
        "patient": hash_id(study.patient_id),
        "injection_time": inj,
        "contrast_panel": study.contrast_panel,
        "slot_overrides": overrides,
        "source": "app",
    }
    if slot_rois:
        record["slot_rois"] = {name: [int(v) for v in r] for name, r in slot_rois.items() if name in present}
    append_jsonl(folder / CASES_FILE, record)
    log.info("training case %s saved (%d slots, %d files)", case_id, len(overrides), len(copied))
    return case_dir
