"""A model manifest's values are range-checked and its files kept inside the package, before any session.

Each refusal is a one-line ModelRefused (exit 5) naming the manifest and the field.
"""
from __future__ import annotations

import json
import math
import os
import shutil

import pytest

from ceusdesk.base.errors import ModelRefused
from ceusdesk.inference import analyze, load_model, runtime
from ceusdesk.model_package import manifest as mf
from tests.tiny_package import make_tiny_package

from .fake_study import fake_study, load

ROI = (88, 68, 24, 24)
EARLY = ("B", "0:30", "1:00", "2:00")
GAPPED_FULL = ("B", "0:30", "1:00", "2:00", "10:00")  # 3–6 min not acquired: still the full set


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return make_tiny_package(tmp_path_factory.mktemp("pkg"))


@pytest.fixture
def package(built, tmp_path):
    """A fresh copy of the tiny package; returns its manifest path."""
    shutil.copytree(built.parent, tmp_path / "pkg")
    return tmp_path / "pkg" / mf.MANIFEST_NAME


@pytest.fixture
def no_session(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("a session was created for a refused package")
    monkeypatch.setattr(runtime, "make_session", refuse)


def edit(manifest, change) -> None:
    doc = json.loads(manifest.read_text())
    change(doc)
    manifest.write_text(json.dumps(doc))  # json writes NaN/Infinity as a careless tool would


def refused(manifest) -> str:
    with pytest.raises(ModelRefused) as info:
        load_model(manifest)
    msg = str(info.value)
    assert info.value.exit_code == 5 and "\n" not in msg and str(manifest.parent) in msg
    return msg


@pytest.mark.parametrize("change, field", [
    (lambda d: d.update(threshold=math.nan), "'threshold'"),
    (lambda d: d.update(threshold=2.0), "'threshold'"),
    (lambda d: d.update(threshold=-1.0), "'threshold'"),
    (lambda d: d.update(threshold=0.0), "'threshold'"),
    (lambda d: d.update(threshold="0.5"), "'threshold'"),
    (lambda d: d.update(thresholds={"early": 0.4, "full": math.inf}), "'thresholds.full'"),
    (lambda d: d.update(thresholds={"full": 0.4}), "'thresholds'"),
    (lambda d: d["input"]["normalization"].update(std=0.0), "'input.normalization.std'"),
    (lambda d: d["input"]["normalization"].update(std=-0.2), "'input.normalization.std'"),
    (lambda d: d["input"]["normalization"].update(mean=math.nan), "'input.normalization.mean'"),
    (lambda d: d["input"].update(size=0), "'input.size'"),
    (lambda d: d["input"].update(size=100000), "'input.size'"),
    (lambda d: d["input"].update(size=64), "'input.shape.images'"),
    (lambda d: d["input"]["shape"].update(mask=["N", 8]), "'input.shape.mask'"),
    (lambda d: d["input"].update(dtype="float16"), "'input.dtype'"),
    (lambda d: d.update(classes=["hcc", "benign", "non_hcc_malignant"]), "'classes'"),
    (lambda d: d.update(classes=["benign", "malignant"]), "'classes'"),
    (lambda d: d["files"]["int8"].update(path="/etc/passwd"), "'files.int8.path'"),
    (lambda d: d["files"]["int8"].update(path="../other/model.int8.onnx"), "'files.int8.path'"),
    (lambda d: d["files"]["int8"].update(path="sub/../../model.int8.onnx"), "'files.int8.path'"),
    (lambda d: d["files"]["int8"].update(path="C:\\models\\model.int8.onnx"), "'files.int8.path'"),
    (lambda d: d["files"]["int8"].update(sha256="abc"), "'files.int8.sha256'"),
])
def test_out_of_range_values_are_refused_naming_the_field(package, no_session, change, field):
    edit(package, change)
    assert f"field {field}" in refused(package)


def test_a_nan_threshold_never_turns_a_result_benign(package, no_session):
    """The issue's case: NaN compares false, so `p >= NaN` made every lesion benign."""
    edit(package, lambda d: d.update(threshold=math.nan))
    assert "must be a finite number" in refused(package)


def test_a_symlink_leading_outside_the_package_is_refused(package, tmp_path, no_session):
    outside = tmp_path / "elsewhere.onnx"
    (package.parent / "model.int8.onnx").rename(outside)
    (package.parent / "model.int8.onnx").symlink_to(outside)
    assert "leads outside the package" in refused(package)


def test_input_size_differing_from_the_onnx_graph_is_refused(package):
    """A manifest consistent in itself (size 64, shapes 64) but describing another graph (32²)."""
    def to64(d):
        d["input"]["size"] = 64
        d["input"]["shape"]["images"][2:] = [64, 64]
    edit(package, to64)
    msg = refused(package)
    assert "field 'input.size'" in msg and "ONNX graph takes" in msg


def test_listed_metrics_and_test_files_are_verified(package):
    (package.parent / "test.json").write_text('{"rows": []}\n')
    (package.parent / "metrics.json").write_text('{"rows": []}\n')
    man = mf.read_manifest(package)
    files = {**man.files, "metrics": mf.FileEntry.for_file(package.parent, "metrics.json"),
             "test": mf.FileEntry.for_file(package.parent, "test.json")}
    mf.write_manifest(mf.Manifest(**{**man.__dict__, "files": files}), package)
    assert load_model(package).variant == "int8"
    (package.parent / "test.json").write_text('{"rows": [{"name": "full", "auc": 0.99}]}\n')
    assert "test.json: sha256" in refused(package)
    (package.parent / "test.json").unlink()
    assert "'test' listed in the manifest is missing" in refused(package)


def test_the_writer_refuses_what_the_reader_would(package):
    man = mf.read_manifest(package)
    bad = mf.Manifest(**{**man.__dict__, "threshold": math.nan})
    with pytest.raises(ValueError, match="'threshold'"):
        mf.write_manifest(bad, package.parent / "other.json")
    assert not (package.parent / "other.json").exists()


@pytest.fixture(scope="module")
def per_set(tmp_path_factory):
    """A current package: thresholds per phase set, far apart so each set's call shows which was used."""
    return load_model(make_tiny_package(tmp_path_factory.mktemp("per-set"),
                                        thresholds={"early": 1e-6, "full": 1 - 1e-6}), threads=1)


@pytest.mark.parametrize("present, phase_set, call", [
    (EARLY, "early", "malignant"), (GAPPED_FULL, "full", "benign"), (fake_study().slots, "full", "benign"),
])
def test_each_phase_set_uses_its_own_threshold(per_set, present, phase_set, call):
    r = analyze(fake_study(present=tuple(present)), ROI, per_set, loader=load)
    assert r.phase_set == phase_set and r.call == call
    assert r.model["threshold_source"] == f"thresholds.{phase_set}"
    assert r.threshold == r.model["threshold"] == per_set.manifest.thresholds[phase_set]
    assert not any("one operating threshold" in w for w in r.warnings)


def test_an_older_single_threshold_package_says_so(built):
    model = load_model(built, threads=1)
    for present in (EARLY, GAPPED_FULL):
        r = analyze(fake_study(present=present), ROI, model, loader=load)
        assert r.model["threshold_source"] == "threshold" and r.threshold == 0.5
        assert any("one operating threshold for both phase sets" in w for w in r.warnings)


def test_result_carries_the_manifests_canonical_hash(package):
    r = analyze(fake_study(), ROI, load_model(package, threads=1), loader=load)
    doc = json.loads(package.read_text())
    assert r.model["manifest_sha256"] == mf.canonical_sha256(doc)
    package.write_text(json.dumps(doc, indent=4, sort_keys=True))  # formatting does not change it
    assert load_model(package).manifest_sha256 == r.model["manifest_sha256"]


@pytest.mark.parametrize("make", [
    lambda p: os.mkfifo(p),
    lambda p: p.symlink_to("/dev/zero"),
    lambda p: p.write_text("[" * 100000 + "]" * 100000),
])
def test_a_manifest_that_is_no_file_or_absurd_is_refused_at_once(tmp_path, make):
    manifest = tmp_path / mf.MANIFEST_NAME
    make(manifest)
    with pytest.raises(ModelRefused, match="unreadable model manifest"):
        load_model(manifest)
