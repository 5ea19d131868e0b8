"""A study: one patient's exam, its injection time, and the frame that fills each phase slot.

:func:`open_study` scans the input (``ceusdesk.ingest``), keeps one patient's study, works out the
injection time and the panels, and fills the protocol's slots with the frame nearest each target inside
its window. ``Study.to_json()`` is the document ``ceusdesk inspect --json`` prints (design.md).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import numpy as np

from ceusdesk.base.errors import BadStudyOption, NothingReadable
from ceusdesk.base.protocol import Protocol, Slot, default_protocol
from ceusdesk.ingest import Clip, Warn, scan
from ceusdesk.ingest.grouping import UnknownPatient, group_clips
from ceusdesk.ingest.injection import (
    ARRIVAL_DELAY_S,
    SAMPLES_PER_CLIP,
    Arrival,
    dicom_injection,
    estimate_injection,
    format_clock,
    user_injection,
)
from ceusdesk.ingest.layout import SIDES, ClipLayout, FrameSampler, clip_layout
from ceusdesk.ingest.sidedecision import SideDecision, decide_contrast_side
from ceusdesk.study.frames import undecodable_slots
from ceusdesk.study.records import ClipEntry, InjectionSource, SlotFrame, Study

log = logging.getLogger(__name__)


ARRIVAL_SPREAD_S = 5.0  # Sonazoid reaches the liver 10-20 s after injection: ±5 s around the 15 s used


WEAK_ESTIMATE_S = 8.0  # an estimate less certain than this is called weak (warning, JSON "weak": true)


def open_study(
    path: str | os.PathLike[str],
    *,
    injection_time: str | None = None,
    patient: str | None = None,
    contrast_panel: str | None = None,
    assign: dict[str, str] | None = None,
    slot_overrides: dict[str, dict] | None = None,
    protocol: Protocol | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    check_side: bool = True,
) -> Study:
    """Read a study and fill its phase slots.

    Parameters
    ----------
    path
        A folder, a DICOMDIR or one file.
    injection_time
        ``HH:MM:SS`` on the scanner's clock; wins over Contrast/Bolus Start Time and the estimate.
    patient
        Patient ID to read when the folder holds several (default: the largest study).
    contrast_panel
        ``left`` or ``right``: which side of a dual display is contrast (default: decided from content).
    assign
        ``{file path: slot}`` for clips without usable time (path relative to ``path`` or absolute).
    slot_overrides
        ``{slot: {"path": ..., "frame_index": ...}}`` as stored in cases.jsonl: exact frames.
    protocol
        Default: the bundled ``sonazoid-9``.
    check_side
        With ``contrast_panel`` given, still measure the side cues and warn when they contradict it
        (default). False skips them (most of a compact study's decoding): for a side known for certain,
        such as a phantom cohort's recorded one.

    Raises
    ------
    NothingReadable
        No readable clip at all.
    BadStudyOption
        A malformed injection time, an unknown patient, slot or assigned file.
    """
    protocol = protocol or default_protocol()
    if contrast_panel is not None and contrast_panel not in SIDES:
        raise BadStudyOption(f"--contrast-panel must be left or right, not {contrast_panel!r}")
    if "\x00" in os.fspath(path):  # no file system takes it; os calls would raise ValueError
        raise BadStudyOption(f"study path {os.fspath(path)!r} contains a NUL byte: pass the folder, DICOMDIR "
                             "or file as it is on disk")
    result = scan(path, progress=progress, cancel=cancel)
    if not result.clips:
        detail = f" ({len(result.warnings)} files with problems)" if result.warnings else ""
        raise NothingReadable(f"{path}: no readable DICOM image, video or still image{detail}")
    root = result.root
    warnings = list(result.warnings)
    try:
        grouping = group_clips(result.clips, patient)
    except UnknownPatient as err:
        raise BadStudyOption(str(err)) from err

    entries = [ClipEntry(c, None, None, None, grouping.excluded.get(id(c))) for c in result.clips]
    for e in entries:
        if e.excluded:
            warnings.append(Warn(str(e.clip.path), f"excluded: belongs to another {e.excluded.split()[1]} "
                                                   "than the one read (use --patient to choose)"))
        elif e.clip.truncated:
            e.excluded = "truncated"
    main = [e for e in entries if e.excluded is None]
    if patient is None and grouping.key is not None:
        patient = grouping.key[0]

    sampler = FrameSampler()
    for e in (e for e in entries if e.excluded in (None, "truncated")):
        e.layout, note = clip_layout(e.clip, sampler)
        if note:
            warnings.append(Warn(str(e.clip.path), note))
    decision = _contrast_side(main, contrast_panel, injection_time, sampler, warnings, root, check_side)
    side = None if decision is None else (contrast_panel or decision.side)

    injection, source, uncertainty = _injection(main, injection_time, side, sampler, warnings, root)
    for e in entries:
        # another patient's or study's clip has no time in this exam: its offset would be meaningless
        if injection is not None and e.clip.start is not None and e.excluded in (None, "truncated"):
            e.start_s = (e.clip.start - injection).total_seconds()
            offsets = e.clip.frame_offsets_s
            e.end_s = e.start_s + (float(offsets[e.clip.usable_frames - 1]) if offsets is not None
                                   and e.clip.usable_frames else 0.0)

    slots: dict[str, SlotFrame | None] = {name: None for name in protocol.slot_names}
    fixed = _apply_overrides(slot_overrides or {}, entries, protocol, side, warnings, root)
    fixed.update(_apply_assignments(assign or {}, entries, protocol, side, root, fixed))
    slots.update(fixed)
    pre_contrast_s = min((s.window_s[0] for s in protocol.contrast_slots if s.window_s), default=0.0)
    choice_notes: dict[str, tuple[str, str]] = {}  # slot → (path, why its choice needs a look)
    identified = any(_identified(e.clip) for e in main)
    for _ in range(len(main) + 1):  # a clip whose slot frame cannot be decoded gives way to the next best
        for slot in protocol.slots:
            if slots[slot.name] is None:
                slots[slot.name] = _auto_slot(slot, main, side, injection is not None, pre_contrast_s,
                                              choice_notes, identified)
        if not _drop_undecodable(slots, main, warnings):
            break
    for name, (path, note) in choice_notes.items():
        sf = slots.get(name)
        if sf is not None and str(sf.clip.path) == path:
            warnings.append(Warn(path, note))
    for e in main:
        if e.clip.start is None and not any(sf and sf.clip is e.clip for sf in slots.values()):
            warnings.append(Warn(str(e.clip.path), "no acquisition time: assign it to a slot with "
                                                   "--assign FILE=SLOT"))
    for name, sf in slots.items():
        if sf is not None:
            sf_entry = next(e for e in entries if e.clip is sf.clip)
            sf_entry.slots.append(name)
    for e in entries:
        e.slot = e.slots[0] if e.slots else None
    filled = [n for n, sf in slots.items() if sf is not None]
    phase_set, _ = protocol.phase_set(filled)
    return Study(
        root=root, protocol=protocol, injection_time=injection, injection_source=source,
        clips=entries, slots=slots, phase_set=phase_set, missing=protocol.not_acquired(filled),
        warnings=warnings,
        patient_id=patient, contrast_panel=side, frames_decoded=sampler.decoded,
        contrast_panel_sure=True if decision is None or contrast_panel else decision.sure,
        contrast_panel_evidence=[] if decision is None else decision.evidence(),
        contrast_panel_source=None if decision is None else ("user" if contrast_panel else "evidence"),
        contrast_panel_reason="" if decision is None else decision.reason,
        injection_uncertainty_s=uncertainty,
        injection_weak=uncertainty is not None and uncertainty > WEAK_ESTIMATE_S,
    )


def _drop_undecodable(slots: dict[str, SlotFrame | None], main: list[ClipEntry],
                      warnings: list[Warn]) -> bool:
    """Empty the slots whose frame cannot be decoded and take their clips out of ``main`` (marked
    ``undecodable``), so inspect never shows a slot that analyze cannot use. True when any was dropped."""
    bad = undecodable_slots(slots)  # decodes each slot frame once; analyze reuses the cached crops
    for name, reason in bad.items():
        sf = slots[name]
        slots[name] = None
        if sf is not None and not any(e.clip is sf.clip and e.excluded for e in main):
            warnings.append(Warn(str(sf.clip.path), f"{reason}; the clip fills no slot"))
            next(e for e in main if e.clip is sf.clip).excluded = "undecodable"
    main[:] = [e for e in main if e.excluded is None]
    return bool(bad)


def _contrast_side(main: list[ClipEntry], override: str | None, injection_text: str | None,
                   sampler: FrameSampler, warnings: list[Warn], root: Path,
                   check: bool = True) -> SideDecision | None:
    """The evidence about the contrast side (None without dual displays); warns when unsure, or when the
    user's side contradicts evidence that was sure. ``check`` False with an override: no cues measured."""
    laid = [(e.clip, e.layout) for e in main if e.layout is not None and not e.clip.truncated]
    if not any(layout.dual for _, layout in laid):
        return None
    if override is not None and not check:
        return SideDecision(override, True, [], "")
    decision = decide_contrast_side(laid, sampler, _injection_hint(main, injection_text))
    if override is not None:
        if decision.sure and decision.side != override:
            warnings.append(Warn(str(root), f"contrast panel set to {override} by the user; the images "
                                            f"suggest {decision.side}: check"))
    elif not decision.sure:
        warnings.append(Warn(str(root), f"contrast panel unsure ({decision.reason}); assumed "
                                        f"{decision.side}: check, or pass --contrast-panel left|right"))
    return decision


def _injection_hint(main: list[ClipEntry], text: str | None) -> datetime | None:
    """The injection time when it is already known (user or DICOM); the side cues use it to find the
    wash-in. A malformed user time is reported later, by ``_injection``."""
    clips = [e.clip for e in main]
    if text is not None:
        try:
            return user_injection(text, clips)
        except ValueError:
            return None  # _injection raises BadStudyOption for it with the message
    return dicom_injection(clips).time


def _injection(main: list[ClipEntry], text: str | None, side: str | None, sampler: FrameSampler,
               warnings: list[Warn], root: Path
               ) -> tuple[datetime | None, InjectionSource | None, float | None]:
    """The injection time, its source and (estimated only) its uncertainty in seconds."""
    clips = [e.clip for e in main]
    if text is not None:
        try:
            when = user_injection(text, clips)
        except ValueError as err:
            raise BadStudyOption(str(err)) from err
        if when is None:
            warnings.append(Warn(str(root), "injection time given but no clip has an acquisition time: "
                                            "assign clips with --assign FILE=SLOT"))
            return None, None, None
        return when, "user", None
    found = dicom_injection(clips)
    if found.time is not None:
        if found.conflicting:
            warnings.append(Warn(str(root), "clips disagree on Contrast/Bolus Start Time; using "
                                            f"{format_clock(found.time)} (the most common): check it"))
        return found.time, "dicom", None
    timed = [(e.clip, e.layout) for e in main if e.layout is not None and not e.clip.truncated]
    arrival = estimate_injection(timed, side, sampler)
    if arrival is not None:
        uncertainty = _estimate_uncertainty(arrival)
        weak = (f"; a WEAK estimate (±{uncertainty:.0f} s: few frames around the arrival), so slots "
                "near a window's edge may be wrong" if uncertainty > WEAK_ESTIMATE_S else
                f" (±{uncertainty:.0f} s)")
        warnings.append(Warn(str(arrival.clip.path), (
            f"injection time estimated as {format_clock(arrival.injection)}{weak}: contrast arrives at "
            f"{format_clock(arrival.arrival)}, taken as {ARRIVAL_DELAY_S:g} s after injection; "
            "confirm it with --injection-time HH:MM:SS")))
        return arrival.injection, "estimated", uncertainty
    if any(c.start is not None for c in clips):
        warnings.append(Warn(str(root), "no injection time, and it cannot be estimated (no Contrast/Bolus "
                                        "Start Time; no clip shows contrast arriving from a dark start): "
                                        "pass --injection-time HH:MM:SS to fill contrast slots"))
    return None, None, None


def _estimate_uncertainty(arrival: Arrival) -> float:
    """How far an estimated injection may be off: the spread of Sonazoid's arrival delay (10-20 s, so
    ±ARRIVAL_SPREAD_S around the delay used) plus half the time between the sampled frames. An arrival
    within one sample of the clip's start may have been missed in part: the spacing then counts fully."""
    clip = arrival.clip
    n = min(clip.usable_frames, SAMPLES_PER_CLIP)
    offsets = clip.frame_offsets_s
    duration = float(offsets[clip.usable_frames - 1]) if offsets is not None and clip.usable_frames else 0.0
    spacing = duration / max(n - 1, 1)
    early = clip.start is not None and (arrival.arrival - clip.start).total_seconds() < 1.5 * spacing
    return ARRIVAL_SPREAD_S + (spacing if early else spacing / 2)


def _identified(clip: Clip) -> bool:
    return clip.patient_id is not None or clip.study_uid is not None


def _auto_slot(slot: Slot, main: list[ClipEntry], side: str | None, have_injection: bool,
               pre_contrast_s: float, notes: dict[str, tuple[str, str]] | None = None,
               identified: bool = False) -> SlotFrame | None:
    """The frame nearest the slot's target inside its window; for the B-mode slot, the last frame before
    injection (else the B-mode panel of a dual display before ``pre_contrast_s``, when the earliest
    contrast window opens and contrast may have arrived).

    In a study whose clips carry the patient's identity, a file without any (a still or video whose
    time came from EXIF or its name) fills a slot only when no identified clip fits it, and ``notes``
    says so; two clips equally near the target (the same acquisition time) are named in ``notes`` too.
    """
    if not have_injection:
        return None
    best: tuple[float, int, ClipEntry, int] | None = None  # (distance, order, entry, frame)
    ties: list[ClipEntry] = []
    for order, e in enumerate(main):
        if e.start_s is None or e.layout is None or e.clip.truncated:
            continue
        t = _frame_times(e)
        if slot.kind == "bmode":
            pre = np.flatnonzero(t < 0)
            if len(pre):
                i = int(pre[np.argmax(t[pre])])
                cand = (float(-t[i]), order, e, i)
            elif e.layout.dual and t[0] < pre_contrast_s:
                cand = (1e6 + float(t[0]), order, e, 0)  # after injection: only when nothing precedes it
            else:
                continue
        else:
            lo, hi = slot.window_s or (0.0, 0.0)
            inside = np.flatnonzero((t >= lo) & (t <= hi))
            if not len(inside):
                continue
            target = float(slot.target_s if slot.target_s is not None else (lo + hi) / 2)
            i = int(inside[np.argmin(np.abs(t[inside] - target))])
            cand = (abs(float(t[i]) - target), order, e, i)
        if identified and not _identified(e.clip):
            cand = (cand[0] + 1e9, *cand[1:])  # after every identified clip
        if best is None or cand[:2] < best[:2]:
            best, ties = cand, []
        elif cand[0] == best[0]:
            ties.append(e)
    if best is None:
        return None
    _, _, e, i = best
    if notes is not None:
        notes.pop(slot.name, None)
        if ties:
            others = ", ".join(t.clip.path.name for t in ties)
            why = (f"slot {slot.name}: {others} is as near its target (e.g. the same time); this file was "
                   "used (file order) - check the slot, or assign one with --assign FILE=SLOT")
            notes[slot.name] = (str(e.clip.path), why)
        elif identified and not _identified(e.clip):
            why = (f"slot {slot.name} is filled from a file without patient identity (no DICOM clip of the "
                   "study fits it): check it is this patient's")
            notes[slot.name] = (str(e.clip.path), why)
    role = "bmode" if slot.kind == "bmode" else "contrast"
    assert e.layout is not None
    panel, spacing = e.layout.panel(role, side)
    return SlotFrame(e.clip, i, e.frame_t_s(i), panel, spacing, "auto")


def _frame_times(e: ClipEntry) -> np.ndarray:
    n = e.clip.usable_frames
    offsets = e.clip.frame_offsets_s
    if offsets is None:
        return np.asarray([e.start_s], dtype=float)  # frame times unknown: only the first frame counts
    if e.start_s is None:  # callers pass timed clips only
        raise ValueError(f"{e.clip.path}: clip has frame offsets but no start time")
    return float(e.start_s) + np.asarray(offsets[:n], dtype=float)


def _find_entry(file: str, entries: list[ClipEntry], root: Path) -> ClipEntry | None:
    p = Path(file)
    target = (p if p.is_absolute() else root / p).resolve()
    for e in entries:
        if e.clip.path.resolve() == target:
            return e
    return None


def _check_slot(name: str, protocol: Protocol) -> Slot:
    try:
        return protocol.slot(name)
    except KeyError as err:
        raise BadStudyOption(f"unknown slot {name!r}; slots are {', '.join(protocol.slot_names)}") from err


def _slot_frame_for(e: ClipEntry, slot: Slot, side: str | None, index: int | None, source: str) -> SlotFrame:
    if index is None:
        index = _frame_near_target(e, slot)
    layout = e.layout or ClipLayout(((0, 0, e.clip.cols, e.clip.rows),), "frame", (None,))
    panel, spacing = layout.panel("bmode" if slot.kind == "bmode" else "contrast", side)
    t_s = e.frame_t_s(index) if e.clip.frame_offsets_s is not None or index == 0 else None
    return SlotFrame(e.clip, index, t_s, panel, spacing, source)


def _frame_near_target(e: ClipEntry, slot: Slot) -> int:
    """For an assigned clip: nearest the target when timed, else the middle frame (stills: the only one)."""
    n = e.clip.usable_frames
    if e.start_s is None or e.clip.frame_offsets_s is None:
        return n // 2
    t = _frame_times(e)
    if slot.kind == "bmode":
        pre = np.flatnonzero(t < 0)
        return int(pre[-1]) if len(pre) else 0
    return int(np.argmin(np.abs(t - float(slot.target_s or 0.0))))


def _apply_assignments(assign: dict[str, str], entries: list[ClipEntry], protocol: Protocol,
                       side: str | None, root: Path, fixed: dict[str, SlotFrame]) -> dict[str, SlotFrame]:
    out: dict[str, SlotFrame] = {}
    for file, name in assign.items():
        slot = _check_slot(name, protocol)
        e = _find_entry(file, entries, root)
        if e is None:
            raise BadStudyOption(f"--assign {file}={name}: {file} is not a readable clip of this study")
        if e.excluded in ("other patient", "other study"):
            raise BadStudyOption(f"--assign {file}={name}: {file} belongs to another {e.excluded.split()[1]}")
        if e.excluded == "truncated":
            raise BadStudyOption(f"--assign {file}={name}: {file} is truncated and cannot fill a slot")
        if name not in fixed:
            out[name] = _slot_frame_for(e, slot, side, None, "assigned")
    return out


def _apply_overrides(overrides: dict[str, dict], entries: list[ClipEntry], protocol: Protocol,
                     side: str | None, warnings: list[Warn], root: Path) -> dict[str, SlotFrame]:
    out: dict[str, SlotFrame] = {}
    for name, spec in overrides.items():
        slot = _check_slot(name, protocol)
        file = str(spec.get("path", ""))
        e = _find_entry(file, entries, root)
        if e is None or e.excluded is not None:
            warnings.append(Warn(file or str(root), f"slot override for {name}: no usable clip; ignored"))
            continue
        index = int(spec.get("frame_index", 0))
        if not 0 <= index < e.clip.usable_frames:
            warnings.append(Warn(file, f"slot override for {name}: frame {index} does not exist; ignored"))
            continue
        out[name] = _slot_frame_for(e, slot, side, index, "override")
    return out
