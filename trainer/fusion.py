"""Fit the late fusion of the CNN's P(malignant) with the measured evidence (ceusdesk.evidence.fusion).

Fitted per phase set (early, full) on inner-validation predictions only: for the cross-validation
table each outer fold's fusion is fitted on that fold's inner validation and applied to its outer
part; the shipped fusion is fitted on the folds' pooled inner validations. Its threshold follows the
CNN's rule (the highest with ≥ 90 % sensitivity), chosen on 5-fold cross-validated fused predictions of
the fitting cases, so the fit cannot flatter its own threshold.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from ceusdesk.base.protocol import Protocol
from ceusdesk.evidence.fusion import fusion_inputs
from ceusdesk.model_package.fusion import INPUTS, SetFusion, as_three_class

from . import metrics
from .reader import case_field, slot_ratios

C = 1.0  # L2 strength: a handful of inputs on a few hundred cases
INNER_FOLDS = 5


def input_matrix(p_malignant: np.ndarray, table: np.ndarray, protocol: Protocol,
                 phase_set: str) -> np.ndarray:
    """float64 [N, len(INPUTS[phase_set])] from the CNN's P(malignant) and the reader table's rows."""
    ratios = slot_ratios(table, protocol)
    targets = [s.target_s for s in protocol.slots]
    fields = {k: case_field(table, protocol, k) for k in ("kupffer_ratio", "peak_ratio", "aphe")}
    rows = []
    for i, p in enumerate(p_malignant):
        by_t = {float(t): (None if not np.isfinite(r) else float(r))
                for t, r in zip(targets, ratios[i], strict=True)
                if t is not None and t > 0 and protocol.slots[targets.index(t)].kind == "contrast"}
        ev = {k: (None if not np.isfinite(v[i]) else float(v[i])) for k, v in fields.items()}
        values = fusion_inputs(float(p), by_t, ev)
        rows.append([values[k] for k in INPUTS[phase_set]])
    return np.array(rows, dtype=np.float64)


def _standardize(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore"):
        mean = np.where(np.isfinite(x).any(0), np.nanmean(np.where(np.isfinite(x), x, np.nan), 0), 0.0)
        std = np.nanstd(np.where(np.isfinite(x), x, np.nan), 0)
    scale = np.where(np.isfinite(std) & (std > 1e-9), std, 1.0)
    return np.nan_to_num(mean), scale


def _z(x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    z = (x - mean) / scale
    return np.where(np.isfinite(z), z, 0.0)


def fit_set(x: np.ndarray, y_malignant: np.ndarray, phase_set: str,
            seed: int = 0) -> tuple[SetFusion, np.ndarray]:
    """A logistic fusion on these cases (x from :func:`input_matrix`), threshold by the CNN's rule.
    Returns it and its cross-validated ("honest") P(malignant) on the fitting cases."""
    mean, scale = _standardize(x)
    z = _z(x, mean, scale)
    model = LogisticRegression(C=C, max_iter=5000)
    model.fit(z, y_malignant)
    k = int(min(INNER_FOLDS, np.bincount(y_malignant, minlength=2).min()))
    if k >= 2:
        cv = StratifiedKFold(k, shuffle=True, random_state=seed)
        honest = cross_val_predict(LogisticRegression(C=C, max_iter=5000), z, y_malignant, cv=cv,
                                   method="predict_proba")[:, 1]
    else:
        honest = model.predict_proba(z)[:, 1]
    threshold = metrics.choose_threshold(y_malignant, honest)
    fusion = SetFusion(inputs=INPUTS[phase_set], mean=tuple(float(v) for v in mean),
                       scale=tuple(float(v) for v in scale), coef=tuple(float(v) for v in model.coef_[0]),
                       intercept=float(model.intercept_[0]), threshold=float(threshold))
    sanity(fusion)
    return fusion, honest


def apply_set(fusion: SetFusion, x: np.ndarray) -> np.ndarray:
    """P(malignant) of the fusion for each row of x (numpy, as the app computes it)."""
    s = _z(x, np.array(fusion.mean), np.array(fusion.scale)) @ np.array(fusion.coef) + fusion.intercept
    return 1.0 / (1.0 + np.exp(-np.clip(s, -700, 700)))


def sanity(fusion: SetFusion) -> None:
    """Refuse a fit that produced non-finite numbers (a degenerate inner validation)."""
    values = [*fusion.mean, *fusion.scale, *fusion.coef, fusion.intercept, fusion.threshold]
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"fusion fit produced non-finite numbers: {fusion}")


def spec_at_sensitivity(y: np.ndarray, p: np.ndarray, sensitivity: float = 0.9) -> float:
    """The highest specificity with at least this sensitivity (ROC of the given scores)."""
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    return float((1.0 - fpr[tpr >= sensitivity]).max())


DEFAULT_RULE = ("decided on the cross-validation before the independent test is read: the fused call "
                "('model + measured evidence') is the default when its out-of-fold specificity at 90 % "
                "sensitivity (full set) exceeds the CNN's; otherwise the CNN's call is the default")


def fit_run(labels: np.ndarray, reader: np.ndarray, protocol: Protocol, combos: list[str],
            results: list, sets: tuple[str, ...], budget: dict[str, int], seed: int = 0) -> tuple[dict, dict]:
    """The run's fusion: per fold (fitted on its inner validation, applied to its outer part) and the
    shipped one (pooled inner validations), plus the default decided by :data:`DEFAULT_RULE`.

    ``results``: the main model's [(FoldJob, FoldResult)]; ``sets``: the threshold sets in the order of
    ``FoldResult.inner_probs``. Returns (arrays for oof.npz under ``fused_*``, the fusion document).
    """
    n = len(labels)
    y = metrics.malignant(labels)
    fused = np.full((len(sets), n, 3), np.nan)
    fold_thr = np.full((len(results), len(sets)), np.nan)
    inner_probs = [np.zeros((0, 3)) for _ in sets]
    folds_doc = []
    pooled_x: dict[str, list[np.ndarray]] = {s: [] for s in sets}
    pooled_y: list[np.ndarray] = []
    for f, (job, res) in enumerate(results):
        pooled_y.append(y[job.val_idx])
        entry = {"fold": job.fold, "sets": {}}
        for j, s in enumerate(sets):
            p_in = metrics.malignant_probability(res.inner_probs[j])
            x_in = input_matrix(p_in, reader[job.val_idx], protocol, s)
            pooled_x[s].append(x_in)
            fit, honest = fit_set(x_in, y[job.val_idx], s, seed)
            inner_probs[j] = np.concatenate([inner_probs[j], as_three_class(honest, res.inner_probs[j])])
            c = combos.index(s)
            out_cnn = res.probs[c]
            x_out = input_matrix(metrics.malignant_probability(out_cnn), reader[job.test_idx], protocol, s)
            fused[j, job.test_idx] = as_three_class(apply_set(fit, x_out), out_cnn)
            fold_thr[f, j] = fit.threshold
            entry["sets"][s] = fit.to_dict()
        folds_doc.append(entry)
    y_pool = np.concatenate(pooled_y)
    final = {s: fit_set(np.concatenate(pooled_x[s]), y_pool, s, seed)[0] for s in sets}
    have = np.isfinite(fused[0, :, 0])
    full = list(sets).index("full")
    cnn_full = np.full(n, np.nan)
    for job, res in results:
        cnn_full[job.test_idx] = metrics.malignant_probability(res.probs[combos.index("full")])
    cnn_spec = spec_at_sensitivity(y[have], cnn_full[have])
    fused_spec = spec_at_sensitivity(y[have], fused[full, have, 1:].sum(1))
    arrays = {"fused_probs": fused, "fused_fold_thresholds": fold_thr,
              "fused_inner_probs": np.stack(inner_probs),
              "fused_inner_case": np.concatenate([job.val_idx for job, _ in results]),
              "fused_inner_fold": np.concatenate([np.full(len(job.val_idx), job.fold) for job, _ in results]),
              "fused_fold_ids": np.array([job.fold for job, _ in results])}
    doc = {"kind": "logistic", "sets": {s: f.to_dict() for s, f in final.items()},
           "default": bool(fused_spec > cnn_spec), "default_rule": DEFAULT_RULE,
           "decided_on": {"oof_specificity_at_90_sensitivity_full": {"cnn": round(cnn_spec, 4),
                                                                     "cnn+evidence": round(fused_spec, 4)},
                          "n": int(have.sum())},
           "evidence": dict(budget),
           "fitted_on": (f"the pooled inner-validation predictions of the {len(results)} cross-validation "
                         f"folds ({len(y_pool)} cases; each predicted by a fold model that did not train "
                         "on it)"),
           "folds": folds_doc}
    return arrays, doc
