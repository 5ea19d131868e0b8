"""Ablation: class weighting of the loss, and does it push HCC to benign?

    .venv/bin/python -m benchmarks.loss_weighting --cases cohorts/train1600 --out runs/ablation \
        [--epochs 12] [--folds 2] [--fold 0] [--json benchmarks/results-loss-weighting.json]

Trains the same outer fold twice with the ``cpu`` preset (same split, seed, steps, augmentation), once
with plain cross-entropy (``none``) and once with inverse-frequency weights (``inverse``), and derives a
third arm exactly from the second: ``inverse-corrected``, the same network with the weights taken out
of its outputs (p_c / w_c, renormalized: what :func:`trainer.model.correct_prior` does to the logits),
on the outer and the inner-validation predictions alike. Reports on the fold's held-out part (full set):
argmax confusion and HCC recall, AUC of P(malignant), and the sensitivity/specificity at the threshold
each arm chose on its own inner validation (≥ 90 % sensitivity rule).
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

ARMS = ("none", "inverse")  # trained; "inverse-corrected" is derived from "inverse"


def arm_result(run: Path, fold: int, labels: np.ndarray, combos: list[str], correct: bool = False) -> dict:
    j = list(fit.THRESHOLD_SETS).index("full")
    with np.load(run / f"fold{fold}" / "oof.npz") as z:
        probs, inner = z["probs"][combos.index("full")], z["inner_probs"][j]
        y, y_inner = labels[z["test_idx"]], labels[z["val_idx"]]
        thr_full = float(z["thresholds"][j])
        best_epoch = int(z["best_epoch"])
    if correct:  # the class weights the fold trained with, taken out of its outputs
        import torch

        w = np.array(torch.load(run / f"fold{fold}" / "best.pt", map_location="cpu",
                                weights_only=False)["class_weights"])
        probs, inner = (p / w / (p / w).sum(-1, keepdims=True) for p in (probs, inner))
        thr_full = float(metrics.choose_threshold(metrics.malignant(y_inner),
                                                  metrics.malignant_probability(inner)))
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
           "arms": {**{arm: arm_result(out / arm, a.fold, ca.labels, combos) for arm in ARMS},
                    "inverse-corrected": arm_result(out / "inverse", a.fold, ca.labels, combos,
                                                    correct=True)},
           "batch_size": json.loads((out / "none" / "config.json").read_text())["preset"]["batch_size"],
           "note": "phantom data: the comparison of the arms is the point, not the numbers"}
    for arm, r in doc["arms"].items():
        print(f"{arm:18s} HCC recall {r['recall']['hcc']:.3f} ({r['hcc_called_benign']} HCC called benign), "
              f"AUC {r['auc_malignant']:.3f}, sens {r['sensitivity']:.3f} spec {r['specificity']:.3f} "
              f"at its inner threshold {r['threshold_full']:.3f}")
    if a.json:
        a.json.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
