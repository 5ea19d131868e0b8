"""The app's only door to the core: the same calls, with the same arguments, that the CLI makes.

Everything here is plain Python (no Qt) and runs in workers. The window keeps a :class:`StudyParams`
(what the user chose: injection time, slot overrides, contrast panel) and re-opens the study with it,
so an override in the app means exactly what ``--assign``/``--injection-time`` mean on the CLI.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import Cancelled
from ..preprocess import Roi

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
CancelFn = Callable[[], bool]

# SlotFrame.source values that mean "the user chose this" (study.py: auto | assigned | override)
MANUAL_SOURCES = {"assigned", "override"}


@dataclass
class StudyParams:
    path: Path
    injection_time: str | None = None  # HH:MM:SS as the CLI takes it
    slot_overrides: dict[str, dict[str, Any]] = field(default_factory=dict)  # slot → {path, frame_index}
    contrast_panel: str | None = None  # "left" | "right" when the user swapped panels

    def open(self, progress: Progress | None = None, cancel: CancelFn | None = None) -> Any:
        from ..study import open_study

        kwargs: dict[str, Any] = {"progress": progress, "cancel": cancel}
        if self.injection_time:
            kwargs["injection_time"] = self.injection_time
        if self.slot_overrides:
            kwargs["slot_overrides"] = dict(self.slot_overrides)
        if self.contrast_panel is not None:
            kwargs["contrast_panel"] = self.contrast_panel
        return open_study(self.path, **kwargs)


@dataclass
class AnalysisParams:
    roi: Roi
    track_roi: bool = False
    rois: dict[str, Roi] = field(default_factory=dict)  # slot → ROI the user adjusted for that slot
    model: str | None = None  # manifest path; None: the bundled default
    threads: int = 0  # 0: onnxruntime decides


def slot_status(study: Any, slot: str) -> str:
    """assigned | missing | estimated | manual — what the slot card shows."""
    sf = (study.slots or {}).get(slot)
    if sf is None:
        return "missing"
    if str(getattr(sf, "source", "")).lower() in MANUAL_SOURCES:
        return "manual"
    if str(getattr(study, "injection_source", "")) == "estimated":
        return "estimated"
    return "assigned"


def slot_panel(study: Any, slot: str) -> np.ndarray | None:
    """The slot's contrast (or B-mode) panel image, RGB uint8; decodes one frame."""
    sf = (study.slots or {}).get(slot)
    if sf is None:
        return None
    from ..frames import panel_image

    return panel_image(sf)


def all_slot_panels(study: Any, cancel: CancelFn | None = None) -> dict[str, np.ndarray | None]:
    """Every slot's panel image (one decode per distinct frame), as the analysis will see them."""
    _check(cancel)
    from ..frames import slot_panels

    return slot_panels(study)


def clip_frame(clip: Any, index: int) -> np.ndarray:
    from ..ingest import read_frame

    return read_frame(clip, index)


def _check(cancel: CancelFn | None) -> None:
    if cancel is not None and cancel():
        raise Cancelled("cancelled")


def analyze(study: Any, params: AnalysisParams, panels: Mapping[str, np.ndarray | None] | None = None,
            progress: Progress | None = None, cancel: CancelFn | None = None) -> dict[str, Any]:
    """The analyze result dict (design.md's ``result``), computed as ``ceusdesk analyze`` does:
    resolve the package (setting → env → default), verify and load it once, classify.

    ``panels`` are the slot images the window already decoded (the same images the engine would decode).
    Cancel is checked between the steps; the engine's own run is short and not interrupted.
    """
    from ..inference import analyze as run_analysis
    from ..inference import get_model
    from ..models import resolve_model

    progress = progress or (lambda _d, _t: None)
    _check(cancel)
    progress(0, 3)
    model = get_model(resolve_model(params.model), threads=params.threads or None)
    _check(cancel)
    progress(1, 3)
    result = run_analysis(study, params.roi, model, track_roi=params.track_roi, rois=params.rois or None,
                          panels=panels)
    progress(3, 3)
    _check(cancel)
    return result.to_json()


def reference_slot(study: Any, panels: Mapping[str, np.ndarray | None]) -> str | None:
    """The slot the shared ROI is drawn on (the first contrast slot with an image), as the engine says."""
    from ..inputs import reference_slot as ref

    return ref(panels, study.protocol)


def roi_to_reference(study: Any, roi: Roi, slot: str, panels: Mapping[str, np.ndarray | None]) -> Roi:
    """An ROI drawn on ``slot``'s panel in the reference panel's pixels (B-mode at another zoom)."""
    from ..inputs import roi_to_reference as to_ref

    return to_ref(study, roi, slot, panels, protocol=study.protocol)


def place_rois(study: Any, roi: Roi, user_rois: Mapping[str, Roi],
               panels: Mapping[str, np.ndarray | None]) -> dict[str, Roi]:
    """Each slot's ROI as the analysis places it, without tracking (the analysis reports tracked ones).

    Falls back to the hand-set ROIs alone when the ROI cannot be placed; the analysis then says why.
    """
    from ..errors import BadRoi
    from ..inputs import place_rois as place

    try:
        return place(study, roi, panels, protocol=study.protocol, rois=user_rois).rois
    except BadRoi as err:
        log.info("ROI preview: %s", err)
        return dict(user_rois)


def other_side(side: str | None) -> str:
    """The contrast side after a swap (a single display has none: "left" then means the only panel)."""
    return "left" if side == "right" else "right"


def clip_panels(study: Any, row: int) -> tuple[tuple[int, ...] | None, tuple[int, ...] | None]:
    """(contrast, B-mode) panel boxes of a clip as the study reads it; B-mode None on a single display."""
    layout = getattr(study.clips[row], "layout", None)
    if layout is None:
        return None, None
    side = getattr(study, "contrast_panel", None)
    contrast = tuple(layout.panel("contrast", side)[0])
    bmode = tuple(layout.panel("bmode", side)[0]) if layout.dual else None
    return contrast, bmode
