"""End to end on a fake cohort: fit (through the DDP code path, one gloo process) → evaluate → report.

The smoke run is tiny (16 cases, 32², 2 epochs, one hold-out fold) so it stays in the default suite.
The real-phantom variant is tests/trainer/test_smoke_phantom.py; two-process DDP is marked slow.
"""

import json
import logging
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from trainer import evaluate, fit

from .conftest import make_fake_cohort

FAST = ["--size", "32", "--epochs", "2", "--max-cases", "16", "--batch-size", "8"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fit(*argv: str) -> int:
    return fit.main(fit.get_args_parser().parse_args(list(argv)))


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> Path:
    return make_fake_cohort(tmp_path_factory.mktemp("cohort"), n=16, size=32)


@pytest.fixture(scope="module")
def interrupted(cohort, tmp_path_factory) -> dict:
    """A run killed after its first epoch, then continued with --resume (DDP code path, world of one)."""
    out = tmp_path_factory.mktemp("runs") / "run"
    facts: dict = {"out": out}
    real_write_log = fit._write_log

    def crash_after_first_epoch(path, rows):
        real_write_log(path, rows)
        raise KeyboardInterrupt  # the machine went away right after epoch 0 was saved

    with pytest.MonkeyPatch.context() as mp:  # torchrun's variables for a world of one
        for k, v in {
            "RANK": "0",
            "WORLD_SIZE": "1",
            "LOCAL_RANK": "0",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(_free_port()),
        }.items():
            mp.setenv(k, v)
        mp.setattr(fit, "_write_log", crash_after_first_epoch)
        with pytest.raises(KeyboardInterrupt):
            _fit("--cases", str(cohort), "--out", str(out), "--device", "cpu", *FAST)
        facts["epoch_after_crash"] = torch.load(out / "fold0" / "checkpoint.pt", weights_only=False)["epoch"]
        facts["dist_after_crash"] = torch.distributed.is_initialized()
        mp.setattr(fit, "_write_log", real_write_log)
        handler, logger = _Capture(), logging.getLogger("trainer.fit")
        old_level = logger.level
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        try:
            facts["rc"] = _fit(
                "--cases", str(cohort), "--out", str(out), "--device", "cpu", "--resume", *FAST
            )
        finally:
            logger.removeHandler(handler)
            logger.setLevel(old_level)
        facts["log"] = handler.text
    return facts


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.INFO)
        self.text = ""

    def emit(self, record):
        self.text += record.getMessage() + "\n"


@pytest.fixture(scope="module")
def run(interrupted) -> Path:
    assert interrupted["rc"] == 0
    assert not torch.distributed.is_initialized()
    return interrupted["out"]


def test_resume_continues_the_interrupted_fold(interrupted, run):
    assert interrupted["epoch_after_crash"] == 0 and not interrupted["dist_after_crash"]
    assert "triple fold 0: resuming at epoch 1" in interrupted["log"]
    epochs = [line.split(",")[0] for line in (run / "fold0" / "log.csv").read_text().splitlines()[1:]]
    assert epochs == ["0", "1"]


def test_run_directory_has_the_documented_layout(run):
    config = json.loads((run / "config.json").read_text())
    for key in ("protocol", "input", "preset", "arch", "folds", "seed", "class_weights", "data"):
        assert key in config
    assert config["input"]["size"] == 32 and config["world_size"] == 1
    assert config["data"]["n"] == 16 and config["archs"] == ["triple", "single"]
    for folder in (run / "fold0", run / "referential" / "fold0"):
        ck = torch.load(folder / "checkpoint.pt", weights_only=False)
        assert {"model", "optimizer", "scheduler", "epoch", "best_metric", "args"} <= set(ck)
        assert ck["epoch"] == 1 and ck["finished"]
        rows = (folder / "log.csv").read_text().splitlines()
        assert len(rows) == 3 and rows[0].startswith("epoch,lr,train_loss")
    final = torch.load(run / "final" / "checkpoint.pt", weights_only=False)
    assert final["selected_from"] == "final" and 0.0 <= final["threshold"] <= 1.0
    thr = json.loads((run / "threshold.json").read_text())
    assert thr["threshold"] == final["threshold"] == thr["thresholds"]["full"]
    assert set(thr["thresholds"]) == {"early", "full"} and final["thresholds"] == thr["thresholds"]
    sel = json.loads((run / "fold0" / "selection.json").read_text())
    # one fold: its inner validation is the whole pool the final model's thresholds are chosen on
    assert sel["thresholds"] == thr["thresholds"] and sel["n_inner_val"] > 0
    # the shipped model saw every case, for the epochs the fold chose (its best epoch, counted from 0)
    trained = (run / "final_train" / "log.csv").read_text().splitlines()[1:]
    assert len(trained) == sel["best_epoch"] + 1
    assert f"stopped after epoch {sel['best_epoch']}" in thr["selection"]
    # trained with inverse-frequency weights, which are then taken out of the shipped model's outputs
    assert config["class_weighting"] == "inverse-corrected" and final["prior_corrected"] is True
    # the fused variant: fitted on the inner validation, carried by the shipped checkpoint
    fusion = json.loads((run / "fusion.json").read_text())
    assert set(fusion["sets"]) == {"early", "full"} and final["fusion"]["sets"] == fusion["sets"]
    assert "inner-validation" in fusion["fitted_on"] and isinstance(fusion["default"], bool)
    with np.load(run / "oof.npz") as z:
        held = z["fold"] >= 0
        assert np.isfinite(z["fused_probs"][:, held]).all() and np.isnan(z["fused_probs"][:, ~held]).all()
        np.testing.assert_allclose(z["fused_probs"][:, held].sum(-1), 1.0, atol=1e-9)
    # the inner validation lies inside the training part, never in the outer fold
    with np.load(run / "oof.npz") as z:
        outer = set(z["ids"][z["fold"] == 0])
    assert outer and not outer & set(sel["inner_val_ids"])


def test_oof_probabilities_cover_the_held_out_cases(run):
    with np.load(run / "oof.npz") as z:
        fold, probs, combos = z["fold"], z["probs"], list(z["combos"])
        ref = z["referential_probs"]
    held = fold >= 0
    assert 0 < held.sum() < len(fold)  # one hold-out fold: a quarter of the cases
    assert combos == ["b_only", "b_030", "le_1min", "early", "le_5min", "full", "gapped_full", "no_b",
                      "kupffer_only"]
    np.testing.assert_allclose(probs[:, held].sum(-1), 1.0, atol=1e-5)
    assert np.isnan(probs[:, ~held]).all() and np.isfinite(ref[:, held]).all()
    # masking slots changes the prediction: B only and all nine are not the same input
    assert not np.allclose(probs[0, held], probs[-1, held])


def test_evaluate_json_rows_and_report(run, capsys):
    rc = evaluate.main(evaluate.get_args_parser().parse_args([str(run), "--json", "--bootstrap", "100"]))
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)  # stdout carries only the JSON
    names = [r["name"] for r in doc["rows"]]
    assert {"early", "full", "gapped_full", "no_b", "kupffer_only", "referential", "fused_early",
            "fused_full"} <= set(names)
    assert doc["call_source"] in ("cnn", "cnn+evidence")
    rows = {r["name"]: r for r in doc["rows"]}
    sel = json.loads((run / "fold0" / "selection.json").read_text())
    with np.load(run / "oof.npz") as z:
        held = z["fold"] >= 0
        y = z["labels"][held] != 0
        for name, tset in (("early", "early"), ("full", "full"), ("gapped_full", "full")):
            assert rows[name]["threshold_set"] == tset
            assert rows[name]["thresholds_by_fold"] == {"fold0": sel["thresholds"][tset]}
            # called at the inner-validation threshold, not re-tuned on these outer predictions
            p = 1 - z["probs"][list(z["combos"]).index(name), held, 0]
            assert rows[name]["sensitivity"] == pytest.approx((p[y] >= sel["thresholds"][tset]).mean())
    for row in doc["rows"]:
        for key in ("sensitivity", "specificity", "accuracy_3class", "auc"):
            assert row[key] is None or isinstance(row[key], float)
            assert len(row[f"{key}_ci"]) == 2
        assert row["n"] == sum(map(sum, row["confusion_3class"]))
    wo = doc["washout_score"]
    assert wo["available"] and "p_value" in wo["full"]["mcnemar"]
    # the reader is compared at the model's sensitivity
    assert wo["full"]["model_sensitivity"] == pytest.approx(rows["full"]["sensitivity"])
    assert wo["full"]["sensitivity"] >= wo["full"]["model_sensitivity"] - 1e-9
    assert wo["early"]["model_row"] == "early" and wo["generator_score"]["available"]
    report = (run / "report.md").read_text()
    assert "phantom" in report and "93.2" in report and "90.2" in report
    assert (run / "plots" / "roc.png").stat().st_size > 1000
    assert json.loads((run / "metrics.json").read_text())["rows"] == doc["rows"]


def test_existing_run_is_not_overwritten_without_resume(run, cohort, caplog):
    assert _fit("--cases", str(cohort), "--out", str(run), *FAST) == 2
    assert "--resume" in caplog.text


@pytest.mark.slow
def test_two_process_ddp_with_gloo(cohort, tmp_path):
    out = tmp_path / "ddp"
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-port",
        str(_free_port()),
        "-m",
        "trainer",
        "fit",
        "--cases",
        str(cohort),
        "--out",
        str(out),
        "--device",
        "cpu",
        "--no-referential",
        *FAST,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    config = json.loads((out / "config.json").read_text())
    assert config["world_size"] == 2
    assert (out / "final" / "checkpoint.pt").is_file()


def test_export_reads_the_runs_thresholds(run):
    from trainer import export

    r = export.load_run(run)
    thr = json.loads((run / "threshold.json").read_text())
    assert r.thresholds == thr["thresholds"] and r.threshold == thr["thresholds"]["full"]
    assert r.selected_from == "final"  # trained on every case: int8 checks use a fifth, calibration the rest
    assert r.heldout_ids and not set(r.train_ids) & set(r.heldout_ids)


def test_no_final_ships_the_fold_with_the_lowest_inner_loss(cohort, tmp_path):
    from trainer import export

    out = tmp_path / "run"
    assert _fit("--cases", str(cohort), "--out", str(out), "--device", "cpu", "--no-final",
                "--no-referential", "--class-weighting", "inverse", *FAST) == 0
    final = torch.load(out / "final" / "checkpoint.pt", weights_only=False)
    assert final["selected_from"] == "fold0" and not (out / "final_train").exists()
    assert json.loads((out / "config.json").read_text())["class_weighting"] == "inverse"
    r = export.load_run(out)
    with np.load(out / "oof.npz") as z:
        outer = sorted(str(i) for i in z["ids"][z["fold"] == 0])
    assert sorted(r.heldout_ids) == outer and not set(r.train_ids) & set(outer)
