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
- ``joint``: what the cues give away *together* (one parameter at a time missed a 0.97 joint AUC):
  cross-validated logistic regression and gradient boosting on every drawn non-kinetic parameter at
  once (``non_kinetic``), and on the noise-free lesion/liver ratios at every contrast slot (``kinetics``).
- ``physics``: the CEUS picture the phantom must keep while hiding its labels (APHE and late mild
  washout in most HCC, a Kupffer-phase defect in moderately/poorly differentiated HCC and metastases).

Targets (issues 15 and 20, at ``--cases 2000 --seed 11``): every cue AUC ≤ 0.70, kinetics logistic
specificity ≤ 0.75, washout rule sensitivity 0.80–0.92 and specificity 0.55–0.75, joint non-kinetic AUC
≤ 0.80 for both probes, joint kinetics gradient-boosting specificity at 90 % sensitivity ≤ 0.85, and
the physics shares in :data:`PHYSICS_TARGETS`.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ceusdesk.phantom.cohort import case_seed, cohort_labels
from ceusdesk.phantom.options import PhantomOptions
from ceusdesk.phantom.params import CaseParams, sample_case
from ceusdesk.phantom.patients import PatientRef, group_cases, identity
from ceusdesk.phantom.subtypes import LABELS, SUBTYPES
from ceusdesk.phantom.washout import POSITIVE_FROM, expected_ratios, washout_score

KINETIC_TIMES_S = (30.0, 60.0, 120.0, 300.0, 600.0)
# the joint kinetics probe sees every contrast slot of the default protocol
JOINT_TIMES_S = (30.0, 60.0, 120.0, 180.0, 240.0, 300.0, 360.0, 600.0)
CLASS_MIX = (48, 78, 55)
FOLDS = 5
SIZE_BINS = 8  # quantile bins for a continuous cue read by category
TARGETS = {"cue_auc_max": 0.70, "kinetics_specificity_max": 0.75,
           "washout_sensitivity": (0.80, 0.92), "washout_specificity": (0.55, 0.75),
           "joint_non_kinetic_auc_max": 0.80, "joint_kinetics_gbm_specificity_max": 0.85}
# CEUS physics kept (shares of a subtype or class): (what, lower bound)
PHYSICS_TARGETS = {"hcc_aphe": 0.60, "hcc_late_mild_washout": 0.50, "hcc_moderate_kupffer_defect": 0.70,
                   "metastasis_kupffer_defect": 0.85}
APHE_RATIO = 1.1       # lesion/liver at 0:30 above this: arterial-phase hyperenhancement
DEFECT_RATIO = 0.6     # lesion/liver at 10:00 below this: Kupffer-phase defect


@dataclass(frozen=True)
class Drawn:
    """One case's drawn parameters plus what the cohort adds (lesion count, scanner)."""

    params: CaseParams
    lesions: int   # lesions of this patient in the cohort (1 or 2)
    scanner: str


@dataclass(frozen=True)
class Cue:
    name: str
    value: Callable[[Drawn], float | str | bool]
    continuous: bool
    meaning: str


def irregularity(p: CaseParams) -> float:
    """The outline's departure from a circle: root-sum-square of its shape harmonics' amplitudes."""
    return float(np.sqrt(sum(a * a for a, _ in p.lesion.harmonics)))


# Every drawn parameter that is not enhancement kinetics (the kinetics are the signal the model should read).
CUES = (
    Cue("pattern", lambda d: d.params.lesion.pattern, False, "arterial enhancement pattern"),
    Cue("halo", lambda d: d.params.lesion.halo, True, "hypoechoic halo strength (B-mode)"),
    Cue("echo", lambda d: d.params.lesion.echo, True, "lesion echogenicity relative to liver (B-mode)"),
    Cue("edge", lambda d: d.params.lesion.edge_px, True, "edge softness"),
    Cue("cirrhosis", lambda d: d.params.anatomy.cirrhotic, False, "cirrhotic liver"),
    Cue("size", lambda d: d.params.lesion.diameter_cm, True, "lesion diameter"),
    Cue("irregularity", lambda d: irregularity(d.params), True, "outline irregularity (lobulation)"),
    Cue("necrosis", lambda d: d.params.lesion.necrosis, True, "central non-enhancing area"),
    Cue("scar", lambda d: d.params.lesion.scar, True, "central scar"),
    Cue("mosaic", lambda d: d.params.lesion.mosaic, True, "B-mode heterogeneity (mosaic)"),
    Cue("lesion_count", lambda d: d.lesions, False, "lesions of the patient in the cohort"),
    Cue("depth", lambda d: d.params.lesion.depth_cm, True, "lesion depth below the skin"),
    Cue("lateral", lambda d: d.params.lesion.lateral, True, "lesion position across the panel"),
    Cue("scanner", lambda d: d.scanner, False, "scanner model of the study"),
    Cue("liver_texture", lambda d: d.params.anatomy.texture_sigma, True, "parenchymal texture spread"),
    Cue("liver_brightness", lambda d: d.params.anatomy.brightness, True, "parenchymal brightness"),
    Cue("liver_surface", lambda d: d.params.anatomy.surface_cm, True, "nodular liver surface"),
)


def get_args_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m trainer phantom-audit", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=2000, help="cohort size (default 2000)")
    p.add_argument("--seed", type=int, default=11, help="cohort seed, as `synth --seed` (default 11)")
    p.add_argument("--json", action="store_true", help="print only the JSON document on stdout")
    return p


def sample_cohort(cases: int, seed: int) -> tuple[list[Drawn], np.ndarray]:
    """The parameters and washout scores ``synth --cases N --seed S`` would draw (no images): the same
    labels, case seeds, two-lesion patients and scanners as a clinical cohort (synth's default)."""
    labels = cohort_labels(cases, seed, CLASS_MIX)
    seeds = [case_seed(seed, i) for i in range(cases)]
    owner = group_cases(cases, seed, clinical=True)
    shared = {o for i, o in enumerate(owner) if o != i}
    clinical = PhantomOptions(acquisition="clinical")
    drawn, scores = [], []
    for i, label in enumerate(labels):
        o = owner[i]
        patient = PatientRef(seeds[o], labels[o]).draw() if o in shared else None
        p = sample_case(np.random.default_rng([seeds[i], 0]), label=label, patient=patient)
        lesions = 2 if (o in shared or o != i) else 1
        drawn.append(Drawn(p, lesions, identity(seeds[o], clinical).scanner.name))
        scores.append(washout_score(p, np.random.default_rng([seeds[i], 5])))
    return drawn, np.array(scores)


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


def _cv_probability(model, x: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    folds = StratifiedKFold(FOLDS, shuffle=True, random_state=seed)
    return cross_val_predict(model, x, y, cv=folds, method="predict_proba")[:, 1]


def _spec_at_90(y: np.ndarray, prob: np.ndarray) -> float:
    fpr, tpr, _ = roc_curve(y, prob)
    return float((1.0 - fpr[tpr >= 0.9]).max())


def _probes(x: np.ndarray, y: np.ndarray, seed: int) -> dict:
    """Cross-validated logistic regression and gradient boosting on the same features."""
    logistic = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000))
    gbm = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15,
                                         l2_regularization=1.0, random_state=seed)
    p_log, p_gbm = _cv_probability(logistic, x, y, seed), _cv_probability(gbm, x, y, seed)
    return {"logistic_auc": round(float(roc_auc_score(y, p_log)), 4),
            "gbm_auc": round(float(roc_auc_score(y, p_gbm)), 4),
            "logistic_specificity_at_90_sensitivity": round(_spec_at_90(y, p_log), 4),
            "gbm_specificity_at_90_sensitivity": round(_spec_at_90(y, p_gbm), 4),
            "features": int(x.shape[1])}


def non_kinetic_features(drawn: list[Drawn]) -> np.ndarray:
    """Every cue at once: continuous ones as values, categorical ones one-hot."""
    cols = []
    for cue in CUES:
        values = [cue.value(d) for d in drawn]
        if cue.continuous:
            cols.append(np.asarray(values, dtype=float)[:, None])
        else:
            cats = np.array([str(v) for v in values])
            levels = np.unique(cats)
            cols.append((cats[:, None] == levels[None, :]).astype(float))
    return np.hstack(cols)


def joint(drawn: list[Drawn], y: np.ndarray, seed: int) -> dict:
    ratios = np.array([expected_ratios(d.params, JOINT_TIMES_S) for d in drawn])
    kinetics = _probes(np.log(np.maximum(ratios, 1e-3)), y, seed)
    kinetics["times_s"] = list(JOINT_TIMES_S)
    return {"non_kinetic": _probes(non_kinetic_features(drawn), y, seed), "kinetics": kinetics,
            "cues": [c.name for c in CUES], "folds": FOLDS}


def physics(drawn: list[Drawn]) -> dict:
    """Shares of the CEUS picture the phantom must keep (noise-free, from the drawn parameters)."""
    params = [d.params for d in drawn]
    r = np.array([expected_ratios(p, (30.0, 600.0)) for p in params])
    sub = np.array([p.subtype for p in params])
    lab = np.array([p.label for p in params])
    aphe, defect = r[:, 0] > APHE_RATIO, r[:, 1] < DEFECT_RATIO
    late_mild = np.array([60.0 <= p.lesion.t_washout < 400.0 and p.lesion.washout_floor >= 0.1
                          for p in params])

    def share(flags: np.ndarray, where: np.ndarray) -> float | None:
        return round(float(flags[where].mean()), 4) if where.any() else None

    doc = {"hcc_aphe": share(aphe, lab == "hcc"), "hcc_late_mild_washout": share(late_mild, lab == "hcc"),
           "hcc_moderate_kupffer_defect": share(defect, sub == "hcc_moderate"),
           "metastasis_kupffer_defect": share(defect, sub == "metastasis"),
           "benign_aphe": share(aphe, lab == "benign"),
           "benign_kupffer_defect": share(defect, lab == "benign"),
           "aphe_ratio": APHE_RATIO, "defect_ratio": DEFECT_RATIO}
    doc["kept"] = all(doc[k] is not None and doc[k] >= lo for k, lo in PHYSICS_TARGETS.items())
    return doc


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
    drawn, scores = sample_cohort(cases, seed)
    params = [d.params for d in drawn]
    y = np.array([p.label != "benign" for p in params], dtype=int)
    ratios = np.array([expected_ratios(p, KINETIC_TIMES_S) for p in params])
    cues = {c.name: {**cue_auc(y, [c.value(d) for d in drawn], c.continuous, seed), "what": c.meaning}
            for c in CUES}
    doc = {
        "n": cases, "seed": seed,
        "class_counts": {lab: sum(p.label == lab for p in params) for lab in LABELS},
        "subtype_counts": {s: sum(p.subtype == s for p in params) for s in SUBTYPES},
        "cues": cues,
        "kinetics_logistic": kinetics_logistic(y, ratios, seed),
        "washout_rule": washout_rule(y, scores),
        "joint": joint(drawn, y, seed),
        "physics": physics(drawn),
        "mean_ratios": {"times_s": list(KINETIC_TIMES_S), **mean_ratios(params, ratios)},
    }
    doc["targets"] = {**TARGETS, "physics": PHYSICS_TARGETS}
    doc["meets_targets"] = meets_targets(doc)
    return doc


def meets_targets(doc: dict) -> bool:
    w = doc["washout_rule"]
    lo_s, hi_s = TARGETS["washout_sensitivity"]
    lo_p, hi_p = TARGETS["washout_specificity"]
    j = doc["joint"]
    return (all(c["auc"] <= TARGETS["cue_auc_max"] for c in doc["cues"].values())
            and doc["kinetics_logistic"]["specificity_at_90_sensitivity"]
            <= TARGETS["kinetics_specificity_max"]
            and lo_s <= w["sensitivity"] <= hi_s and lo_p <= w["specificity"] <= hi_p
            and max(j["non_kinetic"]["logistic_auc"], j["non_kinetic"]["gbm_auc"])
            <= TARGETS["joint_non_kinetic_auc_max"]
            and j["kinetics"]["gbm_specificity_at_90_sensitivity"]
            <= TARGETS["joint_kinetics_gbm_specificity_max"]
            and doc["physics"]["kept"])


def format_text(doc: dict) -> str:
    cc = doc["class_counts"]
    lines = [f"phantom audit: {doc['n']} cases, seed {doc['seed']} "
             f"(benign {cc['benign']}, hcc {cc['hcc']}, non-HCC malignant {cc['non_hcc_malignant']})",
             f"cues, benign vs malignant AUC (target <= {TARGETS['cue_auc_max']:.2f}):"]
    for name, c in doc["cues"].items():
        flag = "" if c["auc"] <= TARGETS["cue_auc_max"] else "  <- gives the answer away"
        lines.append(f"  {name:16s} {c['auc']:.3f}  {c['what']}{flag}")
    k = doc["kinetics_logistic"]
    lines.append(f"kinetics logistic (5 ratios): specificity {k['specificity_at_90_sensitivity']:.3f} "
                 f"at 90 % sensitivity (target <= {TARGETS['kinetics_specificity_max']:.2f}), "
                 f"AUC {k['auc']:.3f}")
    w = doc["washout_rule"]
    lines.append(f"washout score >= {w['positive_from']}: sensitivity {w['sensitivity']:.3f} "
                 f"(target 0.80-0.92), specificity {w['specificity']:.3f} (target 0.55-0.75)")
    nk, kj = doc["joint"]["non_kinetic"], doc["joint"]["kinetics"]
    nk_max, kin_max = TARGETS["joint_non_kinetic_auc_max"], TARGETS["joint_kinetics_gbm_specificity_max"]
    lines.append(f"joint non-kinetic ({nk['features']} features): logistic AUC {nk['logistic_auc']:.3f}, "
                 f"gradient boosting AUC {nk['gbm_auc']:.3f} (target <= {nk_max:.2f})")
    lines.append(f"joint kinetics ({kj['features']} ratios): logistic AUC {kj['logistic_auc']:.3f}, gradient "
                 f"boosting AUC {kj['gbm_auc']:.3f}, specificity "
                 f"{kj['gbm_specificity_at_90_sensitivity']:.3f}"
                 f" at 90 % sensitivity (target <= {kin_max:.2f})")
    ph = doc["physics"]
    kept = [f"{k} {ph[k]:.2f} (>= {lo:.2f})" for k, lo in PHYSICS_TARGETS.items() if ph[k] is not None]
    lines.append("CEUS physics: " + ", ".join(kept) + ("" if ph["kept"] else "  <- physics lost"))
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
