"""What a study is once read: its clips, its slots and the frame chosen for each.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ceusdesk.base.protocol import FAR_FROM_TARGET_S, Protocol
from ceusdesk.ingest import Clip, Warn
from ceusdesk.ingest.injection import (
    format_clock,
)
from ceusdesk.ingest.layout import ClipLayout
from ceusdesk.ingest.panels import Box

log = logging.getLogger(__name__)


InjectionSource = str  # "dicom" | "user" | "estimated"


@dataclass
class SlotFrame:
    clip: Clip
    frame_index: int
    t_s: float | None  # seconds after injection (None when the clip has no time)
    panel: Box  # contrast panel; for slot "B" the B-mode panel
    pixel_spacing_cm: tuple[float, float] | None
    source: str  # "auto" | "assigned" | "override"


@dataclass
class ClipEntry:
    clip: Clip
    start_s: float | None
    end_s: float | None
    slot: str | None  # the first slot (protocol order) this clip fills
    excluded: str | None  # "other patient" | "other study" | "truncated"
    slots: list[str] = field(default_factory=list)
    layout: ClipLayout | None = None

    def frame_t_s(self, index: int) -> float | None:
        if self.start_s is None:
            return None
        offsets = self.clip.frame_offsets_s
        return self.start_s + (0.0 if offsets is None else float(offsets[index]))


@dataclass
class Study:
    root: Path
    protocol: Protocol
    injection_time: datetime | None
    injection_source: InjectionSource | None
    clips: list[ClipEntry]
    slots: dict[str, SlotFrame | None]
    phase_set: str
    missing: list[str]  # every slot not acquired, whatever the phase set
    warnings: list[Warn]
    patient_id: str | None = None  # PHI: never logged
    contrast_panel: str | None = None  # "left" | "right" for dual displays, else None
    frames_decoded: int = 0
    # dual displays only: False when the cues could not tell the side (analyze refuses, the app asks)
    contrast_panel_sure: bool = True
    contrast_panel_evidence: list[dict[str, Any]] = field(default_factory=list)  # {cue, favours, strength}
    contrast_panel_source: str | None = None  # "user" (--contrast-panel) | "evidence" | None (no dual)
    contrast_panel_reason: str = ""  # why the evidence is unsure (one line; empty when sure)
    # an estimated injection: how far off it may be (s) and whether that is too far to trust quietly
    injection_uncertainty_s: float | None = None
    injection_weak: bool = False

    @property
    def contrast_panel_unsure(self) -> bool:
        """A dual display whose side came from evidence that did not settle it."""
        return self.contrast_panel is not None and self.contrast_panel_source == "evidence" \
            and not self.contrast_panel_sure

    def rel(self, path: str | os.PathLike[str]) -> str:
        """A path as the JSON gives it: relative to the study root when inside it, else absolute."""
        p = Path(path)
        try:
            return p.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(p.resolve())
        except (OSError, RuntimeError):  # a symlink loop has no real path: name it as found
            p = Path(os.path.abspath(p))
            root = Path(os.path.abspath(self.root))
            return p.relative_to(root).as_posix() if p.is_relative_to(root) else str(p)

    def entry(self, clip: Clip) -> ClipEntry:
        return next(e for e in self.clips if e.clip is clip)

    def slot_offset_s(self, name: str) -> float | None:
        """Seconds between a filled slot's frame and the slot's target (None: no target or no time)."""
        sf = self.slots.get(name)
        target = self.protocol.slot(name).target_s
        if sf is None or sf.t_s is None or target is None:
            return None
        return float(sf.t_s) - float(target)

    def slot_flags(self, name: str) -> list[str]:
        """Why a filled slot's frame is doubtful: ``far_from_target`` (more than FAR_FROM_TARGET_S off) and
        ``clip_reused`` (its clip fills another contrast slot too). Empty for a sound or empty slot."""
        sf = self.slots.get(name)
        if sf is None:
            return []
        flags = []
        offset = self.slot_offset_s(name)
        if offset is not None and abs(offset) > FAR_FROM_TARGET_S:
            flags.append("far_from_target")
        # B comes from the B-mode panel or a clip before injection: sharing a clip with 0:30 is normal
        contrast = {s.name for s in self.protocol.contrast_slots}
        if name in contrast and any(n != name and n in contrast and o is not None and o.clip is sf.clip
                                    for n, o in self.slots.items()):
            flags.append("clip_reused")
        return flags

    def to_json(self) -> dict[str, Any]:
        """inspect's JSON (design.md: injection, clips, slots, phase_set, warnings; plus a few extras)."""
        inj = self.injection_time
        return {
            "protocol": self.protocol.name,
            "injection": {
                "time": format_clock(inj) if inj else None,
                "datetime": inj.isoformat() if inj else None,
                "source": self.injection_source,
                "uncertainty_s": _round(self.injection_uncertainty_s),
                "weak": self.injection_weak,
            },
            "contrast_panel": self.contrast_panel,
            "contrast_panel_sure": self.contrast_panel_sure,
            "contrast_panel_source": self.contrast_panel_source,
            "contrast_panel_evidence": [dict(c) for c in self.contrast_panel_evidence],
            "clips": [
                {
                    "path": self.rel(e.clip.path),
                    "frames": e.clip.n_frames,
                    "start_s": _round(e.start_s),
                    "end_s": _round(e.end_s),
                    "kind": e.clip.kind,
                    "slot": e.slot,
                    "excluded": e.excluded,
                    "slots": list(e.slots),
                    "start": e.clip.start.isoformat() if e.clip.start else None,
                }
                for e in self.clips
            ],
            "slots": {
                name: None if sf is None else {
                    "path": self.rel(sf.clip.path),
                    "frame_index": sf.frame_index,
                    "t_s": _round(sf.t_s),
                    "panel": [int(v) for v in sf.panel],
                    "pixel_spacing_cm": list(sf.pixel_spacing_cm) if sf.pixel_spacing_cm else None,
                    "source": sf.source,
                    "offset_s": _round(self.slot_offset_s(name)),
                    "flags": self.slot_flags(name),
                }
                for name, sf in self.slots.items()
            },
            "phase_set": self.phase_set,
            "missing": list(self.missing),
            "warnings": [{"path": self.rel(w.path), "message": w.message} for w in self.warnings],
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 3)
