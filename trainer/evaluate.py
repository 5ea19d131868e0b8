"""``python -m trainer evaluate RUN [--json]``: the study's evaluation table on out-of-fold predictions.

Rows: one per phase combination (b_only, b_030, le_1min, early, le_5min, full, gapped_full, no_b,
kupffer_only) for the main model, plus ``referential`` (the single-ResNet50) when the run trained it.
Each row calls benign/malignant at the per-phase-set threshold its fold chose on its *inner* validation
(``threshold_set``: full for combinations holding 10:00, else early), never re-tuned on the outer
predictions; the bootstrap re-chooses those thresholds on resampled inner-validation predictions.
Beside them: the washout reader (trainer.reader, from the app's measured evidence) at the model's
sensitivity and the app's readout rule as fixed calls, the generator's washout score as a reference, and
calibration. Writes RUN/metrics.json, RUN/report.md
and RUN/plots/*.png; with ``--json`` prints the same JSON on stdout (and nothing else there).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

from ceusdesk.base.atomicio import write_json_atomic
from ceusdesk.base.protocol import Protocol

from . import metrics
from .reader import READERS, RULES, reader_slots, rule_calls, source, washout_scores

log = logging.getLogger(__name__)

STUDY = {  # Kamiyama et al., J Med Ultrason 2024 (see docs/ceus-primer.md)
    "full": {"sensitivity": 0.932, "specificity": 0.653, "accuracy_3class": 0.601},
    "early": {"sensitivity": 0.902, "specificity": 0.612},
}


WASHOUT_THRESHOLD = 3.0  # phantom scale 1-5: "3 mild late washout or Kupffer defect" and above → malignant


class EvaluateError(ValueError):
    pass


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Out-of-fold evaluation table, plots and report", add_help=add_help
    )
    p.add_argument("run", help="run directory written by `python -m trainer fit`")
    p.add_argument("--json", action="store_true", help="print the metrics JSON on stdout")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the 95 %% intervals")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--washout-threshold",
        type=float,
        default=WASHOUT_THRESHOLD,
        help="call malignant when washout_score >= T (default %(default)s: the phantom's 1-5 "
        "scale, docs/phantom.md); pass a negative value to choose T by the model's rule",
    )
    p.add_argument("--no-plots", action="store_true", help="skip report.md and the PNG plots")
    return p


def load_run(run: Path) -> tuple[dict, dict, dict]:
    try:
        config = json.loads((run / "config.json").read_text(encoding="utf-8"))
        thr = json.loads((run / "threshold.json").read_text(encoding="utf-8"))
        with np.load(run / "oof.npz") as z:
            oof = {k: z[k] for k in z.files}
    except FileNotFoundError as err:
        raise EvaluateError(f"{err.filename}: missing - is {run} a finished `trainer fit` run?") from err
    if "fold_thresholds" not in oof:
        raise EvaluateError(f"{run}: made before nested selection (no per-fold thresholds in oof.npz); "
                            "retrain it with this trainer")
    return config, thr, oof


class FoldThresholds:
    """Each held-out case's threshold for one phase set (its fold's), and re-chosen ones per resample."""

    def __init__(self, oof: dict, prefix: str, phase_set: str, have: np.ndarray, n_boot: int, seed: int):
        sets = [str(s) for s in oof["threshold_sets"]]
        j = sets.index(phase_set)
        folds = [int(f) for f in oof[f"{prefix}fold_ids"]]
        table = oof[f"{prefix}fold_thresholds"][:, j]
        pos = {f: i for i, f in enumerate(folds)}
        case_pos = np.array([pos[int(f)] for f in oof["fold"][have]], dtype=np.int64)
        self.by_fold = {f"fold{f}": float(table[i]) for i, f in enumerate(folds)}
        self.per_case = table[case_pos]
        # re-choose every fold's threshold on bootstrap resamples of its inner-validation predictions
        rng = np.random.default_rng([seed, 17, j])
        inner_case, inner_fold = oof[f"{prefix}inner_case"], oof[f"{prefix}inner_fold"]
        y_all = metrics.malignant(oof["labels"])
        p_inner = metrics.malignant_probability(oof[f"{prefix}inner_probs"][j])
        boot = np.empty((n_boot, len(folds)))
        for i, f in enumerate(folds):
            m = inner_fold == f
            boot[:, i] = metrics.rechosen_thresholds(y_all[inner_case[m]], p_inner[m], n_boot, rng)
        self.boot = boot[:, case_pos]  # [n_boot, n held-out]


def _row(name: str, model: str, phases, phase_set: str, labels, probs, thr: FoldThresholds,
         n_boot: int, seed: int) -> dict:
    row = {"name": name, "model": model, "phases": list(phases), "threshold_set": phase_set,
           "thresholds_by_fold": thr.by_fold}
    row.update(metrics.evaluate_probs(labels, probs, thr.per_case, n_boot, seed, thr.boot))
    return row


def evaluate_run(
    run: Path, n_boot: int = 1000, seed: int = 0, washout_threshold: float | None = WASHOUT_THRESHOLD
) -> dict:
    """Compute the evaluation document (the JSON of ``--json``)."""
    from .data import threshold_set

    config, thr_doc, oof = load_run(run)
    protocol = Protocol.from_dict(config["protocol"])
    have = oof["fold"] >= 0
    labels = oof["labels"][have]
    combos = [str(c) for c in oof["combos"]]
    phases = config["phase_combinations"]
    sets = {s: FoldThresholds(oof, "", s, have, n_boot, seed) for s in ("early", "full")}
    rows = []
    for c, name in enumerate(combos):
        tset = threshold_set(protocol, phases[name])
        rows.append(_row(name, config["arch"], phases[name], tset, labels, oof["probs"][c, have], sets[tset],
                         n_boot, seed))
    if "referential_probs" in oof:
        from .model import REFERENTIAL_SLOTS

        ref_thr = FoldThresholds(oof, "referential_", "full", have, n_boot, seed)
        rows.append(_row("referential", "single", REFERENTIAL_SLOTS, "full", labels,
                         oof["referential_probs"][combos.index("full"), have], ref_thr, n_boot, seed))
    shipped_probs = {s: oof["probs"][combos.index(s), have] for s in ("early", "full")}
    shipped_sets = dict(sets)
    fusion_path = run / "fusion.json"
    fused_default = fusion_path.is_file() and bool(json.loads(fusion_path.read_text(encoding="utf-8"))
                                                   .get("default"))
    if "fused_probs" in oof:  # the late fusion with the measured evidence (trainer.fusion), per set
        for j, s in enumerate(str(x) for x in oof["threshold_sets"]):
            fthr = FoldThresholds(oof, "fused_", s, have, n_boot, seed)
            rows.append(_row(f"fused_{s}", "cnn+evidence", phases[s], s, labels, oof["fused_probs"][j, have],
                             fthr, n_boot, seed))
            if fused_default:  # the shipped call is the fused one: the washout reader is compared with it
                shipped_probs[s], shipped_sets[s] = oof["fused_probs"][j, have], fthr
    return {
        "run": str(run),
        "thresholds": thr_doc.get("thresholds"),
        "threshold": float(thr_doc["threshold"]),
        "threshold_rule": thr_doc.get("rule"),
        "selected_from": thr_doc.get("selected_from"),
        "selection": config.get("selection"),
        "n_cases": int(have.sum()),
        "folds": config["folds"],
        "data": config.get("data", {}),
        "rows": rows,
        "washout_score": washout_comparison(oof, have, labels, shipped_probs, shipped_sets, protocol, n_boot,
                                            seed, washout_threshold),
        "call_source": "cnn+evidence" if fused_default else "cnn",
        "calibration": {r["name"]: {"ece": r["ece"]} for r in rows},
        "study": STUDY,
        "phantom": _is_phantom(config),
    }


def _is_phantom(config: dict) -> bool:
    sources = config.get("data", {}).get("sources", {"phantom": 1})
    return set(sources) <= {"phantom"}


def reader_rows(
    table: np.ndarray, labels: np.ndarray, model_probs: dict[str, np.ndarray],
    thresholds: dict[str, np.ndarray], boot_thresholds: dict[str, np.ndarray | None], protocol: Protocol,
    n_boot: int, seed: int,
) -> dict:
    """The washout reader (``full`` and ``early``) against the model's row of the same set, at the model's
    sensitivity, and the app's rule as fixed calls (``rule``). ``table``: trainer.reader's table (or a
    legacy grey one); ``model_probs``/``thresholds``/``boot_thresholds`` are keyed by phase set."""
    out: dict = {
        "available": False,
        "source": source(table, protocol),
        "slots": {r: [protocol.slot_names[i] for i in reader_slots(protocol, r)] for r in READERS},
        "rule": {},
    }
    for name in READERS:
        calls = rule_calls(table, protocol, name)
        ok = np.isfinite(calls)
        rule: dict = {"rule": RULES[name], "available": bool(ok.sum() >= 2)}
        if rule["available"]:
            rule.update(metrics.binary_calls(labels[ok], calls[ok].astype(np.int64), n_boot, seed))
        else:
            rule["reason"] = "no measured evidence"
        out["rule"][name] = rule
    for name in READERS:
        score = washout_scores(table, protocol, name)
        ok = np.isfinite(score)
        if ok.sum() < 2:
            out[name] = {"available": False, "n": int(ok.sum()),
                         "reason": "no measured lesion/liver ratio"}
            continue
        pmal = metrics.malignant_probability(model_probs[name])
        calls = (pmal >= thresholds[name]).astype(np.int64)
        boot = boot_thresholds.get(name)
        boot_calls = None if boot is None else (pmal[None, :] >= boot).astype(np.int64)[:, ok]
        out[name] = {"available": True, "model_row": name, **metrics.matched_sensitivity(
            labels[ok], calls[ok], score[ok], n_boot, seed, boot_calls)}
        out["available"] = True
    if out["available"]:  # headline numbers: the full-set reader
        main = out["full"] if out["full"].get("available") else out["early"]
        out.update(sensitivity=main["sensitivity"], specificity=main["specificity"],
                   sensitivity_ci=main["sensitivity_ci"], specificity_ci=main["specificity_ci"])
    return out


def washout_comparison(
    oof: dict, have: np.ndarray, labels: np.ndarray, probs: dict[str, np.ndarray],
    sets: dict[str, FoldThresholds], protocol: Protocol, n_boot: int, seed: int, fixed: float | None,
) -> dict:
    """The washout reader against the shipped call's out-of-fold predictions (``probs`` per set)."""
    out = reader_rows(oof["reader"][have], labels, probs, {s: t.per_case for s, t in sets.items()},
                      {s: t.boot for s, t in sets.items()}, protocol, n_boot, seed)
    out["generator_score"] = generator_baseline(oof["washout"][have], labels, n_boot, seed, fixed)
    return out


def generator_baseline(score: np.ndarray, labels: np.ndarray, n_boot: int, seed: int,
                       fixed: float | None) -> dict:
    """cases.jsonl's washout_score (the phantom generator's, from its true ratios) ≥ t: a reference."""
    ok = np.isfinite(score)
    if not ok.any():
        return {"available": False, "reason": "cases.jsonl has no washout_score"}
    ymal = metrics.malignant(labels[ok])
    if fixed is None or fixed < 0:
        t = metrics.choose_threshold(ymal, score[ok])
        rule = (f"washout_score >= t, t chosen on these cases (sensitivity >= "
                f"{metrics.THRESHOLD_MIN_SENSITIVITY:.0%})")
    else:
        t, rule = float(fixed), "washout_score >= t (given with --washout-threshold)"
    out = {"available": True, "threshold": t, "threshold_rule": rule,
           "note": "the generator's score from its true ratios, not what a reader sees"}
    out.update(metrics.binary_calls(labels[ok], (score[ok] >= t).astype(np.int64), n_boot, seed))
    return out


def main(args: argparse.Namespace) -> int:
    run = Path(args.run)
    try:
        doc = evaluate_run(run, args.bootstrap, args.seed, args.washout_threshold)
    except EvaluateError as err:
        log.error("%s", err)
        return 2
    write_json_atomic(run / "metrics.json", doc)
    if not args.no_plots:
        from .report import write_report

        write_report(run, doc)
        log.info("report written: %s", run / "report.md")
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2, allow_nan=False) + "\n")
    return 0
