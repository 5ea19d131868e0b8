"""Per-case predictions shipped with a model package, so every published AUC can be recomputed.

``oof_predictions.csv`` (cross-validation, written by ``trainer export`` from the run's ``oof.npz``) and
``test_predictions.csv`` (independent test, written by ``trainer test-package --write``): a header row,
then one row per case and phase set — ``phase_set`` is the row name of ``metrics.json`` / ``test.json``
it backs (``full``, ``early``, ``gapped_full``, …, ``referential``, ``as_analyzed``). Columns:

``case_id, label, phase_set, p_benign, p_hcc, p_non_hcc_malignant`` (the CNN's classes),
``p_malignant`` (the shipped call's probability: the fused one where the package's default is the fusion
and the set has one), ``p_malignant_cnn``, ``p_malignant_fused`` (empty where there is none),
``reader_score`` (the washout reader's score for that set, empty where nothing was measured), ``fold``
(outer fold; empty for the test).

Torch-free (``trainer published`` reads these with numpy and scikit-learn only).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

COLUMNS = ("case_id", "label", "phase_set", "p_benign", "p_hcc", "p_non_hcc_malignant", "p_malignant",
           "p_malignant_cnn", "p_malignant_fused", "reader_score", "fold")
OOF_FILE, TEST_FILE = "oof_predictions.csv", "test_predictions.csv"
CLASSES = ("benign", "hcc", "non_hcc_malignant")
# which washout reader a row's set is compared with (trainer.reader.READERS): the early one for sets
# without the late phases, the full one otherwise
EARLY_READER_SETS = ("early", "fused_early", "b_only", "b_030", "le_1min")


def _num(v: float | None) -> str:
    return "" if v is None or not math.isfinite(float(v)) else f"{float(v):.6g}"


def write_csv(rows: Iterable[Mapping[str, object]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k, "") for k in COLUMNS})
    return buf.getvalue()


def row(case_id: str, label: str, phase_set: str, cnn: Sequence[float], *, p_fused: float | None = None,
        shipped_fused: bool = False, reader: float | None = None, fold: int | None = None) -> dict:
    """One CSV row; ``cnn`` the CNN's [benign, hcc, non_hcc_malignant]."""
    p_cnn = float(cnn[1]) + float(cnn[2])
    fused_ok = p_fused is not None and math.isfinite(float(p_fused))
    shipped = float(p_fused) if (shipped_fused and fused_ok and p_fused is not None) else p_cnn
    return {"case_id": case_id, "label": label, "phase_set": phase_set,
            "p_benign": _num(cnn[0]), "p_hcc": _num(cnn[1]), "p_non_hcc_malignant": _num(cnn[2]),
            "p_malignant": _num(shipped), "p_malignant_cnn": _num(p_cnn),
            "p_malignant_fused": _num(p_fused) if fused_ok else "", "reader_score": _num(reader),
            "fold": "" if fold is None or fold < 0 else str(int(fold))}


def read_csv(path: str | Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = set(COLUMNS[:8]) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: lacks columns {sorted(missing)}")
        return list(reader)


def auc(rows: Sequence[Mapping[str, str]], phase_set: str, column: str) -> float | None:
    """AUC of ``column`` for benign vs malignant over the rows of ``phase_set`` (None: no such rows or
    one class only). Empty cells are left out, as the documents leave out unscored cases."""
    from sklearn.metrics import roc_auc_score

    y, s = [], []
    for r in rows:
        if r["phase_set"] != phase_set or r.get(column, "") == "":
            continue
        y.append(0 if r["label"] == "benign" else 1)
        s.append(float(r[column]))
    if len(set(y)) < 2:
        return None
    return float(roc_auc_score(np.array(y), np.array(s)))


def oof_rows(oof: Mapping[str, np.ndarray], reader_scores: Mapping[str, np.ndarray],
             fused_default: bool) -> list[dict]:
    """The cross-validation rows from a run's ``oof.npz`` arrays: every combination of the main model,
    the referential model (``referential``), and the fused sets (``fused_early``, ``fused_full``)."""
    ids, labels, fold = [str(i) for i in oof["ids"]], oof["labels"], oof["fold"]
    combos = [str(c) for c in oof["combos"]]
    sets = [str(s) for s in oof["threshold_sets"]] if "threshold_sets" in oof else []
    fused = oof.get("fused_probs")
    out = []
    for i in np.flatnonzero(fold >= 0):
        lab = CLASSES[int(labels[i])]
        for c, name in enumerate(combos):
            p_f = None
            if fused is not None and name in sets:
                p_f = float(fused[sets.index(name), i, 1:].sum())
            out.append(row(ids[i], lab, name, oof["probs"][c, i], p_fused=p_f, shipped_fused=fused_default,
                           reader=_reader(reader_scores, name, i), fold=int(fold[i])))
        if "referential_probs" in oof:
            ref = oof["referential_probs"][combos.index("full"), i]
            if np.isfinite(ref).all():
                out.append(row(ids[i], lab, "referential", ref, reader=_reader(reader_scores, "full", i),
                               fold=int(fold[i])))
    return out


def _reader(scores: Mapping[str, np.ndarray], phase_set: str, i: int) -> float | None:
    s = scores.get("early" if phase_set in EARLY_READER_SETS else "full")
    return None if s is None else float(s[i])
