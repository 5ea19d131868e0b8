"""Inference engine with a tiny package: phase-set flag, refusals, determinism, importance."""
from __future__ import annotations

import json

import numpy as np
import pytest

from ceusdesk.base.errors import IncompletePhaseSet, ModelRefused
from ceusdesk.base.protocol import SLOT_NAMES, default_protocol
from ceusdesk.inference import analyze, get_model, load_model, run_model, runtime
from ceusdesk.inference.inputs import case_inputs
from tests.tiny_package import make_tiny_package as make_package

from .fake_study import fake_study, load

ROI = (88, 68, 24, 24)
EARLY_PLUS_LATE = ("B", "0:30", "1:00", "2:00", "3:00", "4:00", "5:00", "6:00")


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return make_package(tmp_path_factory.mktemp("pkg"))


@pytest.fixture(scope="module")
def model(package):
    return load_model(package, threads=1)


def comparable(result) -> dict:
    doc = result.to_json()
    doc.pop("timings_ms")
    return doc


def test_full_study_uses_every_slot(model):
    r = analyze(fake_study(), ROI, model, loader=load)
    assert r.phase_set == "full"
    assert r.slots_used == list(SLOT_NAMES)
    assert set(r.phase_importance) == set(SLOT_NAMES)
    assert sum(r.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    p = r.probabilities
    assert r.malignant_probability == pytest.approx(p["hcc"] + p["non_hcc_malignant"])
    assert r.call == ("malignant" if r.malignant_probability >= r.threshold else "benign")
    assert r.model["name"] == "tiny-test" and len(r.model["sha256"]) == 64 and r.model["uid"]
    assert {"inputs", "inference", "total"} <= set(r.timings_ms)


def test_early_set_ignores_late_clips_the_model_must_not_see(model):
    study = fake_study(present=EARLY_PLUS_LATE)
    r = analyze(study, ROI, model, loader=load)
    assert r.phase_set == "early"
    assert r.slots_used == ["B", "0:30", "1:00", "2:00"]
    assert set(r.phase_importance) == {"B", "0:30", "1:00", "2:00"}
    assert set(r.rois) == {"B", "0:30", "1:00", "2:00"}
    # the same as a study that never had the 3-6 min clips
    only_early = analyze(fake_study(present=("B", "0:30", "1:00", "2:00")), ROI, model, loader=load)
    assert r.probabilities == only_early.probabilities


def test_incomplete_study_is_refused_naming_missing_slots(model):
    with pytest.raises(IncompletePhaseSet, match="missing B, 1:00") as info:
        analyze(fake_study(present=("0:30", "2:00", "10:00")), ROI, model, loader=load)
    assert info.value.exit_code == 4


def test_same_input_gives_bit_identical_output(package):
    a = analyze(fake_study(), ROI, load_model(package), loader=load)
    b = analyze(fake_study(), ROI, load_model(package), loader=load)
    assert comparable(a) == comparable(b)
    assert json.dumps(comparable(a)) == json.dumps(comparable(b))


def test_importance_is_the_masked_out_change(model):
    study = fake_study()
    r = analyze(study, ROI, model, loader=load)
    ci = case_inputs(study, ROI, model.spec, loader=load)
    i = SLOT_NAMES.index("10:00")
    images, mask = ci.images.copy(), ci.mask.copy()
    images[i], mask[i] = 0, 0
    p = run_model(model, images[None], mask[None])[0]
    expected = float(p[1] + p[2]) - r.malignant_probability
    assert r.phase_importance["10:00"] == pytest.approx(expected, abs=1e-6)
    assert any(abs(v) > 1e-4 for v in r.phase_importance.values())


@pytest.mark.parametrize("threshold, call", [(1e-6, "malignant"), (1 - 1e-6, "benign")])
def test_call_follows_the_manifest_threshold(tmp_path, threshold, call):
    m = load_model(make_package(tmp_path / "p", threshold=threshold))
    assert analyze(fake_study(), ROI, m, loader=load).call == call


@pytest.fixture
def no_session(monkeypatch):
    """Fails the test if a session is created: refusals must come before ONNX Runtime sees the file."""
    def refuse(*a, **k):
        raise AssertionError("a session was created for a refused package")
    monkeypatch.setattr(runtime, "make_session", refuse)


def test_tampered_model_file_is_refused(tmp_path, no_session):
    manifest = make_package(tmp_path / "p")
    onnx_file = manifest.parent / "model.int8.onnx"
    data = bytearray(onnx_file.read_bytes())
    data[-1] ^= 0xFF
    onnx_file.write_bytes(bytes(data))
    with pytest.raises(ModelRefused, match="sha256") as info:
        load_model(manifest)
    assert info.value.exit_code == 5 and "model.int8.onnx" in str(info.value)


def test_missing_model_file_is_refused(tmp_path, no_session):
    manifest = make_package(tmp_path / "p")
    (manifest.parent / "model.int8.onnx").unlink()
    with pytest.raises(ModelRefused, match="missing"):
        load_model(manifest)


def test_wrong_preprocess_version_is_refused(tmp_path, no_session):
    manifest = make_package(tmp_path / "p", preprocess_version="0-old")
    with pytest.raises(ModelRefused, match="preprocess version check failed.*'0-old'"):
        load_model(manifest)


def test_other_protocol_is_refused(tmp_path, no_session):
    proto = default_protocol().to_dict()
    proto["name"] = "site-x"
    proto["slots"][1]["window_s"] = [5, 55]
    manifest = make_package(tmp_path / "p", protocol=proto)
    with pytest.raises(ModelRefused, match="protocol check failed.*'site-x'"):
        load_model(manifest)


def test_missing_manifest_is_refused(tmp_path):
    with pytest.raises(ModelRefused, match="no model manifest"):
        get_model(tmp_path / "nothing" / "manifest.json")


def test_get_model_reuses_one_session_and_reverifies_a_changed_package(tmp_path):
    manifest = make_package(tmp_path / "p")
    first = get_model(manifest)
    assert get_model(manifest) is first
    assert get_model(manifest.parent) is first
    onnx_file = manifest.parent / "model.int8.onnx"
    onnx_file.write_bytes(onnx_file.read_bytes() + b"\0")
    with pytest.raises(ModelRefused, match="sha256"):
        get_model(manifest)


def test_batched_importance_rows_match_single_runs(model):
    ci = case_inputs(fake_study(), ROI, model.spec, loader=load)
    batch = run_model(model, np.stack([ci.images] * 3), np.stack([ci.mask] * 3))
    single = run_model(model, ci.images[None], ci.mask[None])
    np.testing.assert_allclose(batch, np.repeat(single, 3, axis=0), rtol=0, atol=1e-6)


def test_absent_fp32_is_allowed_but_a_present_one_is_verified(tmp_path):
    manifest = make_package(tmp_path / "p")
    fp32 = manifest.parent / "model.fp32.onnx"
    fp32.write_bytes(fp32.read_bytes() + b"\0")
    with pytest.raises(ModelRefused, match="model.fp32.onnx.*sha256"):
        load_model(manifest)
    fp32.unlink()  # in_repo: false, so it may be absent
    assert load_model(manifest).variant == "int8"


@pytest.mark.parametrize("vnni, warned", [(False, True), (True, False), (None, False)])
def test_int8_without_reduce_range_warns_on_a_cpu_without_vnni(model, monkeypatch, vnni, warned):
    from ceusdesk.inference.engine import NO_VNNI_NOTE

    assert model.manifest.quantization.reduce_range is False  # the tiny package, like the bundled one
    monkeypatch.setattr(runtime, "has_vnni", lambda: vnni)
    r = analyze(fake_study(), ROI, model, loader=load)
    assert (NO_VNNI_NOTE in r.warnings) is warned
