"""The published blocks describe each file's washout reader by what that file says it scored."""
import json

from trainer import published

OLD_SOURCE = ("rendered ROI intensities: 1 - lesion/liver mean grey, max over the reader's slots "
              "(trainer.reader)")
NEW_SOURCE = ("the app's measured evidence (ceusdesk.evidence: …; evidence version 2, up to 8 frames per "
              "later clip, up to 30 arterial frames): 1 - lesion/liver, max over the reader's slots "
              "(trainer.reader)")


def _reader(spec: float, source: str | None, rule: bool) -> dict:
    cmp = {"available": True, "n": 40, "sensitivity": 0.9, "specificity": spec, "sensitivity_ci": [0.8, 1.0],
           "specificity_ci": [spec - 0.1, spec + 0.1], "model_sensitivity": 0.9, "model_specificity": 0.3,
           "auc": 0.81}
    out = {"available": True, "full": cmp, "early": {"available": False, "n": 1}}
    if source is not None:
        out["source"] = source
    if rule:
        out["rule"] = {"full": {"available": True, "rule": "washout or Kupffer defect → malignant", "n": 40,
                                "sensitivity": 0.75, "specificity": 0.6, "sensitivity_ci": [0.6, 0.9],
                                "specificity_ci": [0.4, 0.8]},
                       "early": {"available": False, "reason": "no measured evidence"}}
    return out


def _package(tmp_path, test_reader: dict, cv_reader: dict):
    row = {"name": "full", "n": 40, "sensitivity": 0.9, "specificity": 0.3, "accuracy_3class": 0.6,
           "auc": 0.8}
    (tmp_path / "test.json").write_text(json.dumps({"n_cases": 40, "rows": [row],
                                                    "washout_score": test_reader}))
    (tmp_path / "metrics.json").write_text(json.dumps({"n_cases": 90, "folds": 3, "rows": [row],
                                                       "washout_score": cv_reader}))
    (tmp_path / "manifest.json").write_text(json.dumps({
        "name": "m", "version": "1", "uid": "u", "thresholds": {"early": 0.2, "full": 0.3},
        "files": {"test": {"path": "test.json"}, "metrics": {"path": "metrics.json"}}}))
    return tmp_path


def test_each_table_quotes_its_own_files_reader_source(tmp_path):
    package = _package(tmp_path, _reader(0.55, NEW_SOURCE, rule=True), _reader(0.65, OLD_SOURCE, rule=False))
    text = published.render(package)
    test_part, cv_part = text.split("Cross-validation")
    assert f"Washout reader (score: {NEW_SOURCE}): full set (n 40): reader specificity 55.0" in test_part
    assert "reader AUC 0.810" in test_part and "early set" not in test_part.split("readout rule")[0]
    assert "readout rule as fixed calls: full set (washout or Kupffer defect → malignant; n 40): " \
           "sensitivity 75.0 (60.0–90.0) %, specificity 60.0 (40.0–80.0) %." in test_part
    assert f"Washout reader (score: {OLD_SOURCE}): full set (n 40): reader specificity 65.0" in cv_part
    assert "measured evidence" not in cv_part and "readout rule" not in cv_part


def test_a_file_without_a_source_is_not_given_one(tmp_path):
    text = published.render(_package(tmp_path, _reader(0.5, None, rule=False), {"available": False}))
    assert "Washout reader (score: not recorded in the file): full set" in text
    assert "rendered ROI" not in text and "measured evidence" not in text
    assert text.count("Washout reader") == 1  # the cross-validation file has none
