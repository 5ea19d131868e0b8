"""Synthesize one study (``synthesize_case``) or a cohort with cases.jsonl (``synthesize_cohort``)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import multiprocessing as mp
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..protocol import default_protocol
from .compose import Layout, compose_dual, compose_single
from .export import ClipInfo, StudyInfo, clean_dir, write_clip, write_dicomdir, write_video
from .options import PhantomOptions
from .params import CaseParams, sample_case
from .render import Renderer
from .schedule import Clip, make_schedule
from .subtypes import LABELS
from .washout import washout_score

log = logging.getLogger(__name__)

MIXED_SHARE = 0.8
PATIENT_SALT = "ceusdesk-phantom-1"


def roi_of(renderer: Renderer) -> list[int]:
    """[x, y, w, h] in contrast-panel pixels: a square centred on the lesion, side 1.6 diameters."""
    cx, cy, r = renderer.scene.lesion_px
    side = int(round(3.2 * r))
    x = int(round(cx - side / 2))
    y = int(round(cy - side / 2))
    x = min(max(x, 0), renderer.width - side)
    y = min(max(y, 0), renderer.height - side)
    return [x, y, side, side]


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
        bmode = renderer.bmode_panel(shift, gain_offset_db=-2.0)
        frames.append(compose_dual(layout, contrast, bmode, contrast_side, float(t), depth, mi))
    return np.stack(frames)


def _patient_hash(seed: int, case_id: str) -> str:
    return hashlib.sha256(f"{PATIENT_SALT}:{seed}:{case_id}".encode()).hexdigest()[:16]


def synthesize_case(out_dir: Path | str, *, seed: int, label: str | None = None, subtype: str | None = None,
                    options: PhantomOptions | None = None, case_id: str | None = None,
                    textbook: bool = False) -> dict:
    """Write one phantom study under ``out_dir`` and return its cases.jsonl record.

    ``textbook``: the subtype's classic picture (demo, self-test), see ``params.sample_case``.

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
    params: CaseParams = sample_case(np.random.default_rng([seed, 0]), label=label, subtype=subtype,
                                     textbook=textbook)
    srng = np.random.default_rng([seed, 3])  # study-level draws: side, times, encodings, schedule
    side = options.contrast_side or str(srng.choice(["left", "right"]))
    day = dt.date(2022, 1, 3) + dt.timedelta(days=int(srng.integers(0, 900)))
    inj = dt.datetime.combine(day, dt.time(9)) + dt.timedelta(seconds=int(srng.integers(0, 7.5 * 3600)))
    birth = dt.date(1940, 1, 1) + dt.timedelta(days=int(srng.integers(0, 40 * 365)))
    mi = float(srng.uniform(0.16, 0.26))
    clips = make_schedule(srng, options)
    encodings = ["jpeg"] * len(clips)
    if options.encoding is not None:
        encodings = [options.encoding] * len(clips)
    elif srng.random() < MIXED_SHARE:  # most studies hold one RLE or uncompressed clip among JPEG ones
        encodings[int(srng.integers(len(clips)))] = str(srng.choice(["rle", "raw"]))
    w, h = options.panel_size
    layout = Layout(w, h)
    renderer = Renderer(params, w, h, seed)
    patient = _patient_hash(seed, case_id)
    study = StudyInfo(
        uid_seed=f"ceusdesk-phantom:{seed}:{case_id}", patient_name=f"PHANTOM^{case_id.upper()}",
        patient_id=f"PH{patient[:10].upper()}", birth_date=birth.strftime("%Y%m%d"),
        sex=str(srng.choice(["M", "F"])), study_start=inj + dt.timedelta(seconds=clips[0].start_s - 120.0),
        injection=inj,
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
    log.debug("phantom case %s: %s, %d clips", case_id, params.subtype, len(clips))
    return {
        "case_id": case_id, "study": case_id, "label": params.label, "subtype": params.subtype,
        "roi": roi_of(renderer), "washout_score": score, "patient": patient,
        "injection_time": inj.strftime("%H:%M:%S"), "contrast_panel": side, "source": "phantom",
    }


def cohort_labels(cases: int, seed: int, class_mix: tuple[int, int, int]) -> list[str]:
    """Labels in the proportions of ``class_mix`` (largest remainder), shuffled by ``seed``."""
    mix = np.asarray(class_mix, dtype=float)
    if mix.shape != (3,) or (mix < 0).any() or mix.sum() <= 0:
        raise ValueError(f"class_mix {class_mix} must be three non-negative counts, not all zero")
    exact = cases * mix / mix.sum()
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: cases - counts.sum()]:
        counts[i] += 1
    labels = [lab for lab, c in zip(LABELS, counts, strict=True) for _ in range(c)]
    np.random.default_rng([seed, 9]).shuffle(labels)
    return labels


def case_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def _one(job: tuple[str, int, str, str, PhantomOptions]) -> dict:
    out, seed, label, case_id, options = job
    return synthesize_case(Path(out), seed=seed, label=label, options=options, case_id=case_id)


def synthesize_cohort(out_dir: Path | str, *, cases: int, seed: int, options: PhantomOptions | None = None,
                      workers: int | None = None, class_mix: tuple[int, int, int] = (48, 78, 55),
                      progress: Callable[[int, int], None] | None = None) -> list[dict]:
    """Write ``cases`` studies and ``out_dir/cases.jsonl``; each case seeded from (seed, index).

    ``progress(done, total)`` is called after every finished case (e.g. to advance a tqdm bar).
    """
    if cases < 1:
        raise ValueError("cases must be at least 1")
    options = options or PhantomOptions()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    labels = cohort_labels(cases, seed, class_mix)
    jobs = [(str(out_dir), case_seed(seed, i), labels[i], f"case{i:05d}", options) for i in range(cases)]
    workers = min(cases, workers or os.cpu_count() or 1)
    records: list[dict] = []
    if workers <= 1:
        for job in jobs:
            records.append(_one(job))
            if progress:
                progress(len(records), cases)
    else:
        with mp.get_context("spawn").Pool(workers) as pool:
            for rec in pool.imap(_one, jobs):
                records.append(rec)
                if progress:
                    progress(len(records), cases)
    tmp = out_dir / "cases.jsonl.tmp"
    tmp.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    tmp.replace(out_dir / "cases.jsonl")
    log.info("phantom cohort: %d cases in %s", cases, out_dir)
    return records
