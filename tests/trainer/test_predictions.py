"""Per-case predictions: every AUC a package publishes recomputes from its CSVs, and a mismatch is refused."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from trainer import predictions, published


def _oof(n: int = 60, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    combos = np.array(["early", "full", "kupffer_only"])
    probs = rng.dirichlet([1, 1, 1], size=(3, n))
    probs[:, labels > 0, 0] *= 0.5  # some signal
    probs /= probs.sum(-1, keepdims=True)
    fused = rng.dirichlet([1, 1, 1], size=(2, n))
    fold = rng.integers(0, 2, n)
    fold[:5] = -1  # cases outside every outer fold are not written
    return {"ids": np.array([f"c{i}" for i in range(n)]), "labels": labels, "combos": combos, "probs": probs,
            "fold": fold, "threshold_sets": np.array(["early", "full"]), "fused_probs": fused,
            "referential_probs": rng.dirichlet([1, 1, 1], size=(3, n))}


def test_oof_rows_keep_every_set_and_recompute_the_aucs(tmp_path):
    oof = _oof()
    scores = {"full": np.linspace(0, 1, 60), "early": np.full(60, np.nan)}
    path = tmp_path / predictions.OOF_FILE
    path.write_text(predictions.write_csv(predictions.oof_rows(oof, scores, fused_default=True)))
    rows = predictions.read_csv(path)
    held = oof["fold"] >= 0
    assert len(rows) == held.sum() * 4  # 3 combinations + referential
    y = oof["labels"][held] > 0
    full = 1 - oof["probs"][1, held, 0]
    assert predictions.auc(rows, "full", "p_malignant_cnn") == pytest.approx(roc_auc_score(y, full), abs=1e-5)
    fused = oof["fused_probs"][1, held, 1:].sum(1)
    want = roc_auc_score(y, fused)
    assert predictions.auc(rows, "full", "p_malignant_fused") == pytest.approx(want, abs=1e-5)
    # the shipped probability is the fused one where the package's default is the fusion
    assert predictions.auc(rows, "full", "p_malignant") == pytest.approx(roc_auc_score(y, fused), abs=1e-5)
    ref = 1 - oof["referential_probs"][1, held, 0]
    assert predictions.auc(rows, "referential", "p_malignant_cnn") == pytest.approx(roc_auc_score(y, ref),
                                                                                    abs=1e-5)
    assert predictions.auc(rows, "early", "reader_score") is None  # nothing measured: empty cells
    assert {r["label"] for r in rows} <= {"benign", "hcc", "non_hcc_malignant"}


def test_published_refuses_an_auc_the_rows_do_not_give(tmp_path):
    oof = _oof()
    rows = predictions.oof_rows(oof, {}, fused_default=False)
    held = oof["fold"] >= 0
    y = oof["labels"][held] > 0
    true_auc = roc_auc_score(y, 1 - oof["probs"][1, held, 0])
    doc = {"rows": [{"name": "full", "auc": true_auc}]}
    text_rows = [dict((k, str(v)) for k, v in r.items()) for r in rows]
    assert published.recompute(doc, text_rows, ["full"], "metrics.json") == 1
    doc["rows"][0]["auc"] = true_auc + 0.01
    with pytest.raises(published.PublishedError, match="does not recompute"):
        published.recompute(doc, text_rows, ["full"], "metrics.json")
