"""Load packaging/*.py by path: a top-level ``packaging`` import would be the PyPI package."""
import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGING = REPO / "packaging"


def load(name: str):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, PACKAGING / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def rules():
    return load("bundle_rules")


@pytest.fixture(scope="session")
def bundle_size():
    return load("bundle_size")


@pytest.fixture(scope="session")
def strip_debug():
    return load("strip_debug")


@pytest.fixture(scope="session")
def frozen_check():
    return load("frozen_app_check")
