"""Curve features on hand-made time-intensity curves (linear units, seconds after injection)."""
from __future__ import annotations

import numpy as np
import pytest

from ceusdesk.evidence import features as F


def gamma(t, t0, tp, amp):
    x = np.clip((np.asarray(t, float) - t0) / (tp / 3.0), 0, None)
    return amp * (x / 3.0) ** 3 * np.exp(3.0 - x)


def study_curve(lesion_fn, liver_fn, arterial=(5.0, 50.0, 0.5), clips=(60, 120, 180, 240, 300, 360, 600)):
    """Samples as a study gives them: a dense arterial clip, then short clips of 8 frames."""
    ta = np.arange(*arterial)
    t = [ta] + [c + np.arange(8.0) for c in clips]
    clip = [np.zeros(len(ta), int)] + [np.full(8, i + 1) for i in range(len(clips))]
    t, clip = np.concatenate(t), np.concatenate(clip)
    return F.Curve.build(t, lesion_fn(t), liver_fn(t), clip, clip == 0)


def liver(t):
    return 0.3 * gamma(t, 14.0, 12.0, 1.0) + 0.1 * (1 - np.exp(-np.clip(t - 14, 0, None) / 20)) + 0.0


def test_arrival_peak_and_wash_in_of_a_known_curve():
    lesion = lambda t: gamma(t, 12.0, 10.0, 1.0) + 0.1 * (t > 12)  # noqa: E731
    k = F.kinetics(study_curve(lesion, liver))
    assert k.time_to_peak_s == pytest.approx(22.0, abs=1.0)  # 12 s arrival + 10 s to peak
    assert 12.0 <= k.arrival_s <= 16.0  # where it reaches 10 % of its enhancement
    assert k.wash_in_rate > 0
    at_peak = lesion(np.array([k.time_to_peak_s]))[0] / liver(k.time_to_peak_s)
    assert k.peak_ratio == pytest.approx(at_peak, rel=0.1)


def test_a_clip_that_starts_after_arrival_gives_no_arrival_time():
    lesion = lambda t: gamma(t, 2.0, 10.0, 1.0)  # noqa: E731
    k = F.kinetics(study_curve(lesion, liver, arterial=(8.0, 50.0, 0.5)))
    assert k.arrival_s is None
    assert any("after the contrast arrived" in n for n in k.notes)


def test_washout_onset_is_the_interpolated_crossing_that_stays_below():
    # ratio 1.5 until 100 s, then falls linearly in log to 0.4 at 300 s: crosses 0.8 at
    # 100 + 200·log(1.5/0.8)/log(1.5/0.4)
    def lesion(t):
        r = np.where(t < 100, 1.5, 1.5 * (0.4 / 1.5) ** (np.clip(t - 100, 0, 200) / 200.0))
        return r * liver(t)
    k = F.kinetics(study_curve(lesion, liver))
    expected = 100 + 200 * np.log(1.5 / 0.8) / np.log(1.5 / 0.4)
    assert k.washout_onset_s == pytest.approx(expected, abs=15.0)
    assert k.washout_degree == "mild"
    assert k.washout_degree_at["5:00"] == "mild"


def test_no_washout_and_a_dip_that_recovers_is_not_washout():
    def lesion(t):
        return np.where((t > 110) & (t < 130), 0.6, 1.1) * liver(t)  # hypo at 2:00 only, iso after
    k = F.kinetics(study_curve(lesion, liver))
    assert k.washout_onset_s is None and k.washout_degree == "none"
    assert k.washout_degree_at["2:00"] == "mild"  # the degree at 2:00 still says what 2:00 showed


def test_early_marked_washout():
    def lesion(t):
        return np.where(t < 30, 2.0, np.where(t < 45, 0.5, 0.1)) * liver(t)
    k = F.kinetics(study_curve(lesion, liver))
    assert k.washout_onset_s is not None and k.washout_onset_s < F.EARLY_WASHOUT_S
    assert k.washout_degree == "marked"


def test_kupffer_ratio_and_defect_and_none_without_a_kupffer_clip():
    defect = F.kinetics(study_curve(lambda t: np.where(t > 500, 0.3, 1.0) * liver(t), liver))
    assert defect.kupffer_ratio == pytest.approx(0.3, rel=0.05) and defect.kupffer_defect is True
    iso = F.kinetics(study_curve(lambda t: liver(t), liver))
    assert iso.kupffer_defect is False
    early = F.kinetics(study_curve(lambda t: liver(t), liver, clips=(60, 120)))
    assert early.kupffer_ratio is None and early.kupffer_defect is None


def test_noise_does_not_create_washout_in_an_iso_lesion():
    rng = np.random.default_rng(0)
    k = F.kinetics(study_curve(lambda t: liver(t) * rng.normal(1.0, 0.08, np.shape(t)), liver))
    assert k.washout_onset_s is None


def test_no_liver_signal_gives_no_ratio():
    r = F.ratio(np.array([1.0, 1.0]), np.array([0.0, 2.0]))
    assert np.isnan(r[0]) and r[1] == 0.5


def slow_washout(t):
    """Ratio 1.2 until 60 s, falling in log to 0.5 at 360 s: crosses 0.8 between the 2:00 and 3:00 clips."""
    return np.where(t < 60, 1.2, 1.2 * (0.5 / 1.2) ** (np.clip(t - 60, 0, 300) / 300.0)) * liver(t)


def test_the_onset_range_brackets_the_point_and_widens_with_the_reference_uncertainty():
    curve = study_curve(slow_washout, liver)
    sure = F.kinetics(curve)  # noise-free: the range shrinks to the point
    lo, hi = sure.washout_onset_range_s
    assert lo == pytest.approx(sure.washout_onset_s, abs=3.0) and hi == pytest.approx(lo, abs=5.0)
    shaky = F.kinetics(curve, shared_sd=0.05)
    lo, hi = shaky.washout_onset_range_s
    assert lo < shaky.washout_onset_s - 10 and hi > shaky.washout_onset_s + 10
    assert shaky.washout_onset_s == pytest.approx(sure.washout_onset_s)  # the point itself does not move


def test_a_ratio_hovering_at_the_threshold_gives_an_open_range():
    k = F.kinetics(study_curve(lambda t: np.where(t < 60, 1.2, 0.78) * liver(t), liver), shared_sd=0.05)
    assert k.washout_onset_s is not None and k.washout_onset_range_s[1] is None  # may not wash out at all


def test_a_kupffer_ratio_near_the_threshold_is_borderline_and_a_clear_defect_is_not():
    near = F.kinetics(study_curve(lambda t: np.where(t > 500, 0.78, 1.0) * liver(t), liver), shared_sd=0.05)
    assert near.kupffer_defect is True and near.kupffer_defect_borderline is True
    lo, hi = near.kupffer_ratio_range
    assert lo < 0.78 < 0.8 < hi
    clear = F.kinetics(study_curve(lambda t: np.where(t > 500, 0.4, 1.0) * liver(t), liver), shared_sd=0.05)
    assert clear.kupffer_defect is True and clear.kupffer_defect_borderline is False


def test_frame_scatter_widens_the_kupffer_range():
    rng = np.random.default_rng(3)
    calm = F.kinetics(study_curve(lambda t: np.where(t > 500, 0.6, 1.0) * liver(t), liver))
    noisy = F.kinetics(study_curve(
        lambda t: np.where(t > 500, 0.6, 1.0) * liver(t) * rng.normal(1.0, 0.2, np.shape(t)), liver))
    assert np.diff(noisy.kupffer_ratio_range)[0] > np.diff(calm.kupffer_ratio_range)[0] + 0.05
