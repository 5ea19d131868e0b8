"""The folders read as the flow (base → ingest → study → inference → evidence → outputs → analysis →
cli/gui), checked by machine: import-linter's contracts in pyproject.toml, no import cycle, and a top
level that holds only the stages."""
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

REPO = Path(__file__).resolve().parents[1]
TOP_LEVEL_MODULES = {"__init__.py", "__main__.py", "analysis.py"}


def lint_imports() -> str:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.fail("lint-imports is not installed: install the dev extra (pip install -e '.[dev]')")
    return exe


def test_import_contracts_are_kept():
    proc = subprocess.run([lint_imports(), "--no-cache"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_an_upward_import_breaks_the_layers(tmp_path):
    # the contract bites: a copy of the package where ingest imports the evidence is refused
    shutil.copytree(REPO / "ceusdesk", tmp_path / "ceusdesk", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "trainer", tmp_path / "trainer", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "ceusdesk" / "ingest" / "upward.py").write_text("from ceusdesk.evidence import scanners\n")
    proc = subprocess.run([lint_imports(), "--no-cache"], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode != 0
    assert "ceusdesk.ingest is not allowed to import ceusdesk.evidence" in proc.stdout


def test_no_import_cycle():
    graph = grimp.build_graph("ceusdesk")
    cycles = sorted({tuple(sorted((a, b))) for a in graph.modules
                     for b in graph.find_modules_directly_imported_by(a)
                     if graph.chain_exists(importer=b, imported=a)})
    assert cycles == [], f"modules importing each other (directly or through others): {cycles[:10]}"


def test_top_level_holds_only_the_stages():
    loose = sorted(p.name for p in (REPO / "ceusdesk").iterdir()
                   if p.is_file() and p.suffix == ".py" and p.name not in TOP_LEVEL_MODULES)
    assert loose == [], f"modules at ceusdesk/'s top level; put each in its stage's package: {loose}"
    for pkg in ("base", "ingest", "study", "inference", "evidence", "outputs", "model_package", "cli", "gui",
                "phantom"):
        assert (REPO / "ceusdesk" / pkg / "__init__.py").is_file(), pkg
