"""Nested selection: the outer fold's labels cannot move the chosen checkpoint or the thresholds."""

import json
import shutil
from pathlib import Path

import numpy as np
import torch

from ceusdesk.base.protocol import default_protocol
from ceusdesk.inference.preprocess import InputSpec
from trainer import cache, fit
from trainer.data import CACHE_DIRNAME, load_cached_cases, read_cases

from .conftest import make_fake_cohort

# --no-final: the model trained on every case after the folds sees the outer labels by design; what must
# not move is the cross-validation's own selection (epoch, thresholds, the fold's weights and predictions)
FAST = ["--size", "32", "--epochs", "3", "--max-cases", "18", "--batch-size", "6", "--no-referential",
        "--device", "cpu", "--preset", "smoke", "--no-final"]


def _fit(cases: Path, out: Path) -> int:
    return fit.main(fit.get_args_parser().parse_args(["--cases", str(cases), "--out", str(out), *FAST]))


def _relabel(src: Path, dst: Path, new_labels: dict[str, str]) -> None:
    """A copy of the cohort with some labels changed and the same tensors (cache entries re-keyed)."""
    spec, protocol = InputSpec(size=32), default_protocol()
    shutil.copytree(src / "studies", dst / "studies")
    lines = []
    for rec in read_cases(src):
        old = cache.cache_path(src / CACHE_DIRNAME, src, rec, spec, protocol)
        rec = {**rec, "label": new_labels.get(rec["case_id"], rec["label"])}
        new = cache.cache_path(dst / CACHE_DIRNAME, dst, rec, spec, protocol)
        new.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(old, new)
        lines.append(json.dumps(rec))
    (dst / "cases.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_permuting_outer_labels_leaves_selection_unchanged(tmp_path, monkeypatch):
    a = make_fake_cohort(tmp_path / "a", n=18, size=32, seed=3)
    real_splits, kept = fit.make_splits, {}

    def same_splits(labels, groups, folds, seed):  # the outer split is held fixed across both runs
        if "splits" not in kept:
            kept["splits"] = real_splits(labels, groups, folds, seed)
        return kept["splits"]

    monkeypatch.setattr(fit, "make_splits", same_splits)
    assert _fit(a, tmp_path / "run_a") == 0
    ca = load_cached_cases(a, InputSpec(size=32))
    outer = kept["splits"][0][1]
    ids = [ca.ids[i] for i in outer]
    labels = [str(r["label"]) for r in ca.records if r["case_id"] in set(ids)]
    shuffled = labels[1:] + labels[:1]  # a cyclic shift: many outer cases change class
    assert shuffled != labels
    _relabel(a, tmp_path / "b", dict(zip(ids, shuffled, strict=True)))
    assert _fit(tmp_path / "b", tmp_path / "run_b") == 0

    runs = (tmp_path / "run_a", tmp_path / "run_b")
    sel_a, sel_b = (json.loads((r / "fold0" / "selection.json").read_text()) for r in runs)
    assert sel_a["best_epoch"] == sel_b["best_epoch"]
    assert sel_a["thresholds"] == sel_b["thresholds"]
    assert sel_a["inner_val_ids"] == sel_b["inner_val_ids"] and not set(sel_a["inner_val_ids"]) & set(ids)
    fa, fb = (torch.load(r / "final" / "checkpoint.pt", weights_only=False) for r in runs)
    assert fa["thresholds"] == fb["thresholds"] and fa["epoch"] == fb["epoch"]
    assert all(torch.equal(fa["model"][k], fb["model"][k]) for k in fa["model"])
    with np.load(tmp_path / "run_a" / "oof.npz") as za, np.load(tmp_path / "run_b" / "oof.npz") as zb:
        assert not np.array_equal(za["labels"], zb["labels"])  # the runs really saw other outer labels
        np.testing.assert_array_equal(za["probs"][:, za["fold"] >= 0], zb["probs"][:, zb["fold"] >= 0])
