"""Ablation: does inverse-frequency class weighting push HCC to benign?

    .venv/bin/python -m benchmarks.loss_weighting --cases cohorts/train1600 --out runs/ablation \
        [--epochs 12] [--folds 2] [--fold 0] [--json benchmarks/results-loss-weighting.json]

Trains the same outer fold twice with the ``cpu`` preset (same split, seed, steps, augmentation), once
with plain cross-entropy (``none``) and once with inverse-frequency weights (``inverse``), and reports
on the fold's held-out part (full set): argmax confusion and HCC recall, AUC of P(malignant), and the
specificity at the threshold each arm chose on its own inner validation (≥ 90 % sensitivity rule).
Not a test; the trainer's default (``trainer/presets.py`` ``class_weighting``) cites the committed result.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sklearn.metrics import confusion_matrix, roc_auc_score

from ceusdesk.base.protocol import default_protocol
from ceusdesk.inference.preprocess import InputSpec
from trainer import data as tdata
from trainer import fit, metrics
from trainer.presets import get_preset

ARMS = ("none", "inverse")


def arm_result(run: Path, fold: int, labels: np.ndarray, combos: list[str]) -> dict:
    with np.load(run / f"fold{fold}" / "oof.npz") as z:
        probs = z["probs"][combos.index("full")]
        y = labels[z["test_idx"]]
        thr_full = float(z["thresholds"][list(fit.THRESHOLD_SETS).index("full")])
        best_epoch = int(z["best_epoch"])
    cm = confusion_matrix(y, probs.argmax(1), labels=[0, 1, 2])
    mal, p_mal = metrics.malignant(y), metrics.malignant_probability(probs)
    call = p_mal >= thr_full
    recall = cm.diagonal() / np.maximum(cm.sum(1), 1)
    return {
        "n": int(len(y)), "best_epoch": best_epoch,
        "confusion_3class": cm.tolist(),
        "recall": {c: round(float(r), 4) for c, r in zip(tdata.CLASSES, recall, strict=True)},
        "hcc_called_benign": int(cm[1, 0]),
        "auc_malignant": round(float(roc_auc_score(mal, p_mal)), 4),
        "threshold_full": round(thr_full, 4),
        "sensitivity": round(float(call[mal == 1].mean()), 4),
        "specificity": round(float((~call[mal == 0]).mean()), 4),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", required=True)
    p.add_argument("--out", required=True, help="folder for the two runs")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--folds", type=int, default=2)
    p.add_argument("--fold", type=int, default=0)
    p.add_argument("--json", type=Path, default=None)
    a = p.parse_args()
    out = Path(a.out)
    preset = get_preset("cpu")
    for arm in ARMS:
        run = out / arm
        if not (run / f"fold{a.fold}" / "oof.npz").is_file():
            resume = ["--resume"] if (run / "config.json").is_file() else []
            args = fit.get_args_parser().parse_args([
                "--cases", a.cases, "--out", str(run), "--preset", "cpu", "--epochs", str(a.epochs),
                "--folds", str(a.folds), "--only-fold", str(a.fold), "--class-weighting", arm,
                "--no-referential", "--device", "cpu", *resume])
            if fit.main(args) != 0:
                raise SystemExit(f"the {arm} arm failed")
    ca = tdata.load_cached_cases(Path(a.cases).resolve(), InputSpec(size=preset.size), workers=1,
                                 protocol=default_protocol())
    combos = list(tdata.phase_combinations(default_protocol()))
    doc = {"created": datetime.now(UTC).isoformat(timespec="seconds"), "cases": Path(a.cases).name,
           "preset": "cpu", "epochs": a.epochs, "folds": a.folds, "fold": a.fold, "set": "full",
           "arms": {arm: arm_result(out / arm, a.fold, ca.labels, combos) for arm in ARMS},
           "note": "phantom data: the comparison of the two arms is the point, not the numbers"}
    for arm, r in doc["arms"].items():
        print(f"{arm:8s} HCC recall {r['recall']['hcc']:.3f} ({r['hcc_called_benign']} HCC called benign), "
              f"AUC {r['auc_malignant']:.3f}, sens {r['sensitivity']:.3f} spec {r['specificity']:.3f} "
              f"at its inner threshold {r['threshold_full']:.3f}")
    if a.json:
        a.json.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
