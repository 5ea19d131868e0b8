"""phantom-audit: the phantom's cues and kinetics stay below issue 15's give-away limits."""
import json

import numpy as np
import pytest

from ceusdesk.phantom import params as phantom_params
from trainer import phantom_audit
from trainer.__main__ import main as trainer_main


def _check(doc: dict, cue_max: float, kin_max: float, sens: tuple[float, float], spec: tuple[float, float]):
    for name, cue in doc["cues"].items():
        assert cue["auc"] <= cue_max, f"{name} alone separates benign from malignant: AUC {cue['auc']}"
    assert doc["kinetics_logistic"]["specificity_at_90_sensitivity"] <= kin_max
    w = doc["washout_rule"]
    assert sens[0] <= w["sensitivity"] <= sens[1], w
    assert spec[0] <= w["specificity"] <= spec[1], w


def test_a_600_case_cohort_meets_the_targets_with_a_little_margin():
    doc = phantom_audit.audit(600, seed=102)
    assert doc["n"] == 600 and sum(doc["class_counts"].values()) == 600
    assert set(doc["cues"]) == {"pattern", "halo", "echo", "edge", "cirrhosis", "size"}
    # the issue's targets at 2000 cases, widened for the smaller cohort's sampling spread
    _check(doc, cue_max=0.72, kin_max=0.78, sens=(0.78, 0.94), spec=(0.52, 0.78))


def test_the_audit_catches_a_sampler_that_gives_the_answer_away(monkeypatch):
    """Textbook cases only: every pattern names its class, so the audit must say so."""
    def textbook(rng, label=None, subtype=None, patient=None, textbook=False):
        return phantom_params.sample_case(rng, label=label, subtype=subtype, patient=patient, textbook=True)

    monkeypatch.setattr(phantom_audit, "sample_case", textbook)
    doc = phantom_audit.audit(200, seed=3)
    assert doc["cues"]["pattern"]["auc"] > 0.95
    assert doc["kinetics_logistic"]["specificity_at_90_sensitivity"] > 0.9
    assert doc["meets_targets"] is False


def test_cli_json_is_the_documented_document(capsys):
    assert trainer_main(["phantom-audit", "--cases", "120", "--seed", "5", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)  # stdout holds only the JSON
    for cue in doc["cues"].values():
        assert 0.5 <= cue["auc"] <= 1.0
    assert 0.0 <= doc["kinetics_logistic"]["specificity_at_90_sensitivity"] <= 1.0
    assert set(doc["washout_rule"]) >= {"sensitivity", "specificity"}
    assert doc["class_counts"] == {"benign": 32, "hcc": 52, "non_hcc_malignant": 36}


def test_cli_text_names_each_cue_and_the_verdict(capsys):
    assert trainer_main(["phantom-audit", "--cases", "100", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    words = ("pattern", "halo", "echo", "edge", "cirrhosis", "size", "kinetics logistic", "washout score")
    for word in words:
        assert word in out
    assert "targets met" in out


def test_too_few_cases_is_refused_with_exit_2(capsys):
    assert trainer_main(["phantom-audit", "--cases", "10"]) == 2
    assert "too few" in capsys.readouterr().err


def test_categorical_cue_score_is_cross_validated():
    """A category seen only once cannot score its own label (no leak from the case being scored)."""
    y = np.array([0, 1] * 50 + [1])
    cats = np.array(["a", "b"] * 50 + ["lonely"])
    folds = phantom_audit.StratifiedKFold(5, shuffle=True, random_state=0)
    score = phantom_audit._category_rate_cv(y, cats, folds)
    assert score[-1] < 0.6  # the prior (~0.5), not 1.0


@pytest.mark.slow
def test_issue_15_targets_at_2000_cases_seed_11():
    doc = phantom_audit.audit(2000, seed=11)
    _check(doc, cue_max=0.70, kin_max=0.75, sens=(0.80, 0.92), spec=(0.55, 0.75))
    assert doc["meets_targets"] is True
