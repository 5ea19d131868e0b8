"""Acquisition times and per-frame offsets from DICOM timing tags."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import numpy as np
from pydicom.dataset import Dataset
from pydicom.valuerep import DA, DT, TM

from ceusdesk.ingest.limits import MAX_CLIP_SECONDS, YEARS, plausible

_LABELS = {"FrameTime": "Frame Time", "CineRate": "Cine Rate",
           "RecommendedDisplayFrameRate": "Recommended Display Frame Rate"}
# a disagreement between two timing tags larger than this is reported
CONTRADICTION_S = 2.0


def _text(ds: Dataset, keyword: str) -> str | None:
    value = ds.get(keyword)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def parse_da(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return DA(text)
    except ValueError:
        return None


def parse_tm(text: str | None) -> time | None:
    if not text:
        return None
    try:
        return TM(text)
    except ValueError:
        return None


def parse_dt(text: str | None) -> datetime | None:
    """DICOM DT → naive datetime (the scanner's wall time; a UTC offset is dropped, not applied)."""
    if not text:
        return None
    try:
        value = DT(text)
    except ValueError:
        return None
    return datetime.combine(value.date(), value.time()).replace(tzinfo=None)


def acquisition_start(ds: Dataset) -> tuple[datetime | None, str | None, list[str]]:
    """The clip's start: Acquisition DateTime, else a date + Acquisition Time, else + Content Time.

    Returns the time, which tags gave it, and one-line notes about contradictory tags.
    """
    notes: list[str] = []
    day = None
    for kw in ("AcquisitionDate", "ContentDate", "SeriesDate", "StudyDate"):
        day = parse_da(_text(ds, kw))
        if day:
            break
    candidates: list[tuple[str, datetime]] = []
    acq_dt = parse_dt(_text(ds, "AcquisitionDateTime"))
    if acq_dt is not None:
        candidates.append(("Acquisition DateTime", acq_dt))
    if day is not None:
        for kw, label in (("AcquisitionTime", "Acquisition Time"), ("ContentTime", "Content Time")):
            t = parse_tm(_text(ds, kw))
            if t is not None:
                candidates.append((label, datetime.combine(day, t)))
    wrong = [(label, when) for label, when in candidates if not plausible(when)]
    candidates = [(label, when) for label, when in candidates if plausible(when)]
    if wrong:
        label, when = wrong[0]
        what = (f"using {candidates[0][0]}" if candidates
                else "timing unknown: assign the clip with --assign FILE=SLOT")
        notes.append(f"acquisition date {when.date().isoformat()} ({label}) is outside "
                     f"{YEARS[0]}-{YEARS[1]}: ignored; {what}")
    if not candidates:
        return None, None, notes
    label, start = candidates[0]
    # Content Time legitimately lags (it is when the image was stored); only compare acquisition tags
    if len(candidates) > 1 and candidates[1][0] == "Acquisition Time":
        other_label, other = candidates[1]
        if abs((other - start).total_seconds()) > CONTRADICTION_S:
            notes.append(
                f"contradictory timing tags: {label} {start:%H:%M:%S} vs {other_label} {other:%H:%M:%S}; "
                f"using {label}"
            )
    return start, label, notes


DS_TEXT_BYTES = 17  # one Decimal String value (16 characters at most) and its backslash


def frame_offsets(
    ds: Dataset, n_frames: int, present: int | None = None
) -> tuple[np.ndarray | None, list[str]]:
    """Per-frame seconds from the first frame (Frame Time Vector, Frame Time, or Cine Rate).

    Only the ``present`` frames (default all) get a time, so memory follows the pixel data, not the
    header's claim. Times that put the clip's end more than ``MAX_CLIP_SECONDS`` after its start are
    ignored with a note.
    """
    notes: list[str] = []
    n = n_frames if present is None else max(1, min(n_frames, present))
    if n <= 1:
        return np.zeros(1), notes
    elem = ds.get_item("FrameTimeVector") if "FrameTimeVector" in ds else None
    raw_length = getattr(elem, "length", None) if elem is not None else None
    if isinstance(raw_length, int) and raw_length > DS_TEXT_BYTES * (n + 1):
        # millions of entries would cost a gigabyte as Python numbers; the frames present need n
        notes.append(f"Frame Time Vector is {raw_length} bytes long, too long for {n} frames; ignored")
    elif elem is not None:
        values = _vector_values(ds)
        if values is None:
            notes.append("Frame Time Vector holds values that are not numbers; ignored")
        elif len(values) != n_frames:
            notes.append(f"Frame Time Vector has {len(values)} entries for {n_frames} frames; ignored")
        elif not (np.all(np.isfinite(values)) and np.all(values >= 0)):
            notes.append("Frame Time Vector holds negative, infinite or NaN increments; ignored")
        else:
            # increments in ms between frames; the first entry is 0 by definition
            out = np.cumsum(values[:n]) / 1000.0
            out -= out[0]
            if out[-1] <= MAX_CLIP_SECONDS:
                return out, notes
            notes.append(f"Frame Time Vector makes the clip {out[-1]:.3g} s long; ignored")
    for kw, to_ms in (("FrameTime", lambda v: v), ("CineRate", lambda v: 1000.0 / v if v else 0.0),
                      ("RecommendedDisplayFrameRate", lambda v: 1000.0 / v if v else 0.0)):
        raw = ds.get(kw)
        if raw is None or str(raw).strip() == "":
            continue
        try:
            ms = float(to_ms(float(raw)))
        except (TypeError, ValueError):
            continue
        if ms > 0 and np.isfinite(ms):
            if (n - 1) * ms / 1000.0 <= MAX_CLIP_SECONDS:
                return np.arange(n, dtype=float) * ms / 1000.0, notes
            notes.append(f"{_LABELS[kw]} {ms:.3g} ms per frame makes the clip longer than "
                         f"{MAX_CLIP_SECONDS:g} s; ignored")
    notes.append("no Frame Time (Vector): frame times unknown; the first frame stands for the clip")
    return None, notes


def _vector_values(ds: Dataset) -> np.ndarray | None:
    try:
        return np.atleast_1d(np.asarray(ds.get("FrameTimeVector"), dtype=float))
    except (TypeError, ValueError, OverflowError):
        return None


def contrast_start(ds: Dataset, start: datetime | None) -> datetime | None:
    """Contrast/Bolus Start Time (0018,1042) on the study's date (the clip's date, else Study Date)."""
    t = parse_tm(_text(ds, "ContrastBolusStartTime"))
    if t is None:
        return None
    if start is not None:
        return nearest_on_day(t, start)
    day = parse_da(_text(ds, "StudyDate"))
    when = None if day is None else datetime.combine(day, t)
    return when if plausible(when) else None


def nearest_on_day(t: time, ref: datetime) -> datetime:
    """``t`` on the day before, of, or after ``ref``, whichever is nearest (studies can span midnight)."""
    options = []
    for d in (-1, 0, 1):
        try:
            options.append(datetime.combine(ref.date() + timedelta(days=d), t))
        except OverflowError:  # 0001-01-01 or 9999-12-31: no day before or after
            continue
    return min(options, key=lambda x: abs((x - ref).total_seconds()))
