"""The washout reader: a washout score from the rendered, noisy ROI intensities, as a reader would see them.

Input: per case and slot, the mean grey of the lesion (central disk of the ROI) and of a liver reference
disk beside it at the same depth (trainer.cache computes them from the decoded slot frames through
ceusdesk's own ingestion, ROI placement and panel crop). Not the phantom generator's true ratios.

Score = the largest relative washout, 1 − lesion / liver, over the reader's slots: ``full`` reads the
late phases (2:00 and later, Kupffer included); ``early`` is limited to what an early study shows
(≤ 2 min: 1:00 and 2:00). Higher = more washout = more suspicious. A case without any readable slot
gets NaN and is left out of the reader's rows (their ``n`` says how many were scored).
"""

from __future__ import annotations

import numpy as np

from ceusdesk.protocol import Protocol

READERS = {"full": (120.0, None), "early": (60.0, 120.0)}  # slot target time window [lo, hi] in seconds
MIN_LIVER_GREY = 1.0  # a black liver reference (outside the sector) cannot be read


def reader_slots(protocol: Protocol, reader: str) -> list[int]:
    lo, hi = READERS[reader]
    return [i for i, s in enumerate(protocol.slots)
            if s.target_s is not None and s.target_s >= lo and (hi is None or s.target_s <= hi)]


def washout_scores(intensities: np.ndarray, protocol: Protocol, reader: str) -> np.ndarray:
    """float64 [N] washout score from ``intensities`` [N, n_slots, 2] (lesion, liver mean grey)."""
    x = np.asarray(intensities, dtype=np.float64)[:, reader_slots(protocol, reader)]
    lesion, liver = x[..., 0], x[..., 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        wash = np.where(liver >= MIN_LIVER_GREY, 1.0 - lesion / liver, np.nan)
    out = np.full(len(x), np.nan)
    ok = np.isfinite(wash).any(axis=1)
    out[ok] = np.nanmax(wash[ok], axis=1)
    return out
