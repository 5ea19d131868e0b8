"""The bundle leaves out PySide6.QtOpenGL and QtOpenGLWidgets, which pyqtgraph imports on load; the runtime
hook packaging/rthooks/pyi_rth_qt_standins.py stands in for them. With the real modules hidden as in the
bundle, the curve panel must still draw its curves, and any OpenGL use must fail with one clear line.

Each case runs in a fresh interpreter: PySide6 modules, once imported, cannot be hidden again."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HOOK = REPO / "packaging" / "rthooks" / "pyi_rth_qt_standins.py"

pytest.importorskip("PySide6")
pytest.importorskip("pyqtgraph")

# As in the bundle: the real binding files are not there (the path finder is never asked for them), so
# only finders other than the path finder - the hook's, once installed - can answer.
HIDE_REAL = textwrap.dedent("""
    import importlib.machinery, sys
    HIDDEN = {"PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets"}
    class HideReal:
        def find_spec(self, name, path=None, target=None):
            if name not in HIDDEN:
                return None
            for finder in sys.meta_path:
                if finder is self or finder is importlib.machinery.PathFinder:
                    continue
                spec = finder.find_spec(name, path, target)
                if spec is not None:
                    return spec
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    sys.meta_path.insert(0, HideReal())
""")


def run_python(code: str, tmp_path: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=REPO, env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin",
                                         "HOME": str(tmp_path), "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_pyqtgraph_loads_only_qt_modules_the_bundle_keeps_or_stands_in(rules, tmp_path):
    loaded = run_python("import json, sys, pyqtgraph; print(json.dumps(sorted({m.split('.')[1] for m in "
                        "sys.modules if m.startswith('PySide6.Qt')})))", tmp_path)
    kept = rules.qt_modules_kept(rules.pyside6_modules_imported(REPO / "ceusdesk"))
    unaccounted = set(loaded) - kept - set(rules.QT_STAND_INS) - set(rules.QT_OPTIONAL_FOR_PYQTGRAPH)
    assert not unaccounted, (
        f"pyqtgraph now loads {sorted(unaccounted)}, which the bundle leaves out: keep them "
        "(bundle_rules.QT_MODULE_DEPENDS) or stand in for them (QT_STAND_INS and the runtime hook)")
    hook = {}
    exec(compile(HOOK.read_text(), str(HOOK), "exec"), hook)  # the hook names what the rules exclude
    assert set(hook["STAND_INS"]) == {f"PySide6.{m}" for m in rules.QT_STAND_INS}


CURVE = textwrap.dedent("""
    import json, runpy, sys
    runpy.run_path({hook!r})
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from ceusdesk.gui.curve_panel import CurvePanel
    import pyqtgraph.Qt.OpenGLHelpers as glh
    panel = CurvePanel()
    panel.resize(640, 320)
    ts = [0, 8, 15, 20, 27, 35, 45, 60, 90, 120, 180, 240, 300, 360, 600]
    tic = [dict(t_s=t, lesion=0.02 + 0.08 * (t > 8) * (0.9 ** max(t - 27, 0) if t >= 27 else t / 27),
                liver=0.01 + 0.04 * min(t / 60, 1)) for t in ts]
    panel.show()
    slots = {{"0:30": 27.0, "1:00": 60.0, "10:00": 600.0}}
    panel.set_evidence({{"tic": tic, "washout_onset_s": 44.7}}, slots)
    app.processEvents()
    panel.grab().save({drawn!r})
    panel.clear()
    app.processEvents()
    panel.grab().save({cleared!r})
    try:
        glh.GraphicsViewGLWidget()
        gl_error = None
    except RuntimeError as err:
        gl_error = str(err)
    stand_in = sys.modules["PySide6.QtOpenGL"]
    print(json.dumps({{"gl_error": gl_error, "real": hasattr(stand_in, "__file__"),
                      "has_buffer": hasattr(stand_in, "QOpenGLBuffer")}}))
""")


@pytest.mark.gui
def test_curve_panel_draws_with_the_stand_ins_and_opengl_use_fails_loudly(frozen_check, tmp_path):
    import numpy as np
    from PIL import Image

    check = frozen_check
    drawn, cleared = tmp_path / "drawn.png", tmp_path / "cleared.png"
    out = run_python(HIDE_REAL + CURVE.format(hook=str(HOOK), drawn=str(drawn), cleared=str(cleared)),
                     tmp_path)
    assert out["real"] is False and out["has_buffer"] is False  # the stand-in, and it has no GL classes
    assert out["gl_error"] and "PySide6.QtOpenGLWidgets was left out" in out["gl_error"], out
    found = check.curve_pixels(np.asarray(Image.open(drawn).convert("RGB")))
    assert min(found.values()) >= check.MIN_CURVE_PIXELS, found
    # the same check on the emptied panel finds nothing: it sees curves, not the panel
    empty = check.curve_pixels(np.asarray(Image.open(cleared).convert("RGB")))
    assert max(empty.values()) < check.MIN_CURVE_PIXELS, empty


def test_without_the_hook_pyqtgraph_does_not_load_when_opengl_is_left_out(tmp_path):
    """What the stand-ins are for: the first frozen GUI with pyqtgraph died here."""
    env = {"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", HIDE_REAL + "import pyqtgraph"], capture_output=True,
                          text=True, timeout=300, env=env)
    assert proc.returncode != 0 and "No module named 'PySide6.QtOpenGL" in proc.stderr, proc.stderr[-2000:]


def test_the_hook_leaves_real_modules_alone(tmp_path):
    out = run_python(f"import json, runpy; runpy.run_path({str(HOOK)!r}); import PySide6.QtOpenGL as m; "
                     "print(json.dumps({'file': getattr(m, '__file__', None)}))", tmp_path)
    assert out["file"] and "QtOpenGL" in Path(out["file"]).name
