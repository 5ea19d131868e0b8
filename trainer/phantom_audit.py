"""``python -m trainer phantom-audit --cases N --seed S [--json]``: how much the phantom gives away.

Samples the parameters of a cohort exactly as ``synth`` would (same labels, same per-case seeds; no
images) and measures, for benign vs malignant:

- ``cues``: each non-kinetic cue a reader or a model could use alone (enhancement pattern, halo, B-mode
  echo, edge, cirrhosis, size) as a benign-vs-malignant AUC. A cue is scored by the best a reader could
  do with it alone: the cross-validated malignancy rate of its category (continuous cues cut into
  quantile bins), or the raw value when that is better; reported as max(AUC, 1 - AUC).
- ``kinetics_logistic``: a cross-validated (stratified) logistic regression on the noise-free lesion/liver
  ratios at 0:30, 1, 2, 5 and 10 min: specificity at 90 % sensitivity.
- ``washout_rule``: the simulated expert washout score (the one cases.jsonl carries) ≥ 3 → malignant.

Targets (issue 15, at ``--cases 2000 --seed 11``): every cue AUC ≤ 0.70, kinetics specificity ≤ 0.75,
washout rule sensitivity 0.80–0.92 and specificity 0.55–0.75.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ceusdesk.phantom.cohort import case_seed, cohort_labels
from ceusdesk.phantom.params import CaseParams, sample_case
from ceusdesk.phantom.patients import PatientRef, group_cases
from ceusdesk.phantom.subtypes import LABELS, SUBTYPES
from ceusdesk.phantom.washout import POSITIVE_FROM, expected_ratios, washout_score

KINETIC_TIMES_S = (30.0, 60.0, 120.0, 300.0, 600.0)
CLASS_MIX = (48, 78, 55)
FOLDS = 5
SIZE_BINS = 8  # quantile bins for a continuous cue read by category
TARGETS = {"cue_auc_max": 0.70, "kinetics_specificity_max": 0.75,
           "washout_sensitivity": (0.80, 0.92), "washout_specificity": (0.55, 0.75)}


@dataclass(frozen=True)
class Cue:
    name: str
    value: Callable[[CaseParams], float | str | bool]
    continuous: bool
    meaning: str


CUES = (
    Cue("pattern", lambda p: p.lesion.pattern, False, "arterial enhancement pattern"),
    Cue("halo", lambda p: p.lesion.halo, True, "hypoechoic halo strength (B-mode)"),
    Cue("echo", lambda p: p.lesion.echo, True, "lesion echogenicity relative to liver (B-mode)"),
    Cue("edge", lambda p: p.lesion.edge_px, True, "edge softness"),
    Cue("cirrhosis", lambda p: p.anatomy.cirrhotic, False, "cirrhotic liver"),
    Cue("size", lambda p: p.lesion.diameter_cm, True, "lesion diameter"),
)


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainer phantom-audit", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=2000, help="cohort size (default 2000)")
    p.add_argument("--seed", type=int, default=11, help="cohort seed, as `synth --seed` (default 11)")
    p.add_argument("--json", action="store_true", help="print only the JSON document on stdout")
    return p


def sample_cohort(cases: int, seed: int) -> tuple[list[CaseParams], np.ndarray]:
    """The parameters and washout scores ``synth --cases N --seed S`` would draw (no images): the same
    labels, case seeds and two-lesion patients as a clinical cohort (synth's default)."""
    labels = cohort_labels(cases, seed, CLASS_MIX)
    seeds = [case_seed(seed, i) for i in range(cases)]
    owner = group_cases(cases, seed, clinical=True)
    shared = {o for i, o in enumerate(owner) if o != i}
    params, scores = [], []
    for i, label in enumerate(labels):
        o = owner[i]
        patient = PatientRef(seeds[o], labels[o]).draw() if o in shared else None
        p = sample_case(np.random.default_rng([seeds[i], 0]), label=label, patient=patient)
        params.append(p)
        scores.append(washout_score(p, np.random.default_rng([seeds[i], 5])))
    return params, np.array(scores)


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    a = float(roc_auc_score(y, score))
    return max(a, 1.0 - a)


def _category_rate_cv(y: np.ndarray, cats: np.ndarray, folds: StratifiedKFold) -> np.ndarray:
    """Out-of-fold malignancy rate of each case's category (what a reader learns from experience)."""
    out = np.empty(len(y))
    for train, test in folds.split(cats, y):
        prior = y[train].mean()
        for c in np.unique(cats[test]):
            seen = y[train][cats[train] == c]
            # a category never seen in training reads as the prior; shrink small categories toward it
            out[test[cats[test] == c]] = (seen.sum() + prior) / (len(seen) + 1.0)
    return out


def cue_auc(y: np.ndarray, values: list, continuous: bool, seed: int) -> dict:
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    if not continuous:
        cats = np.array([str(v) for v in values])
        categories = {c: {"n": int((cats == c).sum()), "malignant_rate": round(float(y[cats == c].mean()), 3)}
                      for c in np.unique(cats)}
        return {"auc": round(_auc(y, _category_rate_cv(y, cats, folds)), 4), "categories": categories}
    x = np.asarray(values, dtype=float)
    edges = np.unique(np.quantile(x, np.linspace(0, 1, SIZE_BINS + 1)[1:-1]))
    binned = _auc(y, _category_rate_cv(y, np.searchsorted(edges, x, side="right"), folds))
    raw = _auc(y, x)
    return {"auc": round(max(binned, raw), 4), "auc_raw": round(raw, 4), "auc_binned": round(binned, 4)}


def kinetics_logistic(y: np.ndarray, ratios: np.ndarray, seed: int) -> dict:
    """Cross-validated logistic regression on log lesion/liver ratios: specificity at 90 % sensitivity."""
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    x = np.log(np.maximum(ratios, 1e-3))
    prob = cross_val_predict(model, x, y, cv=folds, method="predict_proba")[:, 1]
    fpr, tpr, _ = roc_curve(y, prob)
    spec = float((1.0 - fpr[tpr >= 0.9]).max())
    return {"specificity_at_90_sensitivity": round(spec, 4), "auc": round(float(roc_auc_score(y, prob)), 4),
            "times_s": list(KINETIC_TIMES_S), "folds": FOLDS}


def washout_rule(y: np.ndarray, scores: np.ndarray) -> dict:
    pos = scores >= POSITIVE_FROM
    m = y.astype(bool)
    return {"positive_from": POSITIVE_FROM, "sensitivity": round(float((pos & m).sum() / m.sum()), 4),
            "specificity": round(float((~pos & ~m).sum() / (~m).sum()), 4),
            "score_counts": {str(k): int((scores == k).sum()) for k in range(1, 6)}}


def mean_ratios(params: list[CaseParams], ratios: np.ndarray) -> dict:
    """Mean noise-free lesion/liver ratio per class at each audited time (context for the reader)."""
    labels = np.array([p.label for p in params])
    return {lab: [round(float(v), 3) for v in ratios[labels == lab].mean(axis=0)] for lab in LABELS
            if (labels == lab).any()}


def audit(cases: int, seed: int) -> dict:
    params, scores = sample_cohort(cases, seed)
    y = np.array([p.label != "benign" for p in params], dtype=int)
    ratios = np.array([expected_ratios(p, KINETIC_TIMES_S) for p in params])
    cues = {c.name: {**cue_auc(y, [c.value(p) for p in params], c.continuous, seed), "what": c.meaning}
            for c in CUES}
    doc = {
        "n": cases, "seed": seed,
        "class_counts": {lab: sum(p.label == lab for p in params) for lab in LABELS},
        "subtype_counts": {s: sum(p.subtype == s for p in params) for s in SUBTYPES},
        "cues": cues,
        "kinetics_logistic": kinetics_logistic(y, ratios, seed),
        "washout_rule": washout_rule(y, scores),
        "mean_ratios": {"times_s": list(KINETIC_TIMES_S), **mean_ratios(params, ratios)},
    }
    doc["targets"] = TARGETS
    doc["meets_targets"] = meets_targets(doc)
    return doc


def meets_targets(doc: dict) -> bool:
    w = doc["washout_rule"]
    lo_s, hi_s = TARGETS["washout_sensitivity"]
    lo_p, hi_p = TARGETS["washout_specificity"]
    return (all(c["auc"] <= TARGETS["cue_auc_max"] for c in doc["cues"].values())
            and doc["kinetics_logistic"]["specificity_at_90_sensitivity"]
            <= TARGETS["kinetics_specificity_max"]
            and lo_s <= w["sensitivity"] <= hi_s and lo_p <= w["specificity"] <= hi_p)


def format_text(doc: dict) -> str:
    cc = doc["class_counts"]
    lines = [f"phantom audit: {doc['n']} cases, seed {doc['seed']} "
             f"(benign {cc['benign']}, hcc {cc['hcc']}, non-HCC malignant {cc['non_hcc_malignant']})",
             f"cues, benign vs malignant AUC (target <= {TARGETS['cue_auc_max']:.2f}):"]
    for name, c in doc["cues"].items():
        flag = "" if c["auc"] <= TARGETS["cue_auc_max"] else "  <- gives the answer away"
        lines.append(f"  {name:10s} {c['auc']:.3f}  {c['what']}{flag}")
    k = doc["kinetics_logistic"]
    lines.append(f"kinetics logistic (5 ratios): specificity {k['specificity_at_90_sensitivity']:.3f} "
                 f"at 90 % sensitivity (target <= {TARGETS['kinetics_specificity_max']:.2f}), "
                 f"AUC {k['auc']:.3f}")
    w = doc["washout_rule"]
    lines.append(f"washout score >= {w['positive_from']}: sensitivity {w['sensitivity']:.3f} "
                 f"(target 0.80-0.92), specificity {w['specificity']:.3f} (target 0.55-0.75)")
    lines.append("all targets met" if doc["meets_targets"] else "NOT all targets met")
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    if args.cases < 10 * FOLDS:
        print(f"phantom-audit: --cases {args.cases} is too few for {FOLDS}-fold cross-validation "
              f"(at least {10 * FOLDS})", file=sys.stderr)
        return 2
    doc = audit(args.cases, args.seed)
    print(json.dumps(doc, indent=1, allow_nan=False) if args.json else format_text(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main(get_args_parser().parse_args()))
