"""The bundled model, through ``ceusdesk analyze`` with the ROI placed by hand, calls textbook studies right.

Issue 15's acceptance check for the shipped package: classic HCC and metastasis are called malignant,
classic hemangioma and FNH benign, on each phase set the app can run (full and early). Phantom data.
"""
from __future__ import annotations

import json

import pytest

from ceusdesk.cli import main
from ceusdesk.model_package import resolve as models
from ceusdesk.phantom import PhantomOptions, synthesize_case

TEXTBOOK = {"hcc_moderate": "malignant", "metastasis": "malignant", "hemangioma": "benign", "fnh": "benign"}


@pytest.fixture(autouse=True)
def bundled_model(monkeypatch):
    monkeypatch.delenv(models.ENV_MODEL, raising=False)
    monkeypatch.delenv(models.ENV_DEFAULT, raising=False)


@pytest.mark.parametrize("missing", [(), ("10:00",)], ids=["full", "early"])
@pytest.mark.parametrize("subtype", sorted(TEXTBOOK))
def test_textbook_study_is_called_right(tmp_path, capsys, subtype, missing):
    rec = synthesize_case(tmp_path, seed=41, subtype=subtype, textbook=True, case_id=subtype,
                          options=PhantomOptions(missing_slots=missing))
    code = main(["analyze", str(tmp_path / rec["study"]), "--roi", ",".join(map(str, rec["roi"])), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)["result"]
    assert result["phase_set"] == ("early" if missing else "full")
    assert result["call"] == TEXTBOOK[subtype], (
        f"{subtype} ({result['phase_set']} set): p malignant {result['malignant_probability']:.3f} "
        f"at threshold {result['model'].get('threshold')}")
