"""Enhancement features from a time-intensity curve (lesion and liver, linear power, seconds after injection).

Pure functions on arrays, so each one can be checked on hand-made curves. Thresholds, in the terms the
CEUS LI-RADS vocabulary uses (docs/evidence.md):

- hyperenhancing: lesion/liver ≥ :data:`HYPER_RATIO`; hypoenhancing: lesion/liver < :data:`HYPO_RATIO`
  (about ±1 dB: the margin keeps speckle noise from calling iso lesions hyper or hypo);
- washout onset: the first time the lesion falls below ``HYPO_RATIO`` × liver and stays there for the
  rest of the vascular phase (≤ :data:`VASCULAR_END_S`), interpolated between samples; early < 60 s;
- marked ("punched out") washout: lesion/liver ≤ :data:`MARKED_RATIO` within 2 min;
- Kupffer defect: lesion/liver < ``HYPO_RATIO`` in the post-vascular (Kupffer) phase.

Uncertainty: every ratio carries the liver reference's uncertainty (how much the liver's level read in a
few squares can differ from the liver's as a whole: parenchymal enhancement is patchy) and the
frame-to-frame scatter of each clip's ratio. The onset and the Kupffer ratio are given with a range
(± :data:`Z` standard errors, relative), and a defect call whose range straddles the threshold is
*borderline*: the measurement cannot tell defect from no defect.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ceusdesk.base.protocol import default_protocol

HYPER_RATIO = 1.25
HYPO_RATIO = 0.8
MARKED_RATIO = 0.25
EARLY_WASHOUT_S = 60.0

def _window(slot: str) -> tuple[float, float]:
    window = default_protocol().slot(slot).window_s
    if window is None:
        raise ValueError(f"the default protocol's slot {slot} has no time window")
    return window


# the protocol's slot windows (sonazoid-9), read from the protocol itself and never copied here
ARTERIAL_END_S = _window("0:30")[1]  # samples before it are arterial when the clip does not say
VASCULAR_END_S = _window("6:00")[1]  # the 6:00 slot's window ends here; later samples are post-vascular
KUPFFER_FROM_S = _window("10:00")[0]  # the 10:00 slot's window opens here
ARRIVAL_FRACTION = 0.1  # arrival: the lesion reaches this share of its enhancement
SMOOTH_HALF_WINDOW_S = 1.0
PEAK_SHARE = 0.95
DEGREE_WINDOWS: dict[str, tuple[float, float]] = {n: _window(n) for n in ("1:00", "2:00", "5:00", "10:00")}
"""Where the degree at a time point is read: the protocol's slot windows."""
DEGREE_REPORTED = ("2:00", "5:00", "10:00")
Z = 2.0  # ranges span ± Z relative standard errors (~95 %)


@dataclass(frozen=True)
class Curve:
    """Samples of the time-intensity curve, sorted by time.

    ``clip`` numbers the clip each sample comes from: smoothing never mixes clips (they can be minutes
    apart). ``arterial`` marks the samples of the arterial clip (arrival and peak are read there).
    """

    t: np.ndarray
    lesion: np.ndarray
    liver: np.ndarray
    clip: np.ndarray
    arterial: np.ndarray

    @classmethod
    def build(cls, t, lesion, liver, clip=None, arterial=None) -> Curve:
        t = np.asarray(t, dtype=np.float64)
        order = np.argsort(t, kind="stable")
        clip = np.zeros(len(t), int) if clip is None else np.asarray(clip, int)
        arterial = (t < ARTERIAL_END_S) if arterial is None else np.asarray(arterial, bool)
        return cls(t[order], np.asarray(lesion, np.float64)[order], np.asarray(liver, np.float64)[order],
                   clip[order], arterial[order])


@dataclass
class Kinetics:
    arrival_s: float | None = None
    time_to_peak_s: float | None = None
    peak_ratio: float | None = None
    wash_in_rate: float | None = None
    washout_onset_s: float | None = None
    washout_degree: str | None = None
    washout_degree_at: dict[str, str | None] | None = None
    kupffer_ratio: float | None = None
    kupffer_defect: bool | None = None
    washout_onset_range_s: list[float | None] | None = None
    kupffer_ratio_range: list[float] | None = None
    kupffer_defect_borderline: bool | None = None
    ratio_sd: float | None = None  # relative standard error of a later ratio point (reference + scatter)
    notes: list[str] | None = None


def smooth(curve: Curve, values: np.ndarray, half_window_s: float = SMOOTH_HALF_WINDOW_S) -> np.ndarray:
    """Running median over samples of the same clip within ± ``half_window_s`` (speckle noise per frame)."""
    out = np.empty_like(values, dtype=np.float64)
    for i, (ti, ci) in enumerate(zip(curve.t, curve.clip, strict=True)):
        near = (curve.clip == ci) & (np.abs(curve.t - ti) <= half_window_s)
        out[i] = float(np.median(values[near]))
    return out


def ratio(lesion: np.ndarray, liver: np.ndarray) -> np.ndarray:
    """lesion / liver; NaN where the liver shows no signal (those samples carry no ratio)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(liver > 1e-6, lesion / np.maximum(liver, 1e-12), np.nan)
    return r


def degree_of(r: float | None) -> str | None:
    if r is None or not np.isfinite(r):
        return None
    if r >= HYPO_RATIO:
        return "none"
    return "marked" if r <= MARKED_RATIO else "mild"


def window_ratio(curve: Curve, r: np.ndarray, window: tuple[float, float]) -> float | None:
    """Median lesion/liver ratio of the samples inside ``window`` (s), None when there are none."""
    inside = (curve.t >= window[0]) & (curve.t <= window[1]) & np.isfinite(r)
    return float(np.median(r[inside])) if inside.any() else None


def arrival_peak(curve: Curve, lesion_s: np.ndarray) -> tuple[float | None, float | None, float | None,
                                                               int | None, list[str]]:
    """(arrival_s, time_to_peak_s, wash_in_rate, index of the peak sample, notes) from the arterial clip.

    Peak: the middle of the first run of samples where the smoothed lesion stays within ``PEAK_SHARE`` of
    its maximum (the maximum itself, unless the display saturates). Arrival: where the lesion first reaches
    ``ARRIVAL_FRACTION`` of its enhancement (peak − the lowest level before it), interpolated; None when
    the clip starts after contrast arrived. Wash-in rate: mean slope from 10 % to 90 % of enhancement,
    in linear units (full white = 1) per second.
    """
    notes: list[str] = []
    idx = np.flatnonzero(curve.arterial)
    if len(idx) < 2:
        return None, None, None, None, ["the arterial clip has fewer than 2 timed frames: no arrival or peak"]
    t, v = curve.t[idx], lesion_s[idx]
    # the middle of the first run within PEAK_SHARE of the maximum: a lesion that saturates the display
    # plateaus, and the plateau's noise must not move its peak to wherever the noise is highest
    near = v >= PEAK_SHARE * float(v.max())
    first = int(np.flatnonzero(near)[0])
    last = first
    while last + 1 < len(v) and near[last + 1]:
        last += 1
    k = int(np.argmin(np.abs(t[first:last + 1] - 0.5 * (t[first] + t[last])))) + first
    peak_i = int(idx[k])
    base = float(v[: k + 1].min())
    rise = float(v[k]) - base
    if rise <= 1e-6:
        return None, None, None, peak_i, ["the lesion shows no enhancement in the arterial clip"]

    def crossing(frac: float) -> float | None:
        level = base + frac * rise
        j0 = int(np.argmin(v[: k + 1]))
        above = np.flatnonzero(v[j0:k + 1] >= level)
        if not len(above):
            return None
        j = j0 + int(above[0])
        if j == 0:
            return None
        a, b = v[j - 1], v[j]
        return float(t[j - 1] + (t[j] - t[j - 1]) * (level - a) / max(b - a, 1e-12))

    arrival = crossing(ARRIVAL_FRACTION)
    if int(np.argmin(v[: k + 1])) == 0 and v[0] > ARRIVAL_FRACTION * float(v[k]):
        arrival = None  # already enhanced at the clip's first frame (0 is the display's black)
    if arrival is None:
        notes.append("the arterial clip starts after the contrast arrived: arrival time unknown")
    t90, t10 = crossing(0.9), crossing(ARRIVAL_FRACTION)
    rate = None
    if t90 is not None and t10 is not None and t90 > t10:
        rate = 0.8 * rise / (t90 - t10)
    return arrival, float(t[k]), rate, peak_i, notes


def ratio_points(curve: Curve, r_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ratio over time as washout is read from it: the arterial clip sample by sample (smoothed),
    every later clip as one point (its mean time; its lesion sum over its liver sum), which averages a
    clip's speckle noise away."""
    t = list(curve.t[curve.arterial])
    r = list(r_s[curve.arterial])
    for c in np.unique(curve.clip[~curve.arterial]):
        sel = (curve.clip == c) & ~curve.arterial
        liver = float(curve.liver[sel].sum())
        t.append(float(curve.t[sel].mean()))
        r.append(float(curve.lesion[sel].sum()) / liver if liver > 1e-9 else np.nan)
    order = np.argsort(t, kind="stable")
    return np.asarray(t)[order], np.asarray(r)[order]


def clip_scatter(curve: Curve, lo_s: float, hi_s: float = np.inf) -> float | None:
    """Median relative standard error of the later clips' ratio points between ``lo_s`` and ``hi_s``,
    from the scatter of their frames' ratios (speckle, breathing); None without a clip of ≥ 3 frames."""
    out = []
    for c in np.unique(curve.clip[~curve.arterial]):
        sel = (curve.clip == c) & ~curve.arterial & (curve.t >= lo_s) & (curve.t <= hi_s)
        r = ratio(curve.lesion[sel], curve.liver[sel])
        r = r[np.isfinite(r)]
        if len(r) >= 3 and float(np.mean(r)) > 1e-9:
            out.append(float(np.std(r, ddof=1)) / np.sqrt(len(r)) / float(np.mean(r)))
    return float(np.median(out)) if out else None


def washout_onset(t: np.ndarray, r: np.ndarray, after_s: float) -> float | None:
    """First time after ``after_s`` the ratio falls below ``HYPO_RATIO`` and stays below through the
    vascular phase; the crossing is interpolated (in log ratio) from the last point above. None: never."""
    keep = (t >= after_s) & (t <= VASCULAR_END_S) & np.isfinite(r)
    t, r = t[keep], r[keep]
    if not len(t) or r[-1] >= HYPO_RATIO:
        return None
    above = np.flatnonzero(r >= HYPO_RATIO)
    i = int(above[-1]) + 1 if len(above) else 0  # first sample of the final run below the threshold
    if i == 0:
        return float(t[0])
    la, lb, lh = np.log(max(r[i - 1], 1e-6)), np.log(max(r[i], 1e-6)), np.log(HYPO_RATIO)
    return float(t[i - 1] + (t[i] - t[i - 1]) * (la - lh) / max(la - lb, 1e-12))


def kinetics(curve: Curve, shared_sd: float = 0.0, kupffer_shared_sd: float | None = None) -> Kinetics:
    """Every curve feature (see the module docstring); None where the curve cannot tell.

    ``shared_sd``: the relative standard error shared by every later ratio point (the liver reference,
    which part of the lesion is read); ``kupffer_shared_sd``: the same for the Kupffer phase (default:
    ``shared_sd``)."""
    notes_all: list[str] = []
    out = Kinetics(notes=notes_all)
    lesion_s, liver_s = smooth(curve, curve.lesion), smooth(curve, curve.liver)
    r_s = ratio(lesion_s, liver_s)
    out.arrival_s, out.time_to_peak_s, out.wash_in_rate, peak_i, notes = arrival_peak(curve, lesion_s)
    notes_all += notes
    if peak_i is not None and np.isfinite(r_s[peak_i]):
        out.peak_ratio = float(r_s[peak_i])
    after = curve.t[peak_i] if peak_i is not None else (float(curve.t[0]) if len(curve.t) else 0.0)
    vascular_seen = bool(((curve.t > after) & (curve.t <= VASCULAR_END_S)).any())
    scatter = clip_scatter(curve, after, VASCULAR_END_S) or 0.0
    out.ratio_sd = float(np.hypot(shared_sd, scatter))
    if vascular_seen:
        t_pts, r_pts = ratio_points(curve, r_s)
        out.washout_onset_s = washout_onset(t_pts, r_pts, after)
        # the ratio read lower (higher) by Z standard errors: the earliest (latest) onset it allows
        spread = np.exp(Z * out.ratio_sd)
        lo, hi = washout_onset(t_pts, r_pts / spread, after), washout_onset(t_pts, r_pts * spread, after)
        if lo is not None:
            out.washout_onset_range_s = [lo, hi]
    else:
        notes_all.append("no samples after the arterial peak: washout cannot be assessed")
    out.washout_degree_at = {name: degree_of(window_ratio(curve, r_s, DEGREE_WINDOWS[name]))
                             for name in DEGREE_REPORTED}
    if vascular_seen:
        if out.washout_onset_s is None:
            out.washout_degree = "none"
        else:
            by_2min = [window_ratio(curve, r_s, DEGREE_WINDOWS[n]) for n in ("1:00", "2:00")]
            marked = any(x is not None and x <= MARKED_RATIO for x in by_2min)
            out.washout_degree = "marked" if marked else "mild"
    k = window_ratio(curve, r_s, (KUPFFER_FROM_S, np.inf))
    if k is not None:
        out.kupffer_ratio = k
        out.kupffer_defect = bool(k < HYPO_RATIO)
        shared = shared_sd if kupffer_shared_sd is None else kupffer_shared_sd
        sd = float(np.hypot(shared, clip_scatter(curve, KUPFFER_FROM_S) or 0.0))
        spread = np.exp(Z * sd)
        out.kupffer_ratio_range = [k / spread, k * spread]
        out.kupffer_defect_borderline = bool(k / spread < HYPO_RATIO <= k * spread)
    return out
