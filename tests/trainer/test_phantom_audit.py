"""phantom-audit: the phantom's cues, alone and together, and its kinetics stay below the give-away limits
(issues 15 and 20), and the CEUS physics stays."""
import dataclasses
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
    assert set(doc["cues"]) >= {"pattern", "halo", "echo", "edge", "cirrhosis", "size", "irregularity",
                                "necrosis", "scar", "mosaic", "lesion_count", "depth", "scanner"}
    # the issue's targets at 2000 cases, widened for the smaller cohort's sampling spread
    _check(doc, cue_max=0.72, kin_max=0.78, sens=(0.78, 0.94), spec=(0.50, 0.78))
    _check_joint(doc, non_kinetic_max=0.82, kinetics_spec_max=0.87)


def _check_joint(doc: dict, non_kinetic_max: float, kinetics_spec_max: float) -> None:
    nk, kin = doc["joint"]["non_kinetic"], doc["joint"]["kinetics"]
    assert nk["logistic_auc"] <= non_kinetic_max, f"the non-kinetic cues together give the answer away: {nk}"
    assert nk["gbm_auc"] <= non_kinetic_max, f"the non-kinetic cues together give the answer away: {nk}"
    assert kin["gbm_specificity_at_90_sensitivity"] <= kinetics_spec_max, kin
    # ... while the kinetics still carry the signal a model should learn
    assert kin["gbm_auc"] > nk["gbm_auc"] + 0.1
    assert doc["physics"]["kept"], doc["physics"]


def test_the_joint_probe_catches_cues_that_add_up(monkeypatch):
    """Phantom v2's outline: irregularity drawn by class. One cue at 0.9 and the joint probe must see it."""
    real = phantom_params.sample_lesion

    def by_class(rng, subtype, anatomy):
        les = real(rng, subtype, anatomy)
        amp = {"benign": 0.04, "hcc": 0.06, "non_hcc_malignant": 0.10}[les.label]
        return dataclasses.replace(les, harmonics=tuple((amp, ph) for _, ph in les.harmonics))

    monkeypatch.setattr(phantom_params, "sample_lesion", by_class)
    doc = phantom_audit.audit(300, seed=4)
    assert doc["cues"]["irregularity"]["auc"] > 0.9
    assert doc["joint"]["non_kinetic"]["gbm_auc"] > 0.9
    assert doc["meets_targets"] is False


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
    assert set(doc["joint"]["non_kinetic"]) >= {"logistic_auc", "gbm_auc"}
    assert set(doc["joint"]["kinetics"]) >= {"logistic_auc", "gbm_auc", "gbm_specificity_at_90_sensitivity"}
    assert doc["class_counts"] == {"benign": 32, "hcc": 52, "non_hcc_malignant": 36}


def test_cli_text_names_each_cue_and_the_verdict(capsys):
    assert trainer_main(["phantom-audit", "--cases", "100", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    words = ("pattern", "halo", "echo", "edge", "cirrhosis", "size", "irregularity", "necrosis", "scar",
             "mosaic", "kinetics logistic", "washout score", "joint non-kinetic", "joint kinetics",
             "CEUS physics")
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
    _check_joint(doc, non_kinetic_max=0.80, kinetics_spec_max=0.85)
    assert doc["meets_targets"] is True
