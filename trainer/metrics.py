"""Evaluation metrics: benign-vs-malignant sensitivity/specificity, 3-class accuracy, AUC, bootstrap
intervals, the operating threshold, exact McNemar and expected calibration error."""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest
from sklearn.metrics import confusion_matrix, roc_auc_score, roc_curve

BENIGN = 0  # class index of "benign"; every other class is malignant
THRESHOLD_MIN_SENSITIVITY = 0.90


def malignant(labels: np.ndarray) -> np.ndarray:
    return (np.asarray(labels) != BENIGN).astype(np.int64)


def malignant_probability(probs: np.ndarray) -> np.ndarray:
    return 1.0 - np.asarray(probs)[..., BENIGN]


def choose_threshold(
    y_malignant: np.ndarray, p_malignant: np.ndarray, min_sensitivity: float = THRESHOLD_MIN_SENSITIVITY
) -> float:
    """The highest threshold (call malignant when p ≥ t) whose sensitivity is at least ``min_sensitivity``.

    Highest such threshold = best specificity under the sensitivity floor. Falls back to 0.5 when there
    are no malignant cases.
    """
    y, p = np.asarray(y_malignant), np.asarray(p_malignant, dtype=np.float64)
    pos = np.sort(p[y == 1])[::-1]
    if len(pos) == 0:
        return 0.5
    k = int(np.ceil(min_sensitivity * len(pos)))  # need at least k positives at or above t
    return float(pos[max(k, 1) - 1])


def _sens_spec_acc(y3: np.ndarray, pred3: np.ndarray, ymal: np.ndarray, predmal: np.ndarray, axis=-1):
    tp = ((predmal == 1) & (ymal == 1)).sum(axis)
    fn = ((predmal == 0) & (ymal == 1)).sum(axis)
    tn = ((predmal == 0) & (ymal == 0)).sum(axis)
    fp = ((predmal == 1) & (ymal == 0)).sum(axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        sens = tp / (tp + fn)
        spec = tn / (tn + fp)
    acc = (y3 == pred3).mean(axis)
    return sens, spec, acc


def _auc(ymal: np.ndarray, pmal: np.ndarray) -> float:
    return float(roc_auc_score(ymal, pmal)) if 0 < ymal.sum() < len(ymal) else float("nan")


def _num(x: float) -> float | None:
    """A plain JSON number, or None where the metric is undefined (e.g. one class only)."""
    return None if x is None or not np.isfinite(x) else float(x)


def _ci(samples: np.ndarray) -> list[float | None]:
    s = samples[np.isfinite(samples)]
    if len(s) == 0:
        return [None, None]
    return [float(np.percentile(s, 2.5)), float(np.percentile(s, 97.5))]


def evaluate_probs(
    labels: np.ndarray, probs: np.ndarray, threshold: float, n_boot: int = 1000, seed: int = 0
) -> dict:
    """Metrics of one set of predictions, each with a 95 % percentile-bootstrap interval ``<name>_ci``."""
    y3 = np.asarray(labels)
    probs = np.asarray(probs, dtype=np.float64)
    ymal, pmal = malignant(y3), malignant_probability(probs)
    pred3, predmal = probs.argmax(1), (pmal >= threshold).astype(np.int64)
    sens, spec, acc = _sens_spec_acc(y3, pred3, ymal, predmal)
    out = {
        "n": int(len(y3)),
        "sensitivity": _num(sens),
        "specificity": _num(spec),
        "accuracy_3class": _num(acc),
        "auc": _num(_auc(ymal, pmal)),
        "ece": _num(ece(probs, y3)),
    }
    idx = np.random.default_rng(seed).integers(0, len(y3), size=(n_boot, len(y3)))
    bs, bp, ba = _sens_spec_acc(y3[idx], pred3[idx], ymal[idx], predmal[idx])
    bauc = np.array([_auc(ymal[i], pmal[i]) for i in idx])
    out.update(sensitivity_ci=_ci(bs), specificity_ci=_ci(bp), accuracy_3class_ci=_ci(ba), auc_ci=_ci(bauc))
    out["confusion_3class"] = confusion_matrix(y3, pred3, labels=[0, 1, 2]).tolist()
    out["confusion_binary"] = confusion_matrix(ymal, predmal, labels=[0, 1]).tolist()
    return out


def binary_calls(labels: np.ndarray, calls: np.ndarray, n_boot: int = 1000, seed: int = 0) -> dict:
    """Sensitivity/specificity of fixed benign(0)/malignant(1) calls, with bootstrap intervals."""
    ymal, calls = malignant(labels), np.asarray(calls, dtype=np.int64)
    sens, spec, _ = _sens_spec_acc(ymal, calls, ymal, calls)
    idx = np.random.default_rng(seed).integers(0, len(ymal), size=(n_boot, len(ymal)))
    bs, bp, _ = _sens_spec_acc(ymal[idx], calls[idx], ymal[idx], calls[idx])
    return {
        "n": int(len(ymal)),
        "sensitivity": _num(sens),
        "specificity": _num(spec),
        "sensitivity_ci": _ci(bs),
        "specificity_ci": _ci(bp),
        "confusion_binary": confusion_matrix(ymal, calls, labels=[0, 1]).tolist(),
    }


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> dict:
    """Exact (binomial) McNemar test on paired correct/incorrect calls."""
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    p = 1.0 if only_a + only_b == 0 else float(binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue)
    return {"a_right_b_wrong": only_a, "a_wrong_b_right": only_b, "p_value": p}


def ece(probs: np.ndarray, labels: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error of the top-class confidence (equal-width bins)."""
    probs = np.asarray(probs, dtype=np.float64)
    conf, pred = probs.max(1), probs.argmax(1)
    correct = (pred == np.asarray(labels)).astype(np.float64)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            total += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(total)


def reliability(
    probs: np.ndarray, labels: np.ndarray, n_bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bin confidence, bin accuracy, bin count) for a reliability diagram."""
    probs = np.asarray(probs, dtype=np.float64)
    conf, correct = probs.max(1), (probs.argmax(1) == np.asarray(labels)).astype(float)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    cnt = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore"):
        mc = np.bincount(bins, conf, n_bins) / cnt
        ma = np.bincount(bins, correct, n_bins) / cnt
    return mc, ma, cnt


def roc(labels: np.ndarray, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    fpr, tpr, _ = roc_curve(malignant(labels), malignant_probability(probs))
    return fpr, tpr
