"""Evaluation metrics against hand-computed values."""

import numpy as np
import pytest

from trainer import metrics


def test_threshold_keeps_sensitivity_and_maximizes_specificity():
    y = np.array([1] * 10 + [0] * 5)
    p = np.array([0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.2] + [0.1, 0.3, 0.5, 0.58, 0.9])
    t = metrics.choose_threshold(y, p, 0.9)
    assert t == pytest.approx(0.55)  # 9 of 10 malignant at or above; any higher t loses sensitivity
    assert ((p >= t) & (y == 1)).sum() / 10 >= 0.9


def test_perfect_predictions_give_perfect_metrics_and_tight_intervals():
    labels = np.array([0, 0, 1, 1, 2, 2] * 5)
    probs = np.eye(3)[labels] * 0.9 + 0.1 / 3
    row = metrics.evaluate_probs(labels, probs, threshold=0.5, n_boot=200)
    assert row["sensitivity"] == 1.0 and row["specificity"] == 1.0 and row["accuracy_3class"] == 1.0
    assert row["auc"] == 1.0 and row["sensitivity_ci"] == [1.0, 1.0]
    assert row["confusion_3class"] == [[10, 0, 0], [0, 10, 0], [0, 0, 10]]


def test_metrics_are_plain_numbers_and_intervals_bracket_them():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 80)
    probs = rng.dirichlet([1, 1, 1], 80)
    row = metrics.evaluate_probs(labels, probs, threshold=0.6, n_boot=300)
    for key in ("sensitivity", "specificity", "accuracy_3class", "auc"):
        assert type(row[key]) is float
        lo, hi = row[f"{key}_ci"]
        assert lo <= row[key] <= hi


def test_mcnemar_exact_p_value():
    model = np.array([True] * 6 + [True] * 10)
    baseline = np.array([False] * 6 + [True] * 10)
    out = metrics.mcnemar_exact(model, baseline)
    assert out["a_right_b_wrong"] == 6 and out["a_wrong_b_right"] == 0
    assert out["p_value"] == pytest.approx(2 * 0.5**6)


def test_ece_zero_when_calibrated_and_large_when_overconfident():
    labels = np.array([0] * 8 + [1] * 2)
    calibrated = np.tile([0.8, 0.1, 0.1], (10, 1))
    assert metrics.ece(calibrated, labels) == pytest.approx(0.0, abs=1e-12)
    overconfident = np.tile([0.01, 0.98, 0.01], (10, 1))
    assert metrics.ece(overconfident, labels) == pytest.approx(0.98 - 0.2)


def test_per_case_thresholds_and_rechosen_thresholds_widen_the_interval():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 200)
    p_mal = np.clip(np.where(labels > 0, 0.65, 0.35) + 0.2 * rng.standard_normal(200), 0.001, 0.999)
    probs = np.stack([1 - p_mal, p_mal / 2, p_mal / 2], 1)
    per_case = np.where(np.arange(200) < 100, 0.3, 0.7)  # two folds, two thresholds
    row = metrics.evaluate_probs(labels, probs, per_case, n_boot=300)
    mal = labels > 0
    assert row["sensitivity"] == pytest.approx((p_mal[mal] >= per_case[mal]).mean())
    fixed = metrics.evaluate_probs(labels, probs, 0.5, n_boot=300)
    boot = np.clip(0.5 + 0.1 * rng.standard_normal((300, 1)), 0, 1) * np.ones((1, 200))  # uncertain t
    moving = metrics.evaluate_probs(labels, probs, 0.5, n_boot=300, boot_thresholds=boot)
    assert moving["sensitivity"] == fixed["sensitivity"]  # the point estimate uses the chosen threshold
    width = lambda r: r["sensitivity_ci"][1] - r["sensitivity_ci"][0]  # noqa: E731
    assert width(moving) > width(fixed)


def test_reader_is_thresholded_at_the_models_sensitivity():
    labels = np.array([0] * 10 + [1] * 10)
    model_calls = np.array([0] * 8 + [1] * 2 + [1] * 9 + [0])  # sensitivity 0.9, specificity 0.8
    score = np.concatenate([np.linspace(0, 0.5, 10), np.linspace(0.3, 1.0, 10)])
    out = metrics.matched_sensitivity(labels, model_calls, score, n_boot=200)
    assert out["model_sensitivity"] == pytest.approx(0.9) and out["model_specificity"] == pytest.approx(0.8)
    assert out["sensitivity"] >= 0.9 and out["threshold"] == pytest.approx(score[11])
    assert out["specificity_difference"] == pytest.approx(0.8 - out["specificity"])
    lo, hi = out["specificity_difference_ci"]
    assert lo <= out["specificity_difference"] <= hi
