"""Pinned manifests: a known package whose manifest was edited is refused; the record is easy to update."""
from __future__ import annotations

import json
import shutil
import sys

import pytest

from ceusdesk.base.errors import ModelRefused
from ceusdesk.inference import load_model
from ceusdesk.model_package import manifest as mf
from ceusdesk.model_package import pins as model_pins
from ceusdesk.model_package import resolve as models
from tests.tiny_package import make_tiny_package


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return make_tiny_package(tmp_path_factory.mktemp("pkg"), name="pinned-test")


@pytest.fixture
def package(built, tmp_path):
    shutil.copytree(built.parent, tmp_path / "pkg")
    return tmp_path / "pkg" / mf.MANIFEST_NAME


@pytest.fixture
def pinned(package, monkeypatch):
    name, record = model_pins.pin_record(package)
    monkeypatch.setattr(model_pins, "PINNED", {name: record})
    return record


def test_bundled_packages_match_their_pins():
    """Fails when a package under exports/ changed without re-pinning; the message says how to fix."""
    for manifest in models.packages_in(models.exports_dir()):
        name, record = model_pins.pin_record(manifest)
        assert model_pins.PINNED.get(name) == record, (
            f"{manifest}: not pinned or changed - run "
            f"`python -m ceusdesk.model_package.pins {manifest.parent}`")
        assert load_model(manifest).manifest_pinned


def test_a_pinned_package_loads_and_says_so(package, pinned):
    model = load_model(package)
    assert model.manifest_pinned and model.provenance()["manifest_sha256"] == pinned["manifest_sha256"]


def test_an_edited_threshold_is_refused_even_with_every_file_hash_intact(package, pinned):
    doc = json.loads(package.read_text())
    doc["threshold"] = 0.01  # within range, hashes of the ONNX files untouched
    package.write_text(json.dumps(doc))
    with pytest.raises(ModelRefused, match="differs from this app's pinned record") as info:
        load_model(package)
    assert "python -m ceusdesk.model_package.pins" in str(info.value) and "\n" not in str(info.value)


def test_an_unpinned_package_loads_outside_a_frozen_bundle(package):
    assert load_model(package).manifest_pinned is False


def test_a_frozen_bundles_own_package_must_be_pinned(package, monkeypatch):
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(models, "exports_dir", lambda: package.parent.parent)
    with pytest.raises(ModelRefused, match="not among this app's pinned packages"):
        load_model(package)


def test_pinning_rewrites_the_record_and_check_reports_staleness(package, tmp_path, monkeypatch, capsys):
    source = tmp_path / "model_pins.py"
    shutil.copyfile(model_pins.__file__, source)
    monkeypatch.setattr(model_pins, "__file__", str(source))
    monkeypatch.setattr(model_pins, "PINNED", {})
    assert model_pins.main(["--check", str(package.parent)]) == 1
    assert model_pins.main([str(package.parent)]) == 0
    namespace: dict = {"__name__": "ceusdesk.model_pins_copy", "__package__": "ceusdesk"}
    exec(compile(source.read_text(), str(source), "exec"), namespace)  # the rewritten module still runs
    name, record = model_pins.pin_record(package)
    assert namespace["PINNED"][name] == record
    assert "(changed)" in capsys.readouterr().out
