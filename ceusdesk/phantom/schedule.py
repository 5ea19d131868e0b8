"""When the sonographer records clips: the protocol as a scanner's clip list shows it.

Standard acquisition: every clip within ±4 s of its minute. Clinical acquisition, as sonographers really
hit it: most clips within ±10 s (slightly late on average), some 15–25 s off, the 10-min clip often
late, sometimes extra clips at 7–9 min that fit no slot, and in some studies one or more of the
3–6 min clips not recorded. B, the arterial sweep, 1:00, 2:00 and 10:00 are always recorded unless
``missing_slots`` / ``early_only`` say otherwise, so the early and Kupffer sets exist.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ceusdesk.base.protocol import default_protocol
from ceusdesk.phantom.options import COMPACT_FRAMES, PhantomOptions

# clip name → the protocol slot it is meant for (None: no slot, e.g. 7–9 min)
CLIP_SLOTS = {"pre": "B", "arterial": "0:30", "1min": "1:00", "2min": "2:00", "3min": "3:00",
              "4min": "4:00", "5min": "5:00", "6min": "6:00", "10min": "10:00"}
GAP_SHARE = 0.18            # clinical studies missing one or more of the 3–6 min clips
GAPPABLE = ("3min", "4min", "5min", "6min")
OFF_SHARE = 0.15            # clinical clips taken 15–25 s away from their minute
EXTRA_SHARE = 0.3           # studies with clips at 7–9 min (outside every window)


@dataclass(frozen=True)
class Clip:
    index: int
    name: str
    kind: str          # "bmode" (single panel, before injection) or "contrast" (dual display)
    start_s: float     # first frame, seconds after injection
    frames: int
    frame_time_s: float

    def times(self) -> np.ndarray:
        return self.start_s + self.frame_time_s * np.arange(self.frames)


def minute_offset(rng: np.random.Generator, clinical: bool, earliest: float = -25.0) -> float:
    """Seconds between the minute mark and the clip's first frame."""
    if not clinical:
        return float(rng.uniform(-4.0, 4.0))
    if rng.random() < OFF_SHARE:
        off = float(rng.choice([-1.0, 1.0]) * rng.uniform(15.0, 25.0))
    else:
        off = float(np.clip(rng.normal(1.5, 4.0), -10.0, 10.0))
    return off if off >= earliest else -off


def _kupffer_start(rng: np.random.Generator, clinical: bool) -> float:
    if not clinical:
        return 600.0 + float(rng.uniform(-5.0, 40.0))
    if rng.random() < 0.3:  # the Kupffer scan done late, after other work
        return 600.0 + float(rng.uniform(40.0, 180.0))
    return 600.0 + float(rng.uniform(-10.0, 40.0))


def gapped_clips(rng: np.random.Generator, clinical: bool) -> set[str]:
    """3–6 min clips a clinical study does not record (most studies: none)."""
    if not clinical or rng.random() >= GAP_SHARE:
        return set()
    k = int(rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]))
    return {str(c) for c in rng.choice(GAPPABLE, size=k, replace=False)}


def _stop_before_missing(start: float, duration: float, missing: tuple[str, ...]) -> float:
    """Shorten a clip that would run into the window of a slot asked to be missing (e.g. an arterial
    sweep past 50 s when 1:00 is missing), so that slot really stays empty."""
    for slot in default_protocol().contrast_slots:
        if slot.name in missing and slot.window_s is not None and start < slot.window_s[0]:
            duration = min(duration, slot.window_s[0] - 0.5 - start)
    return duration


def make_schedule(rng: np.random.Generator, options: PhantomOptions,
                  fps_choices: tuple[float, ...] = (10.0, 12.0, 15.0)) -> list[Clip]:
    n = options.frames_per_clip
    clinical = options.clinical
    fps = float(rng.choice(fps_choices))
    plan: list[tuple[str, str, float, float]] = []  # name, kind, start, duration
    plan.append(("pre", "bmode", rng.uniform(-60.0, -20.0), 8.0))
    # the arterial sweep starts at or shortly after injection, always before the bolus arrives (9–19 s)
    a0 = rng.uniform(0.0, 8.0) if clinical else rng.uniform(3.0, 7.0)
    a1 = rng.uniform(42.0, 60.0) if clinical else rng.uniform(48.0, 52.0)
    plan.append(("arterial", "contrast", a0, a1 - a0))
    last_minute = 6
    if options.early_only:
        last_minute = 3 if rng.random() < 0.5 else 2
    for m in range(1, last_minute + 1):
        # a 1:00 clip started more than 8 s early would leave the 1:00 window (50–90 s)
        off = minute_offset(rng, clinical, earliest=-8.0 if m == 1 else -25.0)
        plan.append((f"{m}min", "contrast", 60.0 * m + off, rng.uniform(10.0, 15.0)))
    if not options.early_only:
        if rng.random() < EXTRA_SHARE:  # extra clips that fit no slot
            for m in range(7, 7 + int(rng.integers(1, 4))):
                plan.append((f"{m}min", "contrast", 60.0 * m + minute_offset(rng, clinical),
                             rng.uniform(10.0, 15.0)))
        plan.append(("10min", "contrast", _kupffer_start(rng, clinical), rng.uniform(10.0, 15.0)))
    skip = {c for c, s in CLIP_SLOTS.items() if s in set(options.missing_slots)}
    skip |= gapped_clips(rng, clinical)
    clips: list[Clip] = []
    for name, kind, start, duration in plan:
        if name in skip:
            continue
        duration = _stop_before_missing(start, duration, options.missing_slots)
        if options.realistic:
            frames = n if n is not None else max(2, int(round(duration * fps)))
            ft = 1.0 / fps
        else:
            k = n if n is not None else COMPACT_FRAMES
            if name == "arterial":  # spread over the whole sweep so a frame sits near 0:30
                frames = 2 * k - 1
                ft = duration / max(frames - 1, 1)
            else:
                frames, ft = k, (0.5 if kind == "bmode" else 1.0)
        if name == "arterial" and frames == 1:  # one frame: take it mid-sweep, inside the 0:30 window
            start += duration / 2.0
        clips.append(Clip(len(clips), name, kind, float(start), int(frames), float(ft)))
    return clips
