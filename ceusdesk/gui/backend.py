"""The app's only door to the core: the same calls, with the same arguments, that the CLI makes.

Everything here is plain Python (no Qt) and runs in workers. The window keeps a :class:`StudyParams`
(what the user chose: injection time, slot overrides, contrast panel) and re-opens the study with it,
so an override in the app means exactly what ``--assign``/``--injection-time`` mean on the CLI.

A result belongs to its inputs: :class:`AnalysisRun` holds what one analysis was computed from (the study
object, its ROIs, the panels, the user's confirmations); the report, the training case and the audit
record are built from the run and its result, never from what the window shows later.
"""
from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ceusdesk.base.errors import Cancelled
from ceusdesk.base.roi import Roi
from ceusdesk.ingest.decode import FrameError

if TYPE_CHECKING:
    from ceusdesk.ingest.panels import Box

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
        from ceusdesk.study.assemble import open_study

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
    liver_roi: Roi | None = None  # the reference liver ROI set by the user; None: placed automatically


@dataclass(frozen=True)
class Inputs:
    """Everything a result depends on, comparable: a result is shown only while these are unchanged."""

    study: int  # the window's generation number of the loaded study (a re-open is a new study)
    roi: Roi | None
    rois: tuple[tuple[str, Roi], ...]
    track: bool
    slots: tuple[tuple[str, str, int], ...]  # slot, clip path, frame index as the study assigns them
    injection: tuple[str | None, str | None]  # time, source
    contrast_panel: str | None
    model: str | None
    liver_roi: Roi | None = None  # set by the user (None: automatic placement)


def as_roi(values: Sequence[Any]) -> Roi:
    """X, Y, W, H as ints (from a tuple, or a list read back from a result's JSON)."""
    x, y, w, h = values
    return int(x), int(y), int(w), int(h)


def _ints(roi: Roi | None) -> Roi | None:
    return None if roi is None else as_roi(roi)


def inputs_of(study: Any, generation: int, params: AnalysisParams | None) -> Inputs:
    """The :class:`Inputs` of ``study`` (loaded as ``generation``) with the window's analysis parameters."""
    slots = tuple((name, str(sf.clip.path), int(sf.frame_index))
                  for name, sf in (study.slots or {}).items() if sf is not None)
    inj = study.injection_time
    return Inputs(
        study=generation,
        roi=_ints(params.roi) if params is not None else None,
        rois=tuple(sorted((k, as_roi(r)) for k, r in (params.rois if params else {}).items())),
        track=bool(params and params.track_roi),
        slots=slots,
        injection=(inj.isoformat() if inj is not None else None, study.injection_source),
        contrast_panel=study.contrast_panel,
        model=params.model if params else None,
        liver_roi=_ints(params.liver_roi) if params is not None else None,
    )


@dataclass
class AnalysisRun:
    """One analysis as started: its inputs and the objects it used, kept with its result."""

    generation: int  # the token a late result is checked against
    inputs: Inputs
    study: Any
    params: AnalysisParams
    panels: dict[str, np.ndarray | None]
    injection_confirmed: bool = False


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


def all_slot_panels(study: Any, cancel: CancelFn | None = None) -> dict[str, np.ndarray | None]:
    """Every slot's panel image (one decode per distinct frame), as the analysis will see them."""
    _check(cancel)
    from ceusdesk.study.frames import slot_panels

    return slot_panels(study)


def clip_frame(clip: Any, index: int) -> np.ndarray:
    """One decoded frame (RGB uint8); raises ``FrameError`` for a frame that cannot be decoded."""
    from ceusdesk.ingest import read_frame

    return read_frame(clip, index)


def _check(cancel: CancelFn | None) -> None:
    if cancel is not None and cancel():
        raise Cancelled("cancelled")


class CancellableSession:
    """An ONNX Runtime session whose runs stop when ``cancel()`` turns true: a watcher sets the run's
    ``terminate`` flag, so Cancel also stops a model run in progress (the phase-importance batch)."""

    POLL_S = 0.05

    def __init__(self, session: Any, cancel: CancelFn):
        self._session, self._cancel = session, cancel

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)

    def run(self, output_names: Any, feeds: Any, run_options: Any = None) -> Any:
        import onnxruntime as ort

        _check(self._cancel)
        options = run_options or ort.RunOptions()
        done = threading.Event()

        def watch() -> None:
            while not done.wait(self.POLL_S):
                if self._cancel():
                    options.terminate = True
                    return

        watcher = threading.Thread(target=watch, name="cancel-watch", daemon=True)
        watcher.start()
        try:
            return self._session.run(output_names, feeds, options)
        except Exception as err:
            if self._cancel():
                raise Cancelled("cancelled during a model run") from err
            raise
        finally:
            done.set()
            watcher.join()


def analyze(study: Any, params: AnalysisParams, panels: Mapping[str, np.ndarray | None] | None = None,
            progress: Progress | None = None, cancel: CancelFn | None = None) -> dict[str, Any]:
    """The analyze result dict (design.md's ``result``) from the one analysis every front end runs
    (:func:`ceusdesk.analysis.analyze_study`): resolve the package (setting → env → default), verify and
    load it once, classify, measure the evidence.

    ``panels`` are the slot images the window already decoded (the same images the engine would decode).
    Cancel is checked between the steps, stops a model run in progress (:class:`CancellableSession`) and
    is checked before each frame the evidence decodes.
    """
    from ceusdesk.analysis import AnalysisRequest, analyze_study
    from ceusdesk.inference import get_model
    from ceusdesk.model_package.resolve import resolve_model

    report = progress or (lambda _d, _t: None)
    _check(cancel)
    report(0, 4)
    model = get_model(resolve_model(params.model), threads=params.threads or None)
    if cancel is not None:  # a copy: the cached model's own session stays as it is
        model = dataclasses.replace(model, session=CancellableSession(model.session, cancel))
    _check(cancel)
    report(1, 4)

    def reader(clip: Any, index: int) -> np.ndarray:
        _check(cancel)
        return clip_frame(clip, index)

    def step(done: int, _total: int) -> None:  # the analysis's two steps after loading: 2 → 4
        _check(cancel)
        report(2 + done, 4)

    request = AnalysisRequest(roi=params.roi, rois=dict(params.rois or {}), track_roi=params.track_roi,
                              liver_roi=params.liver_roi)
    return analyze_study(study, model, request, panels=panels, reader=reader, progress=step)


def liver_roi_notes(liver_roi: Roi, roi: Roi | None, panel: np.ndarray | None) -> list[str]:
    """What the evidence will say of a user's liver ROI on the reference ``panel`` (the core's own check,
    so the app refuses and notes exactly what the analysis would): raises ``BadRoi`` when its centre lies
    outside the panel; the overlap note when it overlaps the lesion ``roi``."""
    from ceusdesk.base.errors import BadRoi
    from ceusdesk.evidence.compute import check_liver_roi

    if panel is None:
        raise BadRoi("the liver ROI needs the contrast image of the reference slot: open a study first")
    # no lesion ROI yet: only the panel check (an empty ROI overlaps nothing)
    return check_liver_roi(as_roi(liver_roi), roi if roi is not None else (0, 0, 0, 0),
                           panel.shape)


def reference_slot(study: Any, panels: Mapping[str, np.ndarray | None]) -> str | None:
    """The slot the shared ROI is drawn on (the first contrast slot with an image), as the engine says."""
    from ceusdesk.inference.inputs import reference_slot as ref

    return ref(panels, study.protocol)


def roi_to_reference(study: Any, roi: Roi, slot: str, panels: Mapping[str, np.ndarray | None]) -> Roi:
    """An ROI drawn on ``slot``'s panel in the reference panel's pixels (B-mode at another zoom)."""
    from ceusdesk.inference.inputs import roi_to_reference as to_ref

    return to_ref(study, roi, slot, panels, protocol=study.protocol)


def place_rois(study: Any, roi: Roi, user_rois: Mapping[str, Roi],
               panels: Mapping[str, np.ndarray | None]) -> dict[str, Roi]:
    """Each slot's ROI as the analysis places it, without tracking (the analysis reports tracked ones).

    Falls back to the hand-set ROIs alone when the ROI cannot be placed; the analysis then says why.
    """
    from ceusdesk.base.errors import BadRoi
    from ceusdesk.inference.inputs import place_rois as place

    try:
        return place(study, roi, panels, protocol=study.protocol, rois=user_rois).rois
    except BadRoi as err:
        log.info("ROI preview: %s", err)
        return dict(user_rois)


def other_side(side: str | None) -> str:
    """The contrast side after a swap (a single display has none: "left" then means the only panel)."""
    return "left" if side == "right" else "right"


def clip_panels(study: Any, row: int) -> tuple[Box | None, Box | None]:
    """(contrast, B-mode) panel boxes of a clip as the study reads it; B-mode None on a single display."""
    layout = getattr(study.clips[row], "layout", None)
    if layout is None:
        return None, None
    side = getattr(study, "contrast_panel", None)
    contrast = tuple(layout.panel("contrast", side)[0])
    bmode = tuple(layout.panel("bmode", side)[0]) if layout.dual else None
    return contrast, bmode


# ---------------------------------------------------------------- what the app must ask about

def side_sure(study: Any) -> bool:
    """Whether the study's contrast side needs no question: a single display, cues that settle it, or
    the user's own choice (the study re-opened with ``contrast_panel=``)."""
    return not getattr(study, "contrast_panel_unsure", False)


def side_chosen_by_user(study: Any) -> bool:
    return study.contrast_panel is not None and getattr(study, "contrast_panel_source", None) == "user"


def side_evidence(study: Any) -> list[dict[str, Any]]:
    """The cues the study weighed ({cue, favours, strength}), for the side question's text."""
    return [dict(e) for e in getattr(study, "contrast_panel_evidence", None) or []]


def side_images(study: Any) -> dict[str, np.ndarray]:
    """{"left": image, "right": image}: both panels of one frame of the first contrast clip (the 0:30
    slot's frame when there is one), for the user to say which one shows contrast."""
    order = [sf.clip for name, sf in (study.slots or {}).items()
             if sf is not None and name != "B"]
    order += [e.clip for e in study.clips if e.excluded is None]
    for clip in order:
        entry = next((e for e in study.clips if e.clip is clip), None)
        layout = getattr(entry, "layout", None)
        if layout is None or not layout.dual:
            continue
        sf = next((sf for sf in (study.slots or {}).values() if sf is not None and sf.clip is clip), None)
        index = sf.frame_index if sf is not None else max(0, clip.usable_frames // 2)
        try:
            frame = clip_frame(clip, index)
        except FrameError as err:  # the question is still asked; the viewer shows the clips
            log.warning("side question: %s", err)
            continue
        return {side: np.ascontiguousarray(frame[y0:y1, x0:x1])
                for side, (x0, y0, x1, y1) in zip(("left", "right"), layout.panels, strict=True)}
    return {}


def not_acquired(study: Any) -> list[str]:
    """The protocol's slots that no frame fills (the study names them for every phase set)."""
    return list(study.missing)


def slot_flags(study: Any) -> dict[str, tuple[list[str], float | None]]:
    """slot → (flags, seconds from its target) for the slots filled from a doubtful frame
    (``far_from_target``, ``clip_reused``: ``Study.slot_flags``)."""
    out = {}
    for name in study.slots:
        flags = study.slot_flags(name)
        if flags:
            out[name] = (flags, study.slot_offset_s(name))
    return out


def missing_for_early(study: Any) -> list[str]:
    """The early-set slots no frame fills (no classification until they are), protocol order."""
    if study.phase_set != "incomplete":
        return []
    have = {n for n, sf in (study.slots or {}).items() if sf is not None}
    return [n for n in study.protocol.early_set if n not in have]


def slot_caption(study: Any, slot: str) -> str:
    """Which frame fills ``slot``: "US0002 · f7/7 · 0:51 (−9 s)" (``report.slot_caption``)."""
    from ceusdesk.outputs.wording import slot_caption as caption

    sf = (study.slots or {}).get(slot)
    if sf is None:
        return caption(None, None, None, None, None)
    return caption(str(sf.clip.path), sf.frame_index, sf.clip.n_frames, sf.t_s, study.slot_offset_s(slot))


def kupffer_due(study: Any, now: Any = None) -> tuple[Any, float, str] | None:
    """(clock time, seconds from now, slot) when the first missing full-set slot (the Kupffer phase) is
    due, for an early set whose exam may still be running (now before that slot's window closes)."""
    from datetime import datetime, timedelta

    inj, protocol = study.injection_time, study.protocol
    if study.phase_set != "early" or inj is None:
        return None
    missing = [n for n in protocol.full_set if (study.slots or {}).get(n) is None]
    slot = protocol.slot(missing[0]) if missing else None
    if slot is None or slot.target_s is None:
        return None
    now = now or datetime.now(inj.tzinfo)
    due = inj + timedelta(seconds=float(slot.target_s))
    closes = inj + timedelta(seconds=float(slot.window_s[1] if slot.window_s else slot.target_s))
    if not (inj <= now <= closes):
        return None
    return due, (due - now).total_seconds(), slot.name


def injection_needs_confirmation(study: Any) -> bool:
    return str(getattr(study, "injection_source", "")) == "estimated"


# ---------------------------------------------------------------- outputs of a run: audit, report, case

def audit_run(run: AnalysisRun, result: Mapping[str, Any]) -> None:
    """The analysis's audit record, under the run's own study and ROI."""
    from ceusdesk.analysis import record_analysis

    record_analysis(run.study, result, run.params.roi, "app")


def audit_side_choice(study: Any, side: str) -> None:
    """The user's answer to "which panel shows contrast?" goes into the audit log."""
    from datetime import UTC, datetime

    from ceusdesk.outputs import audit

    audit.append_record({
        "time": datetime.now(UTC).isoformat(timespec="seconds"), "event": "contrast_panel_chosen",
        "source": "app", "patient": audit.hash_id(study.patient_id),
        "study": audit.hash_id(str(Path(study.root).resolve())), "contrast_panel": side,
        "automatic": study.contrast_panel, "sure": side_sure(study),
    })


def used_rois(run: AnalysisRun, result: Mapping[str, Any]) -> dict[str, Roi]:
    """slot → the ROI the analysis placed there (tracked, adjusted, mapped or as given)."""
    return {k: as_roi(v) for k, v in (result.get("rois") or {}).items()}


def used_slot_times(run: AnalysisRun, result: Mapping[str, Any]) -> dict[str, float]:
    """slot → its frame's time after injection (s), for the slots the analysis used (the curve's marks)."""
    from ceusdesk.outputs.evidence_wording import slot_times

    return slot_times(run.study.slots or {}, list(result.get("slots_used") or []))


def report_input(run: AnalysisRun, result: Mapping[str, Any]) -> Any:
    from ceusdesk.outputs.report import ReportInput, patient_of

    return ReportInput(study=run.study.to_json(), result=dict(result), roi=run.params.roi,
                       panels=dict(run.panels), rois=used_rois(run, result), patient=patient_of(run.study),
                       study_path=str(run.study.root), injection_confirmed=run.injection_confirmed)


def write_report(path: str | Path, run: AnalysisRun, result: Mapping[str, Any], deidentify: bool) -> str:
    from ceusdesk.outputs.pdf import write_report as write

    return str(write(path, report_input(run, result), deidentify=deidentify)[0])


def send_destination() -> Any:
    """The PACS IT configured, or None (then the app offers no Send); a malformed setting is logged and
    treated as none, so a typo by IT cannot stop the app from starting."""
    from ceusdesk.outputs.dicom.send import BadDestination, configured_destination

    try:
        return configured_destination()
    except BadDestination as err:
        log.warning("$CEUSDESK_SEND_TO ignored: %s", err)
        return None


def export_dicom(folder: str | Path, run: AnalysisRun, result: Mapping[str, Any], deidentify: bool) -> Any:
    """File ▸ Export to DICOM: the same objects as ``analyze --dicom-out`` (ceusdesk.outputs.dicom)."""
    from ceusdesk.outputs.dicom import export_results

    return export_results(folder, run.study, result, report_input(run, result), deidentify=deidentify,
                          source="app")


def send_results(run: AnalysisRun, result: Mapping[str, Any], deidentify: bool, destination: Any,
                 progress: Any = None) -> str:
    """File ▸ Send to PACS: export into the outbox of the user data folder, then C-STORE to the destination
    IT configured. The files stay in the outbox; a failure names the destination, the status and them."""
    import uuid

    from ceusdesk.outputs.audit import data_dir
    from ceusdesk.outputs.dicom.send import SendFailed, calling_aet, result_files, send

    # a folder per export (no patient data in its name): a failed send leaves exactly its own objects
    exported = export_dicom(data_dir() / "outbox" / uuid.uuid4().hex[:12], run, result, deidentify)
    if not exported.dicom:
        return exported.message
    folder = exported.paths[0].parent
    files = [(p, ds) for p, ds in result_files(folder)[0] if p in exported.paths]
    try:
        report = send(files, destination, calling=calling_aet(), progress=progress, source="app")
    except SendFailed as err:
        raise SendFailed(f"{err} ({folder})", err.report) from err
    return f"stored {len(report.stored)} object(s) in {destination}"


def save_case(folder: str | Path, run: AnalysisRun, result: Mapping[str, Any], label: str) -> str:
    """The training case of what the analysis used: its frames, its shared ROI and every slot ROI that
    differs from it (tracked ones included), so the trainer sees the same inputs."""
    from ceusdesk.outputs.training_case import save_training_case

    roi = as_roi(run.params.roi)
    slot_rois = {k: v for k, v in used_rois(run, result).items() if v != roi}
    return str(save_training_case(folder, run.study, roi, label, slot_rois=slot_rois))
