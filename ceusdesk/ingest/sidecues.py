"""Physical cues that tell the contrast panel of a dual display from the B-mode reference.

Each cue looks at a handful of decoded frames and returns a :class:`Cue`: which side it favours
(``left``, ``right`` or ``none``) and how strongly (0-1). ``strength`` is the cue's own evidence scaled
to 0-1 by a calibration constant named beside it; 0 means "this cue says nothing here" (e.g. no
pre-injection clip, a clip that starts after arrival). :mod:`.sidedecision` weighs and combines them.

The cues (docs/ingest.md, "Contrast side"):

- ``wash_in``: in the first contrast clip the contrast panel starts near black and rises when the
  agent arrives; the reference does not.
- ``bmode_match``: the single-panel B-mode clip recorded before injection shows the same tissue as
  the reference panel (texture and geometry correlate), not the contrast panel.
- ``decorrelation``: bubble echoes change from frame to frame; tissue speckle stays put (after
  allowing for a few pixels of motion).
- ``display_tint``: most scanners draw the contrast image in a warm colour map and B-mode in grey. A
  display convention, not physics: it only counts half.
- ``brightness_change``: the old rule (the contrast panel's mean brightness varies over the exam more
  than B-mode's). Weak: gain changes and bright low-MI presets fool it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ceusdesk.ingest.panels import Box, panel_mean

NONE = "none"
_DARK = 12  # grey level under which a pixel is background (outside the sector)

# calibration constants: the cue's raw difference that counts as full strength (1.0)
WASH_IN_FULL = 0.5  # difference in relative rise (rise / peak) between the sides
WASH_IN_MIN_RISE = 10.0  # grey levels: a smaller rise is noise, not arrival
MATCH_FULL = 0.4  # difference in correlation with the pre-injection B-mode frame
MATCH_MIN = 0.3  # the better side must correlate at least this well to say anything
DECORR_MIN_GAP = 0.1  # correlation gap below which frame-to-frame change is noise
DECORR_FULL = 0.4  # correlation gap (above the minimum) that counts as full strength
DECORR_MIN_STABLE = 0.4  # the stable side must correlate at least this well (else motion blurs both)
TINT_MIN = 6.0  # median chroma (max-min of R, G, B) that counts as a colour map
TINT_GREY = 3.0  # median chroma under which a panel counts as grey
BRIGHTNESS_FULL = 10.0  # grey levels of difference in brightness variation for full strength

_MATCH_SIZE = (64, 48)  # (w, h) both panels are reduced to before correlating (tolerates scale, speckle)
_MATCH_SHIFT = 2  # pixels at the reduced size
_DECORR_SHIFT = 5  # pixels of motion allowed between the two frames
_HP_SIGMA = 1.5  # high-pass: keep speckle, drop the perfusion pattern and gain


@dataclass
class Cue:
    """One cue's verdict. ``detail`` is a short human-readable reason (the GUI and docs show it)."""

    cue: str
    favours: str  # "left" | "right" | "none"
    strength: float  # 0-1
    detail: str

    def to_json(self) -> dict[str, object]:
        return {"cue": self.cue, "favours": self.favours, "strength": round(float(self.strength), 3),
                "detail": self.detail}


def _verdict(name: str, left: float, right: float, strength: float, detail: str,
             higher_is_contrast: bool = True) -> Cue:
    strength = float(np.clip(np.nan_to_num(strength, nan=0.0), 0.0, 1.0))  # JSON stays standard
    if strength <= 0.0 or left == right or not np.isfinite(left - right):
        return Cue(name, NONE, 0.0, detail)
    contrast_left = (left > right) == higher_is_contrast
    return Cue(name, "left" if contrast_left else "right", strength, detail)


def _region(gray: np.ndarray, box: Box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return gray[y0:y1, x0:x1]


# ---- wash-in ------------------------------------------------------------------------------------------
def wash_in(curves: tuple[Sequence[float], Sequence[float]]) -> Cue:
    """Mean brightness of each panel over the first contrast clip (frames in time order).

    Per side, relative rise = (peak after the first frame - first frame) / peak, 0 when the rise is under
    ``WASH_IN_MIN_RISE`` grey levels. The contrast panel rises from near black; strength is the gap
    between the sides over ``WASH_IN_FULL``.
    """
    rel = []
    for curve in curves:
        c = np.asarray(curve, dtype=float)
        if len(c) < 3:
            return Cue("wash_in", NONE, 0.0, "first contrast clip has fewer than 3 decodable frames")
        peak = float(c[1:].max())
        rise = peak - float(c[0])
        rel.append(rise / max(peak, 1.0) if rise >= WASH_IN_MIN_RISE else 0.0)
    gap = abs(rel[0] - rel[1])
    detail = f"relative rise left {rel[0]:.2f}, right {rel[1]:.2f}"
    return _verdict("wash_in", rel[0], rel[1], gap / WASH_IN_FULL, detail)


def panel_means(gray: np.ndarray, boxes: Sequence[Box]) -> tuple[float, float]:
    return panel_mean(gray, boxes[0]), panel_mean(gray, boxes[1])


# ---- pre-injection B-mode match -----------------------------------------------------------------------
def _small(gray: np.ndarray, box: Box) -> np.ndarray:
    return cv2.resize(_region(gray, box), _MATCH_SIZE, interpolation=cv2.INTER_AREA).astype(np.float32)


def _masked_ncc(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    if mask.sum() < 16:
        return 0.0
    x, y = a[mask] - a[mask].mean(), b[mask] - b[mask].mean()
    den = float(np.sqrt((x * x).sum() * (y * y).sum()))
    return float((x * y).sum() / den) if den > 1e-6 else 0.0


def match_score(single: np.ndarray, side: np.ndarray) -> float:
    """Best correlation of two reduced panels over small shifts, inside the single panel's sector."""
    s = _MATCH_SHIFT
    h, w = single.shape
    core = single[s:h - s, s:w - s]
    mask = core > _DARK
    return max(_masked_ncc(core, side[s + dy:h - s + dy, s + dx:w - s + dx], mask)
               for dy in range(-s, s + 1) for dx in range(-s, s + 1))


def bmode_match(single: np.ndarray, single_box: Box, dual: np.ndarray, boxes: Sequence[Box]) -> Cue:
    """Correlate a pre-injection single-panel B-mode frame with each side of an early dual frame.

    The side that shows the same tissue is the reference; strength is the correlation gap over
    ``MATCH_FULL``, zero when neither side correlates at least ``MATCH_MIN``.
    """
    ref = _small(single, single_box)
    left, right = (match_score(ref, _small(dual, b)) for b in boxes)
    detail = f"correlation with the pre-injection B-mode clip: left {left:.2f}, right {right:.2f}"
    strength = abs(left - right) / MATCH_FULL if max(left, right) >= MATCH_MIN else 0.0
    return _verdict("bmode_match", left, right, strength, detail, higher_is_contrast=False)


# ---- frame-to-frame decorrelation ---------------------------------------------------------------------
def _highpass(panel: np.ndarray) -> np.ndarray:
    f = panel.astype(np.float32)
    return f - cv2.GaussianBlur(f, (0, 0), _HP_SIGMA)


def frame_stability(a: np.ndarray, b: np.ndarray, box: Box) -> float | None:
    """Correlation of one panel's speckle between two frames, best over ±``_DECORR_SHIFT`` px of motion.

    Measured in the centre of the panel (inside the sector on every scanner), high-passed so that the
    slowly changing perfusion pattern and gain do not count. None when the panel is too small.
    """
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    s = _DECORR_SHIFT
    cx0, cx1 = x0 + int(0.3 * w), x0 + int(0.7 * w)
    cy0, cy1 = y0 + int(0.3 * h), y0 + int(0.8 * h)
    if cx1 - cx0 < 16 or cy1 - cy0 < 16:
        return None
    templ = _highpass(a[cy0:cy1, cx0:cx1])
    search = _highpass(b[max(cy0 - s, 0):cy1 + s, max(cx0 - s, 0):cx1 + s])
    if float(templ.std()) < 0.5 or float(search.std()) < 0.5:
        return None  # a flat panel (black, or dimmed to nothing) has no speckle to compare
    res = cv2.matchTemplate(search, templ, cv2.TM_CCOEFF_NORMED)
    return float(np.nan_to_num(res, nan=0.0).max())


def decorrelation(pairs: Sequence[tuple[float, float]]) -> Cue:
    """Per frame pair, (left, right) speckle stability; the contrast side decorrelates.

    Strength: the mean stability gap minus ``DECORR_MIN_GAP``, over ``DECORR_FULL``; zero unless the
    stable side holds at least ``DECORR_MIN_STABLE`` (otherwise motion or a frame change hides tissue too).
    """
    if not pairs:
        return Cue("decorrelation", NONE, 0.0, "no pair of consecutive decodable frames")
    arr = np.asarray(pairs, dtype=float)
    left, right = float(arr[:, 0].mean()), float(arr[:, 1].mean())
    detail = f"frame-to-frame speckle correlation left {left:.2f}, right {right:.2f}"
    strength = 0.0
    if max(left, right) >= DECORR_MIN_STABLE:
        strength = (abs(left - right) - DECORR_MIN_GAP) / DECORR_FULL
    return _verdict("decorrelation", left, right, strength, detail, higher_is_contrast=False)


# ---- display tint -------------------------------------------------------------------------------------
def panel_chroma(gray: np.ndarray, chroma: np.ndarray, box: Box) -> float:
    """Median colourfulness of a panel's image pixels (background excluded)."""
    g, c = _region(gray, box), _region(chroma, box)
    inside = g > _DARK
    return float(np.median(c[inside])) if inside.sum() >= 16 else 0.0


def display_tint(samples: Sequence[tuple[float, float]]) -> Cue:
    """(left, right) median chroma per sampled frame: a colour-mapped panel beside a grey one."""
    if not samples:
        return Cue("display_tint", NONE, 0.0, "no decodable frame")
    arr = np.asarray(samples, dtype=float)
    left, right = float(np.median(arr[:, 0])), float(np.median(arr[:, 1]))
    detail = f"median colour left {left:.1f}, right {right:.1f}"
    lo, hi = sorted((left, right))
    strength = 1.0 if hi >= TINT_MIN and lo <= TINT_GREY else 0.0
    return _verdict("display_tint", left, right, strength, detail)


# ---- brightness change (the old rule, weak) -----------------------------------------------------------
def brightness_change(samples: Sequence[tuple[float, float]]) -> Cue:
    """(left, right) panel means over the study: the side whose brightness varies more."""
    if len(samples) < 2:
        return Cue("brightness_change", NONE, 0.0, "fewer than 2 decodable frames")
    arr = np.asarray(samples, dtype=float)
    left, right = float(arr[:, 0].std()), float(arr[:, 1].std())
    detail = f"brightness variation left {left:.1f}, right {right:.1f} grey levels"
    return _verdict("brightness_change", left, right, abs(left - right) / BRIGHTNESS_FULL, detail)
