"""When the sonographer records clips: the protocol as a scanner's clip list shows it."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .options import COMPACT_FRAMES, PhantomOptions

# clip name → the protocol slot it is meant for (None: no slot, e.g. 7–9 min)
CLIP_SLOTS = {"pre": "B", "arterial": "0:30", "1min": "1:00", "2min": "2:00", "3min": "3:00",
              "4min": "4:00", "5min": "5:00", "6min": "6:00", "10min": "10:00"}


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


def make_schedule(rng: np.random.Generator, options: PhantomOptions) -> list[Clip]:
    n = options.frames_per_clip
    fps = float(rng.choice([10.0, 12.0, 15.0]))
    plan: list[tuple[str, str, float, float]] = []  # name, kind, start, duration
    plan.append(("pre", "bmode", rng.uniform(-60.0, -20.0), 8.0))
    a0 = rng.uniform(3.0, 7.0)
    plan.append(("arterial", "contrast", a0, rng.uniform(48.0, 52.0) - a0))
    last_minute = 6
    if options.early_only:
        last_minute = 3 if rng.random() < 0.5 else 2
    for m in range(1, last_minute + 1):
        plan.append((f"{m}min", "contrast", 60.0 * m + rng.uniform(-4.0, 4.0), rng.uniform(10.0, 15.0)))
    if not options.early_only:
        if rng.random() < 0.3:  # extra clips that fit no slot
            for m in range(7, 7 + int(rng.integers(1, 4))):
                start = 60.0 * m + rng.uniform(-4.0, 4.0)
                plan.append((f"{m}min", "contrast", start, rng.uniform(10.0, 15.0)))
        plan.append(("10min", "contrast", 600.0 + rng.uniform(-5.0, 40.0), rng.uniform(10.0, 15.0)))
    skip = {c for c, s in CLIP_SLOTS.items() if s in set(options.missing_slots)}
    clips = []
    for name, kind, start, duration in plan:
        if name in skip:
            continue
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
