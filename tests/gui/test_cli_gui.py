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


def test_app_imports_no_torch_and_onnxruntime_before_qt():
    code = ("import sys, builtins\n"
            "order = []\n"
            "real = builtins.__import__\n"
            "def spy(name, *a, **k):\n"
            "    top = name.split('.')[0]\n"
            "    if top in ('onnxruntime', 'PySide6') and top not in order: order.append(top)\n"
            "    return real(name, *a, **k)\n"
            "builtins.__import__ = spy\n"
            "import ceusdesk.gui.app\n"
            "print(order, 'torch' in sys.modules)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert proc.stdout.strip() == "['onnxruntime', 'PySide6'] False"
