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
