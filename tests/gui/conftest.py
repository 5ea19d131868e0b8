"""Phantom studies, a tiny model package and a main window with throwaway settings (offscreen Qt)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings

from ceusdesk.phantom import PhantomOptions, synthesize_case

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def full_study(tmp_path_factory) -> tuple[Path, list[int]]:
    """A compact phantom study with every slot (the phantom's ROI comes with it)."""
    out = tmp_path_factory.mktemp("phantom-full")
    rec = synthesize_case(out, seed=3, label="hcc", options=PhantomOptions(encoding="raw"))
    return out / rec["study"], rec["roi"]


@pytest.fixture(scope="session")
def early_study(tmp_path_factory) -> tuple[Path, list[int]]:
    out = tmp_path_factory.mktemp("phantom-early")
    rec = synthesize_case(out, seed=5, label="benign",
                          options=PhantomOptions(encoding="raw", early_only=True))
    return out / rec["study"], rec["roi"]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    sys.path.insert(0, str(ROOT))
    from tests.tiny_package import make_tiny_package

    return make_tiny_package(tmp_path_factory.mktemp("pkg"))


@pytest.fixture(autouse=True)
def private_data_dir(tmp_path, monkeypatch) -> Path:
    """The audit log of a test goes to its own folder, never the user's."""
    folder = tmp_path / "data"
    monkeypatch.setenv("CEUSDESK_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def window(qtbot, tmp_path, tiny_model):
    from ceusdesk.gui.main_window import MainWindow

    qs = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    win = MainWindow(qs)
    win.settings.model = str(tiny_model)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.runner.shutdown()


def open_and_wait(qtbot, win, path, timeout: int = 30000):
    with qtbot.waitSignal(win.studyLoaded, timeout=timeout) as blocker:
        win.open_study(path)
    return blocker.args[0]


@pytest.fixture(scope="session")
def gappy_study(tmp_path_factory) -> tuple[Path, list[int]]:
    """A full set with 4:00 and 5:00 not recorded and no Contrast/Bolus Start Time (estimated injection)."""
    out = tmp_path_factory.mktemp("phantom-gappy")
    rec = synthesize_case(out, seed=7, label="hcc",
                          options=PhantomOptions(encoding="raw", missing_slots=("4:00", "5:00"),
                                                 write_contrast_start=False))
    return out / rec["study"], rec["roi"]
