"""Model package resolution: --model → $CEUSDESK_MODEL → models/ beside a frozen bundle → exports/."""
from __future__ import annotations

import sys

import pytest

from ceusdesk.base.errors import ModelRefused
from ceusdesk.model_package import resolve as models


def package(folder):
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text("{}")
    return folder / "manifest.json"


@pytest.fixture
def exports(tmp_path, monkeypatch):
    monkeypatch.delenv(models.ENV_MODEL, raising=False)
    monkeypatch.delenv(models.ENV_DEFAULT, raising=False)
    monkeypatch.setattr(models, "exports_dir", lambda: tmp_path / "exports")
    return tmp_path / "exports"


def test_cli_wins_over_env_and_exports(exports, monkeypatch, tmp_path):
    package(exports / "demo")
    monkeypatch.setenv(models.ENV_MODEL, str(tmp_path / "env"))
    assert models.resolve_model(tmp_path / "cli") == tmp_path / "cli"
    assert models.resolve_model(None) == tmp_path / "env"


def test_a_folder_means_its_manifest(exports, tmp_path):
    m = package(tmp_path / "site")
    assert models.resolve_model(tmp_path / "site") == m


def test_the_one_package_in_exports(exports):
    m = package(exports / "demo")
    assert models.resolve_model() == m


def test_several_packages_need_a_name(exports, monkeypatch):
    package(exports / "a")
    b = package(exports / "b")
    with pytest.raises(ModelRefused, match="several model packages"):
        models.resolve_model()
    monkeypatch.setenv(models.ENV_DEFAULT, "b")
    assert models.resolve_model() == b


def test_frozen_bundle_models_folder_comes_before_exports(exports, monkeypatch, tmp_path):
    package(exports / "demo")
    site = package(tmp_path / "bundle" / "models" / "site")
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bundle" / "ceusdesk"))
    assert models.resolve_model() == site


def test_nothing_found_says_how_to_get_a_package(exports):
    with pytest.raises(ModelRefused, match="model package is missing.*trainer export"):
        models.resolve_model()
