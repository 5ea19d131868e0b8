"""The code base stays ruff-clean (the rules in pyproject.toml)."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_ruff_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.fail("ruff is not installed: install the dev extra (pip install -e '.[dev]')")
    paths = ["ceusdesk", "trainer", "tests", "benchmarks", "packaging"]
    proc = subprocess.run([ruff, "check", "--no-cache", *paths], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-1000:]
