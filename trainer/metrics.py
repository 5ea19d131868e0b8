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
    labels: np.ndarray,
    probs: np.ndarray,
    threshold: float | np.ndarray,
    n_boot: int = 1000,
    seed: int = 0,
    boot_thresholds: np.ndarray | None = None,
) -> dict:
    """Metrics of one set of predictions, each with a 95 % percentile-bootstrap interval ``<name>_ci``.

    ``threshold``: one number or one per case (each case called at its fold's threshold).
    ``boot_thresholds`` [n_boot, n]: per resample, the thresholds re-chosen on a resample of the data
    they were chosen on (the inner validation), so the intervals carry the threshold's uncertainty.
    """
    y3 = np.asarray(labels)
    probs = np.asarray(probs, dtype=np.float64)
    n = len(y3)
    ymal, pmal = malignant(y3), malignant_probability(probs)
    thr = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (n,))
    pred3, predmal = probs.argmax(1), (pmal >= thr).astype(np.int64)
    sens, spec, acc = _sens_spec_acc(y3, pred3, ymal, predmal)
    out = {
        "n": int(n),
        "sensitivity": _num(sens),
        "specificity": _num(spec),
        "accuracy_3class": _num(acc),
        "auc": _num(_auc(ymal, pmal)),
        "ece": _num(ece(probs, y3)) if n else None,
    }
    idx = boot_indices(n, n_boot, seed)
    bthr = thr[idx] if boot_thresholds is None else np.take_along_axis(boot_thresholds, idx, axis=1)
    bs, bp, ba = _sens_spec_acc(y3[idx], pred3[idx], ymal[idx], (pmal[idx] >= bthr).astype(np.int64))
    bauc = np.array([_auc(ymal[i], pmal[i]) for i in idx])
    out.update(sensitivity_ci=_ci(bs), specificity_ci=_ci(bp), accuracy_3class_ci=_ci(ba), auc_ci=_ci(bauc))
    out["confusion_3class"] = confusion_matrix(y3, pred3, labels=[0, 1, 2]).tolist()
    out["confusion_binary"] = confusion_matrix(ymal, predmal, labels=[0, 1]).tolist()
    return out


def boot_indices(n: int, n_boot: int, seed: int) -> np.ndarray:
    """[n_boot, n] case indices of the bootstrap resamples (the same for every row: paired intervals)."""
    return np.random.default_rng(seed).integers(0, max(n, 1), size=(n_boot, n))


def rechosen_thresholds(
    y_malignant: np.ndarray, p_malignant: np.ndarray, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """[n_boot] thresholds chosen (:func:`choose_threshold`) on bootstrap resamples of (y, p)."""
    y, p = np.asarray(y_malignant), np.asarray(p_malignant, dtype=np.float64)
    if len(y) == 0:
        return np.full(n_boot, 0.5)
    idx = rng.integers(0, len(y), size=(n_boot, len(y)))
    return np.array([choose_threshold(y[i], p[i]) for i in idx])


def matched_sensitivity(
    labels: np.ndarray,
    model_calls: np.ndarray,
    score: np.ndarray,
    n_boot: int = 1000,
    seed: int = 0,
    boot_model_calls: np.ndarray | None = None,
) -> dict:
    """A reader's score thresholded to the model's sensitivity, and the specificities compared.

    The reader's threshold is the highest whose sensitivity reaches the model's; in every bootstrap
    resample it is chosen again (to the model's sensitivity in that resample, where the model's calls
    come from ``boot_model_calls`` [n_boot, n] with re-chosen thresholds when given).
    """
    ymal = malignant(labels)
    calls = np.asarray(model_calls, dtype=np.int64)
    score = np.asarray(score, dtype=np.float64)

    def one(y: np.ndarray, m: np.ndarray, s: np.ndarray) -> tuple[float, float, float, float, float]:
        ms, mp, _ = _sens_spec_acc(y, m, y, m)
        if not np.isfinite(ms):
            return (np.nan,) * 5
        t = choose_threshold(y, s, min_sensitivity=float(ms) - 1e-9)
        r = (s >= t).astype(np.int64)
        rs, rp, _ = _sens_spec_acc(y, r, y, r)
        return float(ms), float(mp), t, float(rs), float(rp)

    ms, mp, t, rs, rp = one(ymal, calls, score)
    reader_calls = (score >= t).astype(np.int64)
    idx = boot_indices(len(ymal), n_boot, seed)
    boot = np.array([
        one(ymal[i], calls[i] if boot_model_calls is None else boot_model_calls[b, i], score[i])
        for b, i in enumerate(idx)
    ]).reshape(-1, 5)
    diff = boot[:, 1] - boot[:, 4]
    return {
        "n": int(len(ymal)),
        "threshold": _num(t),
        "sensitivity": _num(rs),
        "specificity": _num(rp),
        "sensitivity_ci": _ci(boot[:, 3]),
        "specificity_ci": _ci(boot[:, 4]),
        "model_sensitivity": _num(ms),
        "model_specificity": _num(mp),
        "specificity_difference": _num(mp - rp),  # model minus reader, at the model's sensitivity
        "specificity_difference_ci": _ci(diff),
        "auc": _num(_auc(ymal, score)),
        "confusion_binary": confusion_matrix(ymal, reader_calls, labels=[0, 1]).tolist(),
        "mcnemar": mcnemar_exact(calls == ymal, reader_calls == ymal),
    }


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
