"""The injection time: given by the user, read from Contrast/Bolus Start Time, or estimated from arrival."""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import cast

import numpy as np

from ceusdesk.ingest.layout import ClipLayout, FrameSampler, sample_indices
from ceusdesk.ingest.panels import panel_mean
from ceusdesk.ingest.records import Clip
from ceusdesk.ingest.timing import nearest_on_day

# Sonazoid reaches the liver ~10-20 s after a peripheral injection (primer): the midpoint is used
ARRIVAL_DELAY_S = 15.0
MIN_RISE = 10.0  # grey levels: a smaller rise is noise, not arrival
ARRIVAL_FRACTION = 0.2  # arrival = first crossing of baseline + this fraction of the rise
SAMPLES_PER_CLIP = 24
CLIPS_SEARCHED = 3

_TIME_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?\s*$")


def parse_clock(text: str) -> time:
    """``HH:MM[:SS[.ffffff]]`` → time. Raises ValueError with a readable message."""
    m = _TIME_RE.match(text or "")
    if not m:
        raise ValueError(f"injection time {text!r} must be HH:MM:SS (24-hour clock)")
    h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    frac = int((m.group(4) or "0").ljust(6, "0"))
    if h > 23 or mi > 59 or s > 59:
        raise ValueError(f"injection time {text!r} is not a valid time of day")
    return time(h, mi, s, frac)


def format_clock(dt: datetime) -> str:
    """``HH:MM:SS``, with a fraction only when there is one (so it reads back with :func:`parse_clock`)."""
    text = dt.strftime("%H:%M:%S")
    if dt.microsecond:
        text += f".{dt.microsecond:06d}".rstrip("0")
    return text


def user_injection(text: str, clips: Sequence[Clip]) -> datetime | None:
    """The user's clock time on the study's day (the day nearest the clips' median start)."""
    t = parse_clock(text)
    starts = sorted(c.start for c in clips if c.start is not None)
    if not starts:
        return None
    return nearest_on_day(t, starts[len(starts) // 2])


@dataclass
class DicomInjection:
    time: datetime | None
    conflicting: bool


def dicom_injection(clips: Sequence[Clip]) -> DicomInjection:
    """Contrast/Bolus Start Time across the clips: the most common value; flags disagreement."""
    values = [c.contrast_start for c in clips if c.contrast_start is not None]
    if not values:
        return DicomInjection(None, False)
    counts = Counter(values)
    best = counts.most_common(1)[0][0]
    conflicting = any(abs((v - best).total_seconds()) > 2.0 for v in counts)
    return DicomInjection(best, conflicting)


@dataclass
class Arrival:
    injection: datetime
    arrival: datetime
    clip: Clip


def estimate_injection(
    clips: Sequence[tuple[Clip, ClipLayout]], side: str | None, sampler: FrameSampler
) -> Arrival | None:
    """Estimate the injection from the first clear rise of the contrast panel's mean brightness.

    Looks at the earliest timed clips one by one (a B-mode clip shows no rise and is passed over); in
    each, ``SAMPLES_PER_CLIP`` frames spread over the clip give the curve. Arrival is where the curve
    first crosses baseline + 20 % of its rise; the injection is ``ARRIVAL_DELAY_S`` before it.
    """
    timed = sorted((cl for cl in clips if cl[0].start is not None),
                   key=lambda cl: cast(datetime, cl[0].start))
    for clip, layout in timed[:CLIPS_SEARCHED]:
        box, _ = layout.panel("contrast", side)
        times: list[datetime] = []
        means: list[float] = []
        for i in sample_indices(clip.usable_frames, SAMPLES_PER_CLIP):
            g = sampler.gray(clip, i)
            t = clip.frame_time(i)
            if g is not None and t is not None:
                times.append(t)
                means.append(panel_mean(g, box))
        found = _first_rise(times, np.asarray(means))
        if found is not None:
            # an estimate good to several seconds: whole seconds read better and round-trip as HH:MM:SS
            found = (found + timedelta(microseconds=500_000)).replace(microsecond=0)
            return Arrival(found - timedelta(seconds=ARRIVAL_DELAY_S), found, clip)
    return None


def _first_rise(times: list[datetime], means: np.ndarray) -> datetime | None:
    if len(means) < 3 or len({t for t in times}) < 3:
        return None
    baseline = float(np.median(means[:2]))
    peak = float(means.max())
    rise = peak - baseline
    if rise < MIN_RISE or baseline > 0.5 * peak:
        return None  # no rise, or it did not start dark: nothing to time arrival by
    level = baseline + ARRIVAL_FRACTION * rise
    k = int(np.argmax(means >= level))
    if k == 0:
        return None
    m0, m1 = float(means[k - 1]), float(means[k])
    frac = (level - m0) / (m1 - m0) if m1 > m0 else 1.0
    return times[k - 1] + (times[k] - times[k - 1]) * frac
