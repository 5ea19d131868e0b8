"""The fused call ("model + measured evidence"): applied by the one analysis when the package says it is
the default, measured with the inputs the trainer fitted it on, refused when its block is malformed."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from ceusdesk.analysis import AnalysisRequest, analyze_study
from ceusdesk.base.errors import ModelRefused
from ceusdesk.cli import main
from ceusdesk.evidence.fusion import fusion_inputs, slot_ratios
from ceusdesk.inference import load_model
from ceusdesk.model_package import resolve as models
from ceusdesk.model_package.fusion import INPUTS
from ceusdesk.outputs import audit
from ceusdesk.phantom import PhantomOptions, synthesize_case
from ceusdesk.study import open_study
from tests.tiny_package import make_tiny_package

SMALL = {"panel_size": (128, 96), "frames_per_clip": 2}
BUDGET = {"per_clip": 8, "max_arterial": 30}


def block(intercept: float, *, default: bool = True, coef: dict[str, float] | None = None,
          threshold: float = 0.5) -> dict:
    sets = {}
    for name, inputs in INPUTS.items():
        sets[name] = {"inputs": list(inputs), "mean": [0.0] * len(inputs), "scale": [1.0] * len(inputs),
                      "coef": [float((coef or {}).get(k, 0.0)) for k in inputs], "intercept": intercept,
                      "threshold": threshold}
    return {"kind": "logistic", "sets": sets, "default": default, "evidence": BUDGET,
            "fitted_on": "test", "default_rule": "test"}


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    root = tmp_path_factory.mktemp("studies")
    rec = synthesize_case(root, seed=5, case_id="one", options=PhantomOptions(**SMALL))
    return root / rec["study"], tuple(int(v) for v in rec["roi"])


@pytest.fixture(autouse=True)
def env(monkeypatch, tmp_path):
    monkeypatch.delenv(models.ENV_MODEL, raising=False)
    monkeypatch.setenv(audit.ENV_DATA_DIR, str(tmp_path / "data"))


def analyze(case, manifest) -> dict:
    path, roi = case
    return analyze_study(open_study(path), load_model(manifest), AnalysisRequest(roi=roi), importance=False,
                         evidence=False)


@pytest.mark.parametrize(("intercept", "call"), [(6.0, "malignant"), (-6.0, "benign")])
def test_the_fused_call_is_the_result_and_the_cnn_call_is_kept_beside_it(case, tmp_path, intercept, call):
    manifest = make_tiny_package(tmp_path / "pkg", fusion=block(intercept))
    cnn_only = analyze(case, make_tiny_package(tmp_path / "plain"))
    r = analyze(case, manifest)
    assert r["model"]["call_source"] == "cnn+evidence"
    assert r["call"] == call  # the intercept alone decides: all coefficients are 0
    assert r["malignant_probability"] == pytest.approx(1 / (1 + math.exp(-intercept)))
    assert r["cnn"]["malignant_probability"] == pytest.approx(cnn_only["malignant_probability"])
    assert r["cnn"]["call"] == cnn_only["call"]
    assert sum(r["probabilities"].values()) == pytest.approx(1.0, abs=1e-9)
    assert r["probabilities"]["benign"] == pytest.approx(1 - r["malignant_probability"])
    # the evidence the fusion read is in the result (it needed it although evidence=False was asked)
    assert r["evidence"] is not None and r["evidence"]["tic"]


def test_the_fusion_reads_the_cnn_and_the_evidence_as_documented(case, tmp_path):
    """A weight on one input moves the call exactly as the documented inputs say."""
    coef = {"cnn_logit": 0.7, "log_ratio_120s": -1.3, "log_peak_ratio": 0.4}
    r = analyze(case, make_tiny_package(tmp_path / "pkg", fusion=block(0.1, coef=coef)))
    path, _ = case
    study = open_study(path)
    ratios = slot_ratios(study, r["evidence"], r["slots_used"])
    values = fusion_inputs(r["cnn"]["malignant_probability"], ratios, r["evidence"])
    assert all(math.isfinite(values[k]) for k in coef)
    s = 0.1 + sum(c * values[k] for k, c in coef.items())
    assert r["malignant_probability"] == pytest.approx(1 / (1 + math.exp(-s)), rel=1e-9)


def test_a_fusion_that_is_not_the_default_leaves_the_cnn_call(case, tmp_path):
    r = analyze(case, make_tiny_package(tmp_path / "pkg", fusion=block(6.0, default=False)))
    assert r["model"]["call_source"] == "cnn" and "cnn" not in r


def test_cli_summary_says_which_call_is_shown(case, tmp_path, capsys):
    path, roi = case
    manifest = make_tiny_package(tmp_path / "pkg", fusion=block(6.0))
    assert main(["analyze", str(path), "--roi", ",".join(map(str, roi)), "--model", str(manifest)]) == 0
    out = capsys.readouterr().out
    assert "call from  model + measured evidence" in out
    assert main(["analyze", str(path), "--roi", ",".join(map(str, roi)), "--model", str(manifest),
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["result"]["model"]["call_source"] == "cnn+evidence"
    # the audit record keeps which call was shown, and the model's own call beside it
    log = (tmp_path / "data" / audit.LOG_NAME).read_text(encoding="utf-8").splitlines()
    record = json.loads(log[-1])
    assert record["model"]["call_source"] == "cnn+evidence" and record["cnn_call"] in ("benign", "malignant")


@pytest.mark.parametrize(("change", "needle"), [
    (lambda b: b.update(kind="mlp"), "fusion.kind"),
    (lambda b: b["sets"]["full"].update(coef=[1.0]), "fusion.sets.full"),
    (lambda b: b["sets"]["early"].update(threshold=1.5), "fusion.sets.early.threshold"),
    (lambda b: b["sets"]["full"].update(inputs=["cnn_logit", "shoe_size", "aphe", "a", "b", "c", "d"]),
     "unknown inputs"),
    (lambda b: b.pop("evidence"), "fusion.evidence"),
])
def test_a_malformed_fusion_block_refuses_the_package(tmp_path, capsys, case, change, needle):
    manifest = make_tiny_package(tmp_path / "pkg", fusion=block(0.0))
    doc = json.loads(manifest.read_text(encoding="utf-8"))  # written by hand: the writer refuses it too
    change(doc["fusion"])
    manifest.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ModelRefused, match=needle.replace(".", r"\.")):
        load_model(manifest)
    path, roi = case
    assert main(["analyze", str(path), "--roi", ",".join(map(str, roi)), "--model", str(manifest)]) == 5
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "fusion" in err[0]


def test_the_trainer_measures_the_same_inputs_as_the_app(case, tmp_path):
    """One definition of the fusion inputs: the trainer's cache record of a case gives the vector the app
    computes from its own analysis of the study (same evidence budget)."""
    pytest.importorskip("torch")
    from ceusdesk.base.protocol import default_protocol
    from ceusdesk.inference.preprocess import InputSpec
    from trainer import fusion as tfusion
    from trainer.cache import SlotFrames, measured_evidence
    from trainer.reader import reader_row

    path, roi = case
    r = analyze(case, make_tiny_package(tmp_path / "pkg", fusion=block(0.0)))
    study = open_study(path)
    protocol = default_protocol()
    frames = SlotFrames(study, protocol.slot_names)
    from ceusdesk.inference.inputs import case_inputs

    ci = case_inputs(study, roi, InputSpec(size=32), protocol=protocol, panels=frames.panels)
    used = [n for n, m in zip(protocol.slot_names, ci.mask, strict=True) if m > 0]
    record = measured_evidence(study, used, ci.rois, roi, reader=frames.read)
    table = reader_row(record, protocol)[None]
    p = np.array([r["cnn"]["malignant_probability"]])
    trainer_x = tfusion.input_matrix(p, table, protocol, "full")[0]
    app = fusion_inputs(p[0], slot_ratios(study, r["evidence"], r["slots_used"]), r["evidence"])
    np.testing.assert_allclose(trainer_x, [app[k] for k in INPUTS["full"]], rtol=1e-5, equal_nan=True)


def test_too_little_evidence_leaves_the_cnn_call_and_says_so(case, tmp_path, monkeypatch):
    import ceusdesk.analysis as analysis

    class Nothing:
        def to_json(self):
            return {"tic": [], "kupffer_ratio": None, "peak_ratio": None, "aphe": None}

    monkeypatch.setattr(analysis, "compute_evidence", lambda *a, **k: Nothing())
    r = analyze(case, make_tiny_package(tmp_path / "pkg", fusion=block(6.0)))
    assert r["model"]["call_source"] == "cnn" and "cnn" not in r
    assert any("too little of the evidence was measured" in w for w in r["warnings"])
