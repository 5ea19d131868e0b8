"""packaging/frozen_app_check.py without a bundle: the curve finder, the socket trace, the failures.

The whole check against a built bundle runs in test_built_bundle.py; the curve finder on the real panel
in test_qt_standins.py."""
from __future__ import annotations

import shutil
import stat
import sys
from pathlib import Path

import numpy as np
import pytest


def plot_image(check, line_on: str) -> np.ndarray:
    """A 200×120 picture: left half plot background, right half black; a yellow and a green line
    crossing the half named by ``line_on``."""
    img = np.zeros((120, 200, 3), np.uint8)
    img[:, :100] = check.PLOT_BACKGROUND
    x0 = 10 if line_on == "plot" else 110
    img[40:42, x0:x0 + 80] = check.CURVE_COLOURS["lesion"]
    img[80:82, x0:x0 + 80] = check.CURVE_COLOURS["liver"]
    return img


def test_curve_pixels_count_lines_on_the_plot_not_elsewhere(frozen_check):
    on_plot = frozen_check.curve_pixels(plot_image(frozen_check, "plot"))
    assert on_plot == {"lesion": 160, "liver": 160}
    # the same lines on the ultrasound image (the ROI outlines' colours): not a curve
    assert frozen_check.curve_pixels(plot_image(frozen_check, "image")) == {"lesion": 0, "liver": 0}


def fake_exe(tmp_path: Path, body: str) -> Path:
    exe = tmp_path / "fake-ceusdesk"
    exe.write_text(f"#!{sys.executable}\n{body}\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
def test_an_internet_socket_fails_the_check(frozen_check, tmp_path):
    exe = fake_exe(tmp_path, "import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()")
    bundle = frozen_check.Bundle(exe, tmp_path)
    opened = r"selftest: the bundle opened a network socket: .*AF_INET"
    with pytest.raises(frozen_check.CheckFailed, match=opened):
        bundle.run("selftest", ["selftest"])
    # a local (unix) socket is no network
    local = fake_exe(tmp_path, "import socket; socket.socket(socket.AF_UNIX).close()")
    assert frozen_check.Bundle(local, tmp_path).run("selftest", ["selftest"]).returncode == 0


def test_a_failing_command_is_one_line_naming_the_check(frozen_check, tmp_path, capsys):
    exe = fake_exe(tmp_path, "import sys; print('ceusdesk: selftest FAILED at verify model: sha256', "
                             "file=sys.stderr); sys.exit(5)")
    assert frozen_check.main([str(exe)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["frozen_app_check: FAILED at selftest: exit 5: ceusdesk: selftest FAILED at verify model: "
                   "sha256"]


def test_a_missing_bundle_says_how_to_build_it(frozen_check, tmp_path, capsys):
    assert frozen_check.main([str(tmp_path / "nowhere")]) == 2
    assert "packaging/build.sh" in capsys.readouterr().err
