"""``ceusdesk gui STUDY --roi … --liver-roi … --analyze --screenshot PNG --screenshot-view evidence``: the
liver ROI given is the one the evidence reads, and the screenshot shows the evidence (features and curve in
the result panel's viewport when the window is grabbed); a malformed or refused liver ROI is one line and
exit 2."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from PIL import Image

import ceusdesk.cli

pytestmark = pytest.mark.gui

LIVER = (170, 130, 32, 32)  # beside phantom seed 3's lesion ROI (66, 80, 84, 84), clear of it

# Runs `ceusdesk gui …` and, when the window is grabbed, notes what the grab shows: for each evidence part,
# whether its rectangle lies inside the result panel's viewport (screen coordinates, computed here, not by
# the app), the scroll position, and the result's evidence liver ROI; printed as JSON on the last line.
GRAB_SPY = """
import json, sys
from PySide6.QtCore import QPoint, QRect
from ceusdesk.gui.main_window import MainWindow
import ceusdesk.cli

seen = {}
real_grab = MainWindow.grab

def on_screen(w):
    return QRect(w.mapToGlobal(QPoint(0, 0)), w.size())

def grab(self, *args):
    ev, viewport = self.result_panel.evidence, self.result_scroll.viewport()
    shown = on_screen(viewport)
    seen.update({name: w.isVisible() and shown.contains(on_screen(w))
                 for name, w in (("features", ev.features), ("curve", ev.curve), ("title", ev.title))})
    seen["scrolled"] = self.result_scroll.verticalScrollBar().value()
    seen["liver_roi"] = ((self.result or {}).get("evidence") or {}).get("liver_roi")
    return real_grab(self, *args)

MainWindow.grab = grab
code = ceusdesk.cli.main(sys.argv[1:])
print(json.dumps(seen))
sys.exit(code)
"""


def run_gui(args: list[str], tiny_model, tmp_path, spy: bool = False) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", CEUSDESK_MODEL=str(tiny_model),
               CEUSDESK_DATA_DIR=str(tmp_path / "data"))
    start = [sys.executable, "-c", GRAB_SPY] if spy else [sys.executable, "-m", "ceusdesk"]
    return subprocess.run([*start, "gui", *args], env=env, capture_output=True, text=True, timeout=180)


def test_the_evidence_view_shows_the_features_and_curve_read_with_the_liver_roi_given(
        full_study, tiny_model, tmp_path):
    png = tmp_path / "evidence.png"
    roi = ",".join(map(str, full_study[1]))
    proc = run_gui([str(full_study[0]), "--roi", roi, "--liver-roi", ",".join(map(str, LIVER)), "--analyze",
                    "--screenshot", str(png), "--screenshot-view", "evidence", "--size", "1600x1000"],
                   tiny_model, tmp_path, spy=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    assert seen["liver_roi"] == list(LIVER)  # the analysis read the liver where it was told to
    assert seen["features"] and seen["curve"] and seen["title"]
    assert seen["scrolled"] > 0  # below the call at this size: it had to scroll
    assert Image.open(png).size == (1600, 1000)
    audit = [json.loads(line) for line in (tmp_path / "data" / "audit.jsonl").read_text().splitlines()]
    assert audit[-1]["evidence"]["liver_roi"] == list(LIVER)
    assert audit[-1]["evidence"]["liver_roi_source"] == "user"


def test_a_window_too_short_for_the_evidence_says_so(full_study, tiny_model, tmp_path):
    png = tmp_path / "evidence.png"
    roi = ",".join(map(str, full_study[1]))
    proc = run_gui([str(full_study[0]), "--roi", roi, "--analyze", "--screenshot", str(png),
                    "--screenshot-view", "evidence", "--size", "1024x700"], tiny_model, tmp_path)
    assert proc.returncode == 1
    assert "not in view; a taller --size shows it" in proc.stderr and "Traceback" not in proc.stderr
    assert png.exists()  # what could be shown is still saved


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "10,10,0,5", "inf,0,30,30", "99999999,0,30,30"])
def test_a_malformed_liver_roi_is_one_line_and_exit_2(full_study, capsys, text):
    code = ceusdesk.cli.main(["gui", str(full_study[0]), "--roi", "66,80,84,84", "--liver-roi", text,
                              "--analyze", "--screenshot", "never.png"])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("ceusdesk: --liver-roi"), err


def test_a_liver_roi_off_the_contrast_image_is_refused_as_the_app_refuses_it(full_study, tiny_model,
                                                                             tmp_path):
    png = tmp_path / "shot.png"
    proc = run_gui([str(full_study[0]), "--liver-roi", "900,900,30,30", "--screenshot", str(png)],
                   tiny_model, tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [x for x in proc.stderr.splitlines() if x.startswith("ceusdesk gui:")]
    assert len(lines) == 1 and lines[0].startswith("ceusdesk gui: --liver-roi 900,900,30,30: ")
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("args, words", [
    (["--screenshot-view", "evidence"], "--screenshot-view needs --screenshot"),
    (["--screenshot", "x.png", "--screenshot-view", "evidence"], "needs --analyze"),
])
def test_the_evidence_view_needs_a_screenshot_of_a_result(full_study, capsys, args, words):
    code = ceusdesk.cli.main(["gui", str(full_study[0]), *args])
    err = capsys.readouterr().err
    assert code == 2 and words in err and len(err.strip().splitlines()) == 1
