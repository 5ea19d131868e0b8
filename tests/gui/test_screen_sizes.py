"""The window at the sonographer's desk: 1024×700 logical pixels, 100 % and 200 % scaling, nothing that
matters cut off, thumbnails at the screen's density, each slot saying which frame fills it."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from PIL import Image

from ceusdesk.base.protocol import SLOT_NAMES
from ceusdesk.gui import backend
from ceusdesk.gui.layout_check import clipped, low_density_pixmaps, undescribed

from .conftest import open_and_wait
from .test_window import analyze_and_wait

pytestmark = pytest.mark.gui

# "US0002 · f7/7 · 0:51 (−9 s)"; B has no target, so no offset
CAPTION = re.compile(r"^US\d{4} · f\d+/\d+ · −?\d+:\d\d( \([+−]\d+ s\))?$")


def test_at_1024_by_700_nothing_is_cut_and_every_control_is_described(qtbot, window, full_study):
    window.resize(1024, 700)
    open_and_wait(qtbot, window, full_study[0])
    window.set_roi("0:30", tuple(full_study[1]))
    analyze_and_wait(qtbot, window)
    window.result_panel.details.toggle.setChecked(True)  # the folded section too
    qtbot.wait(50)  # one layout pass
    assert (window.width(), window.height()) == (1024, 700)  # the window did not insist on more
    assert clipped(window) == []
    assert undescribed(window) == []
    assert low_density_pixmaps(window) == []
    assert window.export_btn.isVisible() and window.export_btn.isEnabled()


def test_at_1024_by_700_the_side_question_fits_above_the_viewer(qtbot, window, gappy_study, monkeypatch):
    """The tallest state: the contrast-side question open, an estimated injection, slots not acquired."""
    monkeypatch.setattr(backend, "side_sure", lambda study: False)
    window.resize(1024, 700)
    open_and_wait(qtbot, window, gappy_study[0])
    qtbot.wait(50)
    assert window.side_question.isVisible() and window.timeline.inj_confirm.isVisible()
    assert (window.width(), window.height()) == (1024, 700)
    assert clipped(window) == []
    assert undescribed(window) == []


def test_each_slot_card_says_which_frame_fills_it(qtbot, window, full_study):
    study = open_and_wait(qtbot, window, full_study[0])
    for name in SLOT_NAMES:
        card = window.timeline.cards[name]
        sf = study.slots[name]
        assert CAPTION.match(card.full_caption), card.full_caption
        assert f"f{sf.frame_index + 1}/{sf.clip.n_frames}" in card.full_caption
        assert card.full_caption in card.accessibleName()  # a screen reader hears it too
        if name != "B":
            offset = round(study.slot_offset_s(name))
            assert f"({offset:+d} s)".replace("-", "−") in card.full_caption


def test_at_200_percent_the_window_fits_and_thumbnails_are_sharp(full_study, tiny_model, tmp_path):
    """QT_SCALE_FACTOR=2 needs a fresh process; the app's own layout check reports to stderr."""
    png = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QT_SCALE_FACTOR="2", CEUSDESK_MODEL=str(tiny_model),
               CEUSDESK_DATA_DIR=str(tmp_path / "data"))
    roi = ",".join(map(str, full_study[1]))
    proc = subprocess.run([sys.executable, "-m", "ceusdesk", "gui", str(full_study[0]), "--roi", roi,
                           "--analyze", "--screenshot", str(png), "--size", "1024x700"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "layout:" not in proc.stderr, proc.stderr[-2000:]
    assert Image.open(png).size == (2048, 1400)  # 1024×700 logical at 2 device pixels each


def test_a_bad_window_size_is_a_usage_error():
    proc = subprocess.run([sys.executable, "-m", "ceusdesk", "gui", "--size", "big"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "WIDTHxHEIGHT" in proc.stderr and "Traceback" not in proc.stderr
