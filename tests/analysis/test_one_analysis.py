"""One analysis for every front end: the CLI and the app's worker give the same result document for the
same study and inputs, and both audit records say which panel was read as contrast."""
from __future__ import annotations

import json

import pytest

from ceusdesk.analysis import AnalysisRequest, analyze_study
from ceusdesk.base.errors import ContrastPanelUnsure
from ceusdesk.cli import main
from ceusdesk.model_package import resolve as models
from ceusdesk.outputs import audit
from ceusdesk.phantom import PhantomOptions, synthesize_case
from ceusdesk.study import open_study
from tests.tiny_package import make_tiny_package

SMALL = {"panel_size": (128, 96), "frames_per_clip": 2}
VOLATILE = {"timings_ms"}  # wall-clock times differ run to run; everything else must not


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    root = tmp_path_factory.mktemp("studies")
    rec = synthesize_case(root, seed=5, case_id="one", options=PhantomOptions(**SMALL))
    return root / rec["study"], tuple(int(v) for v in rec["roi"])


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return make_tiny_package(tmp_path_factory.mktemp("pkg"), size=32)


@pytest.fixture(autouse=True)
def env(monkeypatch, tmp_path):
    monkeypatch.delenv(models.ENV_MODEL, raising=False)
    monkeypatch.setenv(audit.ENV_DATA_DIR, str(tmp_path / "data"))


def stable(result: dict) -> dict:
    return {k: v for k, v in json.loads(json.dumps(result)).items() if k not in VOLATILE}


def test_cli_and_app_give_the_same_result_document(case, package, capsys):
    pytest.importorskip("PySide6")
    from ceusdesk.gui import backend

    path, roi = case
    liver = (4, 30, 14, 14)
    code = main(["analyze", str(path), "--roi", ",".join(map(str, roi)), "--liver-roi",
                 ",".join(map(str, liver)), "--model", str(package), "--json"])
    assert code == 0
    cli = json.loads(capsys.readouterr().out)["result"]

    study = open_study(path)
    params = backend.AnalysisParams(roi=roi, model=str(package), liver_roi=liver)
    app = backend.analyze(study, params, backend.all_slot_panels(study))

    assert cli["contrast_panel"]["side"] in ("left", "right") and cli["evidence"]["tic"]
    a, b = stable(cli), stable(app)
    assert sorted(a) == sorted(b)
    for key in a:  # field by field, so a drift names itself
        assert a[key] == b[key], key


def test_the_app_audit_records_the_contrast_side_like_the_cli(case, package, capsys):
    pytest.importorskip("PySide6")
    from ceusdesk.gui import backend

    path, roi = case
    assert main(["analyze", str(path), "--roi", ",".join(map(str, roi)), "--model", str(package),
                 "--json"]) == 0
    capsys.readouterr()
    study = open_study(path)
    params = backend.AnalysisParams(roi=roi, model=str(package))
    result = backend.analyze(study, params)
    run = backend.AnalysisRun(generation=1, inputs=backend.inputs_of(study, 1, params), study=study,
                              params=params, panels={})
    backend.audit_run(run, result)
    cli_record, app_record = audit.read_records()[-2:]
    assert (cli_record["source"], app_record["source"]) == ("cli", "app")
    assert app_record["contrast_panel"] == cli_record["contrast_panel"] == result["contrast_panel"]
    assert app_record["contrast_panel"]["side"] in ("left", "right")


def test_an_unsure_contrast_side_is_never_classified(case, package):
    from ceusdesk.inference import get_model

    study = open_study(case[0])
    assert study.contrast_panel is not None  # the phantom's dual display
    study.contrast_panel_source, study.contrast_panel_sure = "evidence", False
    study.contrast_panel_reason = "both panels look alike"
    with pytest.raises(ContrastPanelUnsure, match="both panels look alike"):
        analyze_study(study, get_model(package), AnalysisRequest(roi=case[1]))
