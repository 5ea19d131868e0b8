"""The built bundle (dist/ceusdesk, from packaging/build.sh): budget, content, the offline checks (its
self-test, evidence, report fonts, the curve panel offscreen, no internet socket).

Skipped, visibly, where no bundle was built (CI runs the suite without building it).
"""
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DIST = REPO / "dist" / "ceusdesk"
pytestmark = pytest.mark.skipif(not (DIST / "ceusdesk").is_file(),
                                reason="no bundle at dist/ceusdesk (run packaging/build.sh)")


def test_built_bundle_is_within_budget(bundle_size):
    size = bundle_size.tree_size(DIST)
    assert bundle_size.within_budget(size), (
        f"dist/ceusdesk is {size / 1e6:.1f} MB, over the {bundle_size.BUDGET_MB} MB budget; largest: "
        + ", ".join(f"{name} {s / 1e6:.0f} MB" for s, name in bundle_size.largest(DIST, top=6)))


def test_built_bundle_carries_no_torch_and_the_model():
    internal = DIST / "_internal"
    for never in ("torch", "torchvision", "onnx", "sympy", "matplotlib", "trainer", "tests"):
        assert not (internal / never).exists(), never
    assert list((internal / "exports").glob("*/manifest.json")), "no model package inside the bundle"


def test_built_bundle_carries_the_fonts_and_the_curve_but_no_opengl_bindings():
    internal = DIST / "_internal"
    fonts = {p.name for p in (internal / "ceusdesk" / "outputs" / "fonts").iterdir()}
    assert {"NotoSans-Regular.ttf", "NotoSansCJKjp-Subset.ttf.xz", "OFL.txt"} <= fonts, fonts
    assert (internal / "pyqtgraph" / "icons" / "auto.png").is_file()
    assert not (internal / "pyqtgraph" / "icons" / "peegee").exists()
    stand_ins = ("QtOpenGL.", "QtOpenGLWidgets.")
    left_out = [p.name for p in internal.rglob("*") if p.name.startswith(stand_ins)]
    assert not left_out, left_out


def test_bundle_selftest_passes_offline():
    env = {k: v for k, v in os.environ.items() if k not in ("CEUSDESK_MODEL", "CEUSDESK_DEFAULT_MODEL")}
    proc = subprocess.run([str(REPO / "packaging" / "offline_selftest.sh")], capture_output=True, text=True,
                          timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("OK ceusdesk") and "selftest (bundle," in proc.stdout, proc.stdout
    lines = proc.stdout.splitlines()
    for check in ("OK evidence", "OK report fonts", "OK curve panel"):
        assert any(line.startswith(check) for line in lines), (check, proc.stdout)
    # the package comes from the bundle itself: models/ beside the executable wins over the built-in one
    dropped_in = list((DIST / "models").glob("*/manifest.json"))
    source = "models/ beside the bundle" if dropped_in else "bundled"
    assert f"({source}, sha256" in proc.stdout, proc.stdout


def test_built_bundle_carries_the_stand_ins_not_the_originals():
    """On Linux the libraries ceusdesk never calls are small stand-ins (packaging/slim_libs.py)."""
    libs = DIST / "_internal" / "opencv_python_headless.libs"
    if not libs.is_dir():
        pytest.skip("no OpenCV wheel libraries in this bundle (not a Linux build)")
    for pattern in ("libopenblas*", "libaom-*", "libvpx-*"):
        found = list(libs.glob(pattern))
        assert found and all(p.stat().st_size < 100_000 for p in found), (pattern, found)
    assert not list(libs.glob("libgfortran*")), "OpenCV's gfortran is needed only by its real OpenBLAS"
    icu = list((DIST / "_internal" / "PySide6" / "Qt" / "lib").glob("libicudata.so.*"))
    assert icu and icu[0].stat().st_size < 25_000_000, icu
    assert not [p for p in DIST.rglob("*") if p.is_symlink() and not p.exists()], "links to nothing"
