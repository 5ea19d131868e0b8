"""Words the app, the CLI and the PDF share: badges, class names, the call's explanation, slot captions.

Defined once here so the three front ends cannot say different things.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ceusdesk.base.protocol import SLOT_NAMES, format_t

if TYPE_CHECKING:  # a report reads files and patient fields that only a real study has
    pass

log = logging.getLogger(__name__)


BADGE_TEXT = {"full": "FULL SET", "early": "EARLY SET", "incomplete": "INCOMPLETE"}


BADGE_DETAIL = {
    "full": "B-mode to the 10-min Kupffer phase",
    "early": "≤2 min only - no Kupffer phase",
    "incomplete": "phases missing: no classification",
}


SET_TITLES = {"early": f"{BADGE_TEXT['early']} (≤2 min)", "full": f"{BADGE_TEXT['full']} (to Kupffer phase)"}
"""The phase set as the first line of the CLI's summary names it."""
CLASS_LABELS = {"benign": "benign", "hcc": "HCC", "non_hcc_malignant": "non-HCC malignant"}
"""How every screen and page names the classes."""


CALL_SOURCE_TEXT = {"cnn": "model", "cnn+evidence": "model + measured evidence"}
"""Which call a result shows (``result.model.call_source``), as every screen and page names it."""
FUSION_FALLBACK = "the model's own call is shown: too little of the evidence was measured to fuse it"
"""The warning when a package's fused call cannot be made for this study."""


def call_source_text(result: dict) -> str:
    """'model' or 'model + measured evidence' for a result document (older results: 'model')."""
    return CALL_SOURCE_TEXT.get(str((result.get("model") or {}).get("call_source", "cnn")), "model")


UNCERTAIN_BAND = 0.05
"""A malignant probability this close to the operating threshold is shown as an uncertain call."""


def badge_text(phase_set: str | None) -> str:
    return BADGE_TEXT.get(str(phase_set), str(phase_set or "").upper())


def badge_detail(phase_set: str | None) -> str:
    """The line under the badge: which phases the result rests on."""
    return BADGE_DETAIL.get(str(phase_set), "")


def gaps_text(gaps: Sequence[str]) -> str:
    """The badge's second line: the slots no frame fills ("4:00, 5:00 not acquired")."""
    return f"{', '.join(gaps)} not acquired" if gaps else "every slot acquired"


def not_acquired(study: Mapping[str, Any]) -> list[str]:
    """The slots of a study document that hold no frame (``missing`` plus empty slots), slot order."""
    slots = study.get("slots") or {}
    gone = set(study.get("missing") or []) | {k for k, v in slots.items() if v is None}
    order = list(slots) or list(SLOT_NAMES)
    return [n for n in order if n in gone] + sorted(gone - set(order))


def contrast_panel_line(study: Mapping[str, Any]) -> str | None:
    """"contrast panel: left, chosen by the user" (None for a single display)."""
    side = study.get("contrast_panel")
    if side is None:
        return None
    by_user = study.get("contrast_panel_source") == "user"
    return f"contrast panel: {side}, " + ("chosen by the user" if by_user else "decided from the image cues")


def injection_line(study: Mapping[str, Any], confirmed: bool) -> str | None:
    """The page-1 chip for an estimated injection time (None when DICOM or the user gave it)."""
    inj = study.get("injection") or {}
    if inj.get("source") != "estimated":
        return None
    return "injection time ESTIMATED from the contrast arrival" + (
        ", confirmed by the user" if confirmed else ", not confirmed")


def flag_text(info: Mapping[str, Any] | None) -> str:
    """Why a slot's frame is doubtful (its ``flags``), as the PDF prints it under the thumbnail."""
    parts = []
    offset = (info or {}).get("offset_s")
    for f in (info or {}).get("flags") or []:
        if f == "far_from_target" and offset is not None:
            parts.append(f"{float(offset):+.0f} s from target")
        else:
            parts.append(str(f).replace("_", " "))
    return ", ".join(parts)


def slot_caption(clip: str | None, frame_index: int | None, frames: int | None, t_s: float | None,
                 offset_s: float | None, *, ascii_only: bool = False) -> str:
    """Which frame fills a slot: "US0002 · f7/7 · 0:51 (−9 s)" — clip name, frame (1-based) of the
    clip's frames, time after injection, and the offset from the slot's target (none for B)."""
    if clip is None:
        return "not acquired"
    parts = [Path(str(clip)).stem or str(clip)]
    if frame_index is not None:
        parts.append(f"f{int(frame_index) + 1}/{frames}" if frames else f"f{int(frame_index) + 1}")
    time = format_t(t_s, ascii_only=ascii_only)
    if offset_s is not None:
        off = f"{round(float(offset_s)):+d}"  # -0.3 s reads "+0", never "-0"
        time += f" ({off if ascii_only else off.replace('-', chr(0x2212))} s)"
    parts.append(time)
    return " · ".join(parts)


def explain_call(result: Mapping[str, Any]) -> str:
    """How the call follows from the numbers: "malignant = HCC 0.61 + non-HCC malignant 0.20 = 0.81 ≥
    0.50, the operating threshold for the full set", with "uncertain" near the threshold."""
    p = result.get("probabilities") or {}
    mal, thr = result.get("malignant_probability"), result.get("threshold")
    if mal is None or thr is None:
        return ""
    which = (result.get("model") or {}).get("threshold_phase_set") or result.get("phase_set")
    mal, thr = float(mal), float(thr)
    cnn = result.get("cnn")
    if (result.get("model") or {}).get("call_source") == "cnn+evidence" and isinstance(cnn, Mapping):
        text = (f"call from the {CALL_SOURCE_TEXT['cnn+evidence']}: malignant {mal:.2f} "
                f"{'>=' if mal >= thr else '<'} {thr:.2f}, its operating threshold for the {which} set; "
                f"the model alone: {float(cnn['malignant_probability']):.2f} "
                f"(HCC {float(cnn['probabilities']['hcc']):.2f} + non-HCC malignant "
                f"{float(cnn['probabilities']['non_hcc_malignant']):.2f}), {cnn['call']}")
    else:
        text = (f"malignant = HCC {float(p.get('hcc', 0.0)):.2f} + non-HCC malignant "
                f"{float(p.get('non_hcc_malignant', 0.0)):.2f} = {mal:.2f} "
                f"{'>=' if mal >= thr else '<'} {thr:.2f}, the operating threshold for the {which} set")
    if abs(mal - thr) < UNCERTAIN_BAND:
        text += f"; within ±{UNCERTAIN_BAND:.2f} of it: an uncertain call"
    return text
