"""The bundle's content rules: what is never bundled, which Qt parts are pruned, what data travels."""
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("dest", [
    "torch/lib/libtorch_cpu.so",
    "torchvision/_C.so",
    "onnx/onnx_cpp2py_export.so",
    "sympy/core/basic.py",
    "matplotlib/mpl-data/matplotlibrc",
    "PySide6/Qt/translations/qtbase_de.qm",
    "PySide6/translations/qt_ja.qm",
    "PySide6/Qt/plugins/platforms/libqwayland-egl.so",
    "PySide6/Qt/plugins/tls/libqopensslbackend.so",
    "PySide6/Qt/plugins/sqldrivers/libqsqlite.so",
    "PySide6/Qt/plugins/imageformats/libqsvg.so",
    "PySide6/Qt/plugins/qmltooling/libqmldbg_debugger.so",
    "PySide6\\plugins\\iconengines\\qsvgicon.dll",
    "pydicom/data/test_files/CT_small.dcm",
    "pyqtgraph/icons/peegee/peegee_512px@2x.png",
    "pyqtgraph/colors/maps/CET-L4.csv",
])
def test_dropped(rules, dest):
    assert rules.drop_reason(dest) is not None


@pytest.mark.parametrize("dest", [
    "onnxruntime/capi/libonnxruntime.so.1",
    "PySide6/Qt/lib/libQt6Widgets.so.6",
    "PySide6/Qt/plugins/platforms/libqxcb.so",
    "PySide6/Qt/plugins/platforms/libqoffscreen.so",
    "PySide6\\plugins\\platforms\\qwindows.dll",
    "PySide6\\plugins\\styles\\qmodernwindowsstyle.dll",
    "PySide6/Qt/plugins/imageformats/libqjpeg.so",
    "PySide6/opengl32sw.dll",
    "pydicom/data/palettes/pet.dcm",
    "cv2/cv2.abi3.so",
    "ceusdesk/base/protocols/sonazoid-9.json",
    "exports/demo/model.int8.onnx",
    "pyqtgraph/icons/auto.png",  # the plot's auto-range button
    "ceusdesk/outputs/fonts/NotoSansCJKjp-Subset.ttf.xz",
])
def test_kept(rules, dest):
    assert rules.drop_reason(dest) is None


def test_prune_toc_keeps_order_and_typecodes(rules):
    toc = [("a/x.so", "/src/a/x.so", "BINARY"), ("torch/y.so", "/src/y", "BINARY"),
           ("b/z.dat", "/src/z", "DATA")]
    assert rules.prune_toc(toc) == [toc[0], toc[2]]


def test_pyside6_imports_found_in_every_form(rules, tmp_path):
    (tmp_path / "a.py").write_text("from PySide6.QtWidgets import QWidget\nimport PySide6.QtSvg\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_text("from PySide6 import QtCore, QtPrintSupport\nimport numpy\n")
    assert rules.pyside6_modules_imported(tmp_path) == {"QtWidgets", "QtSvg", "QtCore", "QtPrintSupport"}


def test_unused_qt_modules_are_excluded_and_dependencies_kept(rules):
    installed = ["QtCore", "QtGui", "QtWidgets", "QtNetwork", "QtQml", "QtSvg", "QtSvgWidgets", "QtSql"]
    excluded = rules.qt_modules_excluded(installed, used={"QtSvgWidgets"})
    assert excluded == ["PySide6.QtNetwork", "PySide6.QtQml", "PySide6.QtSql"]
    assert "PySide6.QtGui" not in rules.qt_modules_excluded(["QtGui", "QtQuick"], used=set())
    # a used module's load-time imports are never excluded, however deep
    assert {"QtQml", "QtNetwork"} <= rules.qt_modules_kept({"QtQuickWidgets"})


def test_plan_leaves_out_qt_network_and_stands_in_for_pyqtgraphs_opengl(rules):
    plan = rules.plan(REPO, installed_qt=["QtCore", "QtGui", "QtWidgets", "QtOpenGL", "QtOpenGLWidgets",
                                          "QtSvg", "QtNetwork"])
    assert "PySide6.QtNetwork" in plan.excludes
    assert "ssl" not in plan.excludes  # pynetdicom (`ceusdesk send`) imports it on load
    assert {f"PySide6.{m}" for m in rules.QT_STAND_INS} <= set(plan.excludes)
    assert "pyqtgraph" not in plan.excludes and "hashlib" not in plan.excludes  # the curve; the sha256 check
    assert any(Path(h).name == "pyi_rth_qt_standins.py" and Path(h).is_file() for h in plan.runtime_hooks)


def test_every_ceusdesk_module_is_a_hidden_import(rules):
    mods = rules.package_modules(REPO / "ceusdesk")
    assert {"ceusdesk", "ceusdesk.cli", "ceusdesk.base.protocol",
            "ceusdesk.model_package.manifest"} <= set(mods)
    assert not any(m.startswith("trainer") for m in mods)


def test_package_data_follows_pyproject(rules):
    pairs = rules.package_data(REPO)
    assert (str(REPO / "ceusdesk/base/protocols/sonazoid-9.json"), "ceusdesk/base/protocols") in pairs


def write_package(folder: Path, forced=False, fp32_in_repo=False, with_int8=True) -> Path:
    folder.mkdir(parents=True)
    if with_int8:
        (folder / "model.int8.onnx").write_bytes(b"int8")
    doc = {"name": folder.name, "quantization": {"forced": forced},
           "files": {"int8": {"path": "model.int8.onnx", "sha256": "0" * 64},
                     "fp32": {"path": "model.fp32.onnx", "sha256": "1" * 64, "in_repo": fp32_in_repo}}}
    (folder / "manifest.json").write_text(json.dumps(doc))
    return folder


def test_model_package_data_takes_manifest_and_int8_not_absent_fp32(rules, tmp_path):
    pkg = write_package(tmp_path / "exports" / "demo")
    pairs = rules.model_package_data(pkg)
    assert pairs == [(str(pkg / "manifest.json"), "exports/demo"),
                     (str(pkg / "model.int8.onnx"), "exports/demo")]


def test_model_package_missing_listed_file_is_an_error(rules, tmp_path):
    pkg = write_package(tmp_path / "exports" / "demo", with_int8=False)
    with pytest.raises(FileNotFoundError, match="model.int8.onnx"):
        rules.model_package_data(pkg)


def test_forced_packages_are_never_bundled(rules, tmp_path):
    write_package(tmp_path / "exports" / "good")
    write_package(tmp_path / "exports" / "forced", forced=True)
    assert [p.name for p in rules.model_packages(tmp_path / "exports")] == ["good"]


def fake_repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "pyproject.toml").write_text((REPO / "pyproject.toml").read_text())
    (root / "ceusdesk").symlink_to(REPO / "ceusdesk")
    return root


def test_plan_with_several_packages_needs_a_name(rules, tmp_path):
    root = fake_repo(tmp_path)
    write_package(root / "exports" / "a")
    write_package(root / "exports" / "b")
    with pytest.raises(ValueError, match="CEUSDESK_DEFAULT_MODEL"):
        rules.plan(root, installed_qt=[])
    chosen = rules.plan(root, default_model="b", installed_qt=[])
    assert chosen.model_package.name == "b"
    assert not any("exports/a" in dest for _src, dest in chosen.datas)
    with pytest.raises(FileNotFoundError, match="nope"):
        rules.plan(root, default_model="nope", installed_qt=[])


def test_orphans_left_by_pruned_plugins_are_dropped(rules):
    needs = {
        "/v/PySide6/QtWidgets.abi3.so": ["libQt6Widgets.so.6"],
        "/v/Qt/lib/libQt6Widgets.so.6": ["libQt6Gui.so.6"],
        "/v/Qt/lib/libQt6Gui.so.6": ["libQt6Core.so.6", "libX11.so.6"],
        "/v/Qt/lib/libQt6Core.so.6": ["libicuuc.so.73"],
        "/usr/lib/libX11.so.6": ["libxcb.so.1"],
        "/usr/lib/libxcb.so.1": [],
        "/v/Qt/lib/libicuuc.so.73": [],
        "/usr/lib/libgtk-3.so.0": ["libcairo.so.2"],  # needed only by the pruned gtk3 theme plugin
        "/usr/lib/libcairo.so.2": [],
        "/v/Qt/lib/libQt6Network.so.6": [],
        "/v/libpython3.11.so.1.0": [],
    }
    toc = [
        ("PySide6/QtWidgets.abi3.so", "/v/PySide6/QtWidgets.abi3.so", "EXTENSION"),
        ("PySide6/Qt/lib/libQt6Widgets.so.6", "/v/Qt/lib/libQt6Widgets.so.6", "BINARY"),
        ("PySide6/Qt/lib/libQt6Gui.so.6", "/v/Qt/lib/libQt6Gui.so.6", "BINARY"),
        ("PySide6/Qt/lib/libQt6Core.so.6", "/v/Qt/lib/libQt6Core.so.6", "BINARY"),
        ("libQt6Core.so.6", "PySide6/Qt/lib/libQt6Core.so.6", "SYMLINK"),
        ("PySide6/Qt/lib/libicuuc.so.73", "/v/Qt/lib/libicuuc.so.73", "BINARY"),
        ("libX11.so.6", "/usr/lib/libX11.so.6", "BINARY"),
        ("libxcb.so.1", "/usr/lib/libxcb.so.1", "BINARY"),
        ("libgtk-3.so.0", "/usr/lib/libgtk-3.so.0", "BINARY"),
        ("libcairo.so.2", "/usr/lib/libcairo.so.2", "BINARY"),
        ("PySide6/Qt/lib/libQt6Network.so.6", "/v/Qt/lib/libQt6Network.so.6", "BINARY"),
        ("libQt6Network.so.6", "PySide6/Qt/lib/libQt6Network.so.6", "SYMLINK"),
        ("libpython3.11.so.1.0", "/v/libpython3.11.so.1.0", "BINARY"),
    ]
    kept = {dest for dest, _src, _t in rules.drop_orphans(toc, needed=lambda src: needs[src])}
    assert kept == {
        "PySide6/QtWidgets.abi3.so", "PySide6/Qt/lib/libQt6Widgets.so.6", "PySide6/Qt/lib/libQt6Gui.so.6",
        "PySide6/Qt/lib/libQt6Core.so.6", "libQt6Core.so.6", "PySide6/Qt/lib/libicuuc.so.73",
        "libX11.so.6", "libxcb.so.1", "libpython3.11.so.1.0",
    }


def test_symlink_kept_keeps_its_target(rules):
    toc = [
        ("mod.cpython-311-x86_64-linux-gnu.so", "/v/mod.so", "EXTENSION"),
        ("libfoo.so.1", "libfoo.so.1.2.3", "SYMLINK"),
        ("libfoo.so.1.2.3", "/v/libfoo.so.1.2.3", "BINARY"),
    ]
    kept = rules.drop_orphans(toc, needed=lambda src: {"/v/mod.so": ["libfoo.so.1"]}.get(src, []))
    assert kept == toc
