"""``ceusdesk gui STUDY --roi … --analyze --screenshot PNG`` and the app's import rules."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from PIL import Image

pytestmark = pytest.mark.gui


def test_screenshot_run_opens_analyzes_and_exits(full_study, tiny_model, tmp_path):
    png = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CEUSDESK_MODEL=str(tiny_model),
               CEUSDESK_DATA_DIR=str(tmp_path / "data"))
    roi = ",".join(map(str, full_study[1]))
    proc = subprocess.run([sys.executable, "-m", "ceusdesk", "gui", str(full_study[0]), "--roi", roi,
                           "--analyze", "--screenshot", str(png)], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    w, h = Image.open(png).size
    assert w >= 1280 and h >= 800
    assert (tmp_path / "data" / "audit.jsonl").exists()  # the analysis really ran


def test_bad_roi_is_a_usage_error(full_study):
    proc = subprocess.run([sys.executable, "-m", "ceusdesk", "gui", str(full_study[0]), "--roi", "1,2,3",
                           "--analyze"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "X,Y,W,H" in proc.stderr and "Traceback" not in proc.stderr


# Runs a start path with sys.platform reading "win32" (as on Windows) until the first import of onnxruntime
# or PySide6, which then load for the real platform; prints which came first, their order in sys.modules,
# and whether torch was imported.
FORCED_WINDOWS = """
import sys
import ceusdesk, ceusdesk.cli, ceusdesk.cli.gui  # the core, for the real platform
real = sys.platform
first = []

class Watch:
    def find_spec(self, name, path=None, target=None):
        if name in ("onnxruntime", "PySide6") and not first:
            first.append(name)
            sys.platform = real
        return None

sys.meta_path.insert(0, Watch())
sys.platform = "win32"
{start}
mods = list(sys.modules)
print(first[0], mods.index("onnxruntime") < mods.index("PySide6"), "torch" in sys.modules)
"""


def run_forced_windows(start: str, tmp_path, timeout: int = 120) -> str:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CEUSDESK_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.run([sys.executable, "-c", FORCED_WINDOWS.format(start=start)], env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-1500:]
    return proc.stdout.strip().splitlines()[-1]


def test_on_windows_importing_the_app_loads_onnxruntime_before_qt(tmp_path):
    assert run_forced_windows("import ceusdesk.gui.app", tmp_path) == "onnxruntime True False"


def test_on_windows_ceusdesk_gui_loads_onnxruntime_before_qt(tmp_path):
    # the whole `ceusdesk gui` start: window shown, screenshot saved, exit 0
    png = tmp_path / "shot.png"
    start = f"assert ceusdesk.cli.main(['gui', '--screenshot', {str(png)!r}]) == 0"
    assert run_forced_windows(start, tmp_path) == "onnxruntime True False"
    assert png.exists()


def test_elsewhere_the_app_imports_neither_torch_nor_onnxruntime_at_start():
    code = "import sys, ceusdesk.gui.app; print('torch' in sys.modules, 'onnxruntime' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-1500:]
    expected = "False True" if sys.platform == "win32" else "False False"
    assert proc.stdout.strip() == expected
