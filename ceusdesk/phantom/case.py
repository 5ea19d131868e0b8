"""Synthesize one study (``synthesize_case``): draw the case, render every clip, write it as exported."""
from __future__ import annotations

import datetime as dt
import logging
import tempfile
from pathlib import Path

import numpy as np

from ceusdesk.base.protocol import default_protocol
from ceusdesk.phantom.compose import Layout, compose_dual, compose_single
from ceusdesk.phantom.export import ClipInfo, StudyInfo, clean_dir, write_clip, write_dicomdir, write_video
from ceusdesk.phantom.options import PhantomOptions
from ceusdesk.phantom.params import CaseParams, sample_case
from ceusdesk.phantom.patients import PatientRef, identity
from ceusdesk.phantom.render import Renderer
from ceusdesk.phantom.scanner import ScannerProfile, draw_side
from ceusdesk.phantom.schedule import Clip, make_schedule
from ceusdesk.phantom.subtypes import LABELS
from ceusdesk.phantom.washout import washout_score

log = logging.getLogger(__name__)

MIXED_SHARE = 0.8


def roi_of(renderer: Renderer) -> list[int]:
    """[x, y, w, h] in contrast-panel pixels: a square centred on the lesion, side 1.6 diameters."""
    cx, cy, r = renderer.scene.lesion_px
    side = int(round(3.2 * r))
    x = int(round(cx - side / 2))
    y = int(round(cy - side / 2))
    x = min(max(x, 0), renderer.width - side)
    y = min(max(y, 0), renderer.height - side)
    return [x, y, side, side]


def lesion_of(renderer: Renderer) -> dict:
    """The lesion's true centre and nominal diameter in contrast-panel pixels (cases.jsonl ``lesion``)."""
    cx, cy, r = renderer.scene.lesion_px
    return {"cx": round(float(cx), 2), "cy": round(float(cy), 2), "diameter_px": round(float(2 * r), 2)}


def render_clip(renderer: Renderer, clip: Clip, layout: Layout, contrast_side: str, mi: float) -> np.ndarray:
    """All frames of one clip as N×H×W×3 uint8."""
    depth = renderer.params.anatomy.depth_cm
    frames = []
    for i, t in enumerate(clip.times()):
        shift = renderer.shift(clip.index, t - clip.start_s, t)
        if clip.kind == "bmode":
            frames.append(compose_single(layout, renderer.bmode_panel(shift), depth))
            continue
        rng = np.random.default_rng([renderer.seed, 4, clip.index, i])
        contrast = renderer.contrast_panel(float(t), rng, shift)
        frames.append(compose_dual(layout, contrast, renderer.reference_panel(shift), contrast_side, float(t),
                                   depth, mi, renderer.profile))
    return np.stack(frames)


def _encodings(rng: np.random.Generator, n: int, options: PhantomOptions) -> list[str]:
    if options.encoding is not None:
        return [options.encoding] * n
    encodings = ["jpeg"] * n
    if rng.random() < MIXED_SHARE:  # most studies hold one RLE or uncompressed clip among JPEG ones
        encodings[int(rng.integers(n))] = str(rng.choice(["rle", "raw"]))
    return encodings


def _side(rng: np.random.Generator, options: PhantomOptions, profile: ScannerProfile) -> str:
    if options.contrast_side is not None:
        return options.contrast_side
    if profile.p_left == 0.5:  # the standard draw (keeps standard studies as they were)
        return str(rng.choice(["left", "right"]))
    return draw_side(rng, profile)


def synthesize_case(out_dir: Path | str, *, seed: int, label: str | None = None, subtype: str | None = None,
                    options: PhantomOptions | None = None, case_id: str | None = None,
                    textbook: bool = False, patient: PatientRef | None = None) -> dict:
    """Write one phantom study under ``out_dir`` and return its cases.jsonl record.

    ``textbook``: the subtype's classic picture (demo, self-test), see ``params.sample_case``.
    ``patient``: a patient shared with other cases (same liver, kinetics, identity and scanner);
    None: the case's own patient.

    Same ``seed`` and options → byte-identical pixel data. The study folder is ``out_dir/case_id``
    (replaced if present).
    """
    options = options or PhantomOptions()
    unknown = set(options.missing_slots) - set(default_protocol().slot_names)
    if unknown:
        raise ValueError(f"missing_slots: unknown slot(s) {sorted(unknown)}")
    if label is not None and label not in LABELS:
        raise ValueError(f"unknown label {label!r}; expected one of {', '.join(LABELS)}")
    out_dir = Path(out_dir)
    case_id = case_id or f"phantom-{seed}"
    shared = patient.draw(textbook) if patient is not None else None
    params: CaseParams = sample_case(np.random.default_rng([seed, 0]), label=label, subtype=subtype,
                                     patient=shared, textbook=textbook)
    who = identity(patient.seed if patient is not None else seed, options)
    profile = who.scanner
    srng = np.random.default_rng([seed, 3])  # study-level draws: side, times, encodings, schedule
    side = _side(srng, options, profile)
    day = dt.date(2022, 1, 3) + dt.timedelta(days=int(srng.integers(0, 900)))
    inj = dt.datetime.combine(day, dt.time(9)) + dt.timedelta(seconds=int(srng.integers(0, int(7.5 * 3600))))
    mi = float(srng.uniform(*profile.mi))
    clips = make_schedule(srng, options, profile.fps)
    encodings = _encodings(srng, len(clips), options)
    layout = Layout.for_scanner(profile, options.panel_size)
    renderer = Renderer(params, layout.panel_w, layout.panel_h, seed, profile)
    study = StudyInfo(
        uid_seed=f"ceusdesk-phantom:{seed}:{case_id}", patient_name=who.name, patient_id=who.patient_id,
        birth_date=who.birth_date, sex=who.sex, model=profile.model,
        study_start=inj + dt.timedelta(seconds=clips[0].start_s - 120.0), injection=inj,
    )
    study_dir = out_dir / case_id
    clean_dir(study_dir)
    study_dir.mkdir(parents=True)
    staged: list[Path] = []
    stage_root = Path(tempfile.mkdtemp(prefix=".stage-", dir=out_dir)) if options.dicomdir else study_dir
    try:
        for clip, encoding in zip(clips, encodings, strict=True):
            frames = render_clip(renderer, clip, layout, side, mi)
            start = inj + dt.timedelta(seconds=clip.start_s)
            if options.video:
                write_video(study_dir / f"CLIP_{start:%H%M%S}", frames, 1.0 / clip.frame_time_s)
                continue
            boxes = [layout.panel_box("single")] if clip.kind == "bmode" else \
                [layout.panel_box("left"), layout.panel_box("right")]
            info = ClipInfo(number=clip.index + 1, start=start, frame_time_s=clip.frame_time_s,
                            contrast=clip.kind == "contrast", regions=boxes,
                            cm_per_px=renderer.scene.geometry.cm_per_px)
            path = stage_root / f"US{clip.index + 1:04d}.dcm"
            write_clip(path, frames, study, info, encoding, options.write_contrast_start)
            staged.append(path)
        if options.dicomdir:
            write_dicomdir(study_dir, staged, study)
    finally:
        if options.dicomdir:
            clean_dir(stage_root)
    score = washout_score(params, np.random.default_rng([seed, 5]))
    log.debug("phantom case %s: %s, %s, %d clips", case_id, params.subtype, profile.name, len(clips))
    return {
        "case_id": case_id, "study": case_id, "label": params.label, "subtype": params.subtype,
        "roi": roi_of(renderer), "washout_score": score, "patient": who.key,
        "injection_time": inj.strftime("%H:%M:%S"), "contrast_panel": side, "source": "phantom",
        "scanner": profile.name, "lesion": lesion_of(renderer),
    }
