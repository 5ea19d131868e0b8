"""The core (``ceusdesk`` minus ``gui/``) type-checks with mypy, as configured in pyproject.toml.

The configuration also checks tests/inference/study_like_check.py: the real ``Study`` and the tests'
``FakeStudy`` both satisfy ``ceusdesk.study.types.StudyLike``, so a test on the double exercises the same
contract the app relies on.
"""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_core_type_checks():
    if importlib.util.find_spec("mypy") is None:
        pytest.fail("mypy is not installed: install the dev extra (pip install -e '.[dev]')")
    # files, exclude and overrides live in pyproject.toml; its cache (.mypy_cache) keeps reruns quick
    proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file", "pyproject.toml"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "Success" in proc.stdout
