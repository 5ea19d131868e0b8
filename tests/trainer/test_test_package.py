"""test-package: a package on an independent labelled phantom cohort through the app's code."""

import dataclasses
import json
import subprocess
import sys

import pytest

from ceusdesk.model_package import manifest as mf
from tests.tiny_package import make_tiny_package
from trainer import test_package as tp


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    out = tmp_path_factory.mktemp("test_cohort")
    subprocess.run([sys.executable, "-m", "trainer", "synth", "--out", str(out), "--cases", "4",
                    "--seed", "21", "--size", "160x128", "--frames", "2", "--workers", "1", "--no-progress"],
                   check=True, capture_output=True, timeout=300)
    return out


def _package(folder, seeds: dict | None):
    path = make_tiny_package(folder, size=32, thresholds={"early": 0.4, "full": 0.6})
    if seeds is not None:  # what export records from the training cohort's synth.json
        man = mf.read_manifest(path)
        training = {**man.training, "data": {"seeds": seeds}}
        mf.write_manifest(dataclasses.replace(man, training=training), path)
    return path


def _main(*argv: str) -> int:
    return tp.main(tp.get_args_parser().parse_args(list(argv)))


def test_refuses_when_independence_cannot_be_checked_or_fails(tmp_path, cohort, caplog):
    unknown = _package(tmp_path / "unknown", None)
    assert _main(str(unknown.parent), "--cases", str(cohort), "--bootstrap", "20") == 2
    assert "--no-seed-check" in caplog.text
    synth = json.loads((cohort / "synth.json").read_text())
    overlapping = {"available": True, "seed": 99, "case_seeds": [synth["case_seeds"][2], 5]}
    same = _package(tmp_path / "same", overlapping)
    caplog.clear()
    assert _main(str(same.parent), "--cases", str(cohort), "--bootstrap", "20") == 2
    assert "not independent" in caplog.text and "1 shared case seed" in caplog.text


def test_writes_test_json_into_the_package(tmp_path, cohort, capsys):
    path = _package(tmp_path / "pkg", {"available": True, "seed": 20, "case_seeds": [1, 2, 3]})
    rc = _main(str(path.parent), "--cases", str(cohort), "--bootstrap", "20", "--json", "--write",
               "--roi-jitter", "0.1", "--workers", "2")
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)  # stdout: only the JSON
    assert doc["seed_check"]["checked"] and doc["seed_check"]["disjoint"]
    assert doc["thresholds"] == {"early": 0.4, "full": 0.6} and doc["roi_jitter"] == 0.1
    rows = {r["name"]: r for r in doc["rows"]}
    assert {"as_analyzed", "early", "full", "gapped_full", "no_b", "kupffer_only"} <= set(rows)
    assert rows["early"]["threshold"] == 0.4 and rows["full"]["threshold"] == 0.6
    assert rows["as_analyzed"]["n"] + len(doc["not_classified"]) == doc["n_cases"] == 4
    assert len(rows["full"]["sensitivity_ci"]) == 2
    # the washout reader scores the app's measured evidence of each study, and the app's rule beside it
    wo = doc["washout_score"]
    assert "ceusdesk.evidence" in wo["source"] and "frames per later clip" in wo["source"]
    assert wo["rule"]["full"]["n"] == rows["as_analyzed"]["n"] and "Kupffer" in wo["rule"]["full"]["rule"]
    man = mf.read_manifest(path)
    assert man.files["test"].path == "test.json"
    mf.verify_files(path, man)  # the new entry's sha256 matches the file
    assert json.loads((path.parent / "test.json").read_text()) == doc
    # the per-case predictions behind it, listed with their sha256, recompute the quoted AUCs
    assert man.files["test_predictions"].path == "test_predictions.csv"
    from trainer import predictions, published

    csv_rows = predictions.read_csv(path.parent / "test_predictions.csv")
    assert {r["phase_set"] for r in csv_rows} >= {"as_analyzed", "early", "full"}
    assert sum(r["phase_set"] == "as_analyzed" for r in csv_rows) == rows["as_analyzed"]["n"]
    published.recompute(doc, csv_rows, published.TEST_ROWS, "test.json")


def test_a_fused_package_reports_both_calls_and_the_robustness_rows(tmp_path, cohort, capsys):
    from tests.analysis.test_fusion import block

    path = make_tiny_package(tmp_path / "pkg", size=32, thresholds={"early": 0.4, "full": 0.6},
                             fusion=block(0.3, coef={"cnn_logit": 1.0, "log_ratio_120s": -1.0}))
    rc = _main(str(path.parent), "--cases", str(cohort), "--bootstrap", "20", "--json", "--no-seed-check",
               "--robustness", "--robustness-cases", "3")
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in doc["rows"]}
    assert rows["fused_full"]["model"].endswith("measured evidence")
    assert rows["fused_full"]["threshold"] == 0.5
    assert doc["call_source"] == doc["washout_score"]["model_call"] == "cnn+evidence"
    assert [r["name"] for r in doc["robustness"]] == ["as_given", "roi_jitter_20", "injection_plus_10s",
                                                       "injection_minus_10s"]
    for r in doc["robustness"]:
        assert r["n"] + r["n_not_classified"] == 3
    assert doc["robustness"][1]["roi_jitter"] == 0.2 and doc["robustness"][2]["injection_offset_s"] == 10.0


def test_shifted_injection_time_wraps_and_keeps_none():
    assert tp.shifted_time("23:59:55", 10) == "00:00:05"
    assert tp.shifted_time("10:00:00", -10) == "09:59:50"
    assert tp.shifted_time(None, 10) is None
