"""A study document and slot panels as the core produces them, made here (no DICOM needed)."""
from __future__ import annotations

import numpy as np
import pytest

from ceusdesk.base.protocol import SLOT_NAMES
from ceusdesk.outputs.report import ReportInput

PATIENT = {"name": "DOE^JANE", "id": "PID-483920", "birth_date": "19610203", "sex": "F",
           "study_date": "2024-05-17"}
TIMES = [-30.0, 31.0, 61.0, 119.0, 181.0, 240.0, 300.0, 362.0, 605.0]


def study_doc(root: str = "/media/usb/DOE_JANE") -> dict:
    clips = [{"path": f"{root}/IM{i:06d}", "frames": 4, "start_s": t, "end_s": t + 1.0, "kind": "dicom",
              "slot": s, "excluded": None} for i, (s, t) in enumerate(zip(SLOT_NAMES, TIMES, strict=True))]
    slots = {s: {"path": f"{root}/IM{i:06d}", "frame_index": 1, "t_s": t, "panel": [320, 40, 620, 440],
                 "source": "auto"} for i, (s, t) in enumerate(zip(SLOT_NAMES, TIMES, strict=True))}
    return {
        "injection": {"time": "2024-05-17T10:21:07", "source": "dicom"},
        "clips": clips,
        "slots": slots,
        "phase_set": "full",
        "warnings": [{"path": f"{root}/IM000099",
                      "message": f"{root}/IM000099 belongs to another patient; seen 10:21:07"}],
    }


def result_doc(phase_set: str = "full") -> dict:
    return {
        "phase_set": phase_set,
        "probabilities": {"benign": 0.12, "hcc": 0.61, "non_hcc_malignant": 0.27},
        "malignant_probability": 0.88,
        "threshold": 0.5,
        "call": "malignant",
        "model": {"name": "ceusdesk-demo", "version": "0.3.1", "uid": "6f1c2d9e-uid",
                  "sha256": "ab" * 32},
        "phase_importance": {s: 0.01 * i for i, s in enumerate(SLOT_NAMES)},
        "timings_ms": {"total": 12.0},
    }


@pytest.fixture
def report_input() -> ReportInput:
    rng = np.random.default_rng(0)
    panels = {s: rng.integers(0, 255, (120, 150, 3), dtype=np.uint8) for s in SLOT_NAMES}
    panels["6:00"] = None  # a missing slot still gets a cell
    return ReportInput(study=study_doc(), result=result_doc(), roi=(40, 30, 50, 50), panels=panels,
                       rois={"10:00": (44, 30, 50, 50)}, patient=PATIENT, study_path="/media/usb/DOE_JANE")
