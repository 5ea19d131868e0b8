"""``python -m trainer evaluate RUN [--json]``: the study's evaluation table on out-of-fold predictions.

Rows: one per phase combination (b_only, b_030, le_1min, early, le_5min, full) for the main model, plus
``referential`` (the single-ResNet50) when the run trained it. Beside them: the washout-score baseline,
exact McNemar tests of the model against it, and calibration. Writes RUN/metrics.json, RUN/report.md
and RUN/plots/*.png; with ``--json`` prints the same JSON on stdout (and nothing else there).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

from . import metrics

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
    return config, thr, oof


def evaluate_run(
    run: Path, n_boot: int = 1000, seed: int = 0, washout_threshold: float | None = WASHOUT_THRESHOLD
) -> dict:
    """Compute the evaluation document (the JSON of ``--json``)."""
    config, thr, oof = load_run(run)
    threshold = float(thr["threshold"])
    have = oof["fold"] >= 0
    labels = oof["labels"][have]
    combos = [str(c) for c in oof["combos"]]
    phases = config["phase_combinations"]
    rows = []
    for c, name in enumerate(combos):
        row = {"name": name, "model": config["arch"], "phases": phases[name]}
        row.update(metrics.evaluate_probs(labels, oof["probs"][c, have], threshold, n_boot, seed))
        rows.append(row)
    if "referential_probs" in oof:
        from .model import REFERENTIAL_SLOTS

        row = {"name": "referential", "model": "single", "phases": list(REFERENTIAL_SLOTS)}
        ref = oof["referential_probs"][combos.index("full"), have]
        ref_thr = metrics.choose_threshold(metrics.malignant(labels), metrics.malignant_probability(ref))
        row.update(metrics.evaluate_probs(labels, ref, ref_thr, n_boot, seed), threshold=ref_thr)
        rows.append(row)
    doc = {
        "run": str(run),
        "threshold": threshold,
        "threshold_rule": thr.get("rule"),
        "n_cases": int(have.sum()),
        "folds": config["folds"],
        "data": config.get("data", {}),
        "rows": rows,
        "washout_score": washout_baseline(
            oof, have, labels, combos, threshold, n_boot, seed, washout_threshold
        ),
        "calibration": {r["name"]: {"ece": r["ece"]} for r in rows},
        "study": STUDY,
        "phantom": _is_phantom(config),
    }
    return doc


def _is_phantom(config: dict) -> bool:
    sources = config.get("data", {}).get("sources", {"phantom": 1})
    return set(sources) <= {"phantom"}


def washout_baseline(
    oof: dict,
    have: np.ndarray,
    labels: np.ndarray,
    combos: list[str],
    threshold: float,
    n_boot: int,
    seed: int,
    fixed: float | None,
) -> dict:
    score = oof["washout"][have]
    ok = np.isfinite(score)
    if not ok.any():
        return {"available": False, "reason": "cases.jsonl has no washout_score"}
    ymal = metrics.malignant(labels[ok])
    if fixed is None or fixed < 0:
        t = metrics.choose_threshold(ymal, score[ok])
        rule = (
            f"washout_score >= t, t chosen like the model's threshold (sensitivity >= "
            f"{metrics.THRESHOLD_MIN_SENSITIVITY:.0%} on these cases)"
        )
    else:
        t, rule = float(fixed), "washout_score >= t (given with --washout-threshold)"
    calls = (score[ok] >= t).astype(np.int64)
    out = {"available": True, "threshold": t, "threshold_rule": rule}
    out.update(metrics.binary_calls(labels[ok], calls, n_boot, seed))
    base_right = calls == ymal
    for name in ("early", "full"):
        p = metrics.malignant_probability(oof["probs"][combos.index(name), have][ok])
        model_right = (p >= threshold).astype(np.int64) == ymal
        out[f"mcnemar_{name}"] = {"model": name, **metrics.mcnemar_exact(model_right, base_right)}
    return out


def main(args: argparse.Namespace) -> int:
    run = Path(args.run)
    try:
        doc = evaluate_run(run, args.bootstrap, args.seed, args.washout_threshold)
    except EvaluateError as err:
        log.error("%s", err)
        return 2
    (run / "metrics.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    if not args.no_plots:
        from .report import write_report

        write_report(run, doc)
        log.info("report written: %s", run / "report.md")
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    return 0
