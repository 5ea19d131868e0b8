"""What goes into the PyInstaller bundle and what is pruned from it - the rules behind ceusdesk.spec.

Plain functions over paths and PyInstaller TOC tuples ``(dest_name, src_name, typecode)``, so they are
unit-tested without PyInstaller (tests/packaging/). The spec only wires them into Analysis/COLLECT.

Why each rule exists:
- the bundle never carries torch & co (the app core is torch-free; a test enforces that, this enforces
  it on the frozen side even when the build environment is wrong);
- PySide6 modules that no ceusdesk source imports are excluded, and so are the Qt plugins and
  translations a widgets-only, English UI never loads: this keeps the folder under its 400 MB budget;
- two of those modules are imported by pyqtgraph on load although it never uses them here (its OpenGL
  drawing): they are left out too, and a runtime hook stands in for them (:data:`QT_STAND_INS`);
- the default model package from exports/ travels inside (manifest + every file it lists that is in
  the repo), at ``exports/NAME/`` under the bundle's internal folder, the same place relative to the
  ``ceusdesk`` package as in the source tree.
"""
from __future__ import annotations

import ast
import json
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

# Python packages the bundle must never contain (design.md: "the bundle never contains torch").
NEVER_BUNDLED = (
    "torch", "torchvision", "torchaudio", "onnx", "onnxscript", "sympy", "matplotlib", "scipy",
    "sklearn", "pandas", "tkinter", "_tkinter", "IPython", "jupyter", "notebook", "pytest", "_pytest",
    "pytest_qt", "pytestqt", "hypothesis", "trainer", "tests", "pydicom_data", "data_store", "tqdm",
    # onnxruntime's Python tooling (quantization, transformers) imports onnx/torch; inference needs none
    "onnxruntime.quantization", "onnxruntime.transformers", "onnxruntime.tools",
    # Pillow codecs and toolkit bridges ceusdesk never uses (AVIF alone carries ~5 MB of codec)
    "PIL._avif", "PIL.AvifImagePlugin", "PIL._webp", "PIL._imagingtk", "PIL.ImageTk", "PIL.ImageQt",
    # interactive line editing (and its libreadline/libtinfo): the bundle has no interactive prompt
    "readline",
    # pyqtgraph draws the evidence curve; its demos, 3-D (OpenGL) items, notebook widgets, flowchart,
    # dock area and debugging console are never imported by it or by ceusdesk
    "pyqtgraph.examples", "pyqtgraph.opengl", "pyqtgraph.jupyter", "pyqtgraph.flowchart",
    "pyqtgraph.dockarea", "pyqtgraph.console",
    # (Python's ssl stays: pynetdicom, which `ceusdesk send` uses, imports it on load - 0.9 MB)
    # numpy's Fortran wrapper generator: a build tool, never used at run time
    "numpy.f2py",
)

# PySide6 modules left out although a bundled library imports them on load: a runtime hook
# (packaging/rthooks/pyi_rth_qt_standins.py) puts stand-ins in their place, which fail loudly when used.
# pyqtgraph loads QtOpenGL and QtOpenGLWidgets (~9 MB of bindings) for its OpenGL drawing, never enabled.
QT_STAND_INS = ("QtOpenGL", "QtOpenGLWidgets")
# PySide6 modules pyqtgraph tries on load and does without (``except ImportError``): SVG export, QtTest
QT_OPTIONAL_FOR_PYQTGRAPH = ("QtSvg", "QtTest")

# Python-level dependencies between PySide6 modules: keeping a module keeps what it imports on load.
QT_MODULE_DEPENDS = {
    "QtGui": ("QtCore",),
    "QtWidgets": ("QtGui",),
    "QtPrintSupport": ("QtWidgets",),
    "QtSvg": ("QtGui",),
    "QtSvgWidgets": ("QtSvg", "QtWidgets"),
    "QtOpenGL": ("QtGui",),
    "QtOpenGLWidgets": ("QtOpenGL", "QtWidgets"),
    "QtNetwork": ("QtCore",),
    "QtQml": ("QtNetwork",),
    "QtQuick": ("QtQml", "QtGui", "QtOpenGL"),
    "QtQuickWidgets": ("QtQuick", "QtWidgets"),
    "QtConcurrent": ("QtCore",),
    "QtTest": ("QtWidgets",),
}
# Always kept: the GUI is a widgets app (the hook of QtWidgets pulls Qt's core libraries anyway).
QT_ALWAYS = ("QtCore", "QtGui", "QtWidgets")

# Qt plugin folders kept whole; any other plugin folder is dropped. Platforms are filtered by name below.
QT_PLUGIN_DIRS_KEPT = ("platforms", "imageformats", "styles", "platforminputcontexts", "xcbglintegrations")
QT_PLATFORMS_KEPT = ("xcb", "offscreen", "minimal", "windows", "cocoa")
QT_IMAGEFORMATS_KEPT = ("jpeg", "ico", "gif")  # PNG is built into QtGui
QT_TRANSLATIONS_KEPT: tuple[str, ...] = ()  # the UI is English; Qt's own strings need no catalogue

# Data files never needed at run time (pydicom's test files and charset samples; package tests).
DROPPED_DATA_PARTS = (
    "pydicom/data/test_files/", "pydicom/data/charset_files/", "/tests/", "/testing/",
)
# Data files of bundled libraries that ceusdesk never loads, with the reason
UNUSED_DATA_PARTS = {
    "pyqtgraph/icons/peegee/": "pyqtgraph's logo (its own QApplication's icon; ceusdesk makes the app)",
    "pyqtgraph/colors/maps/": "pyqtgraph's named colour maps (the curve panel uses none)",
}


def pyside6_modules_imported(source_dir: Path) -> set[str]:
    """Names of PySide6 modules (``QtWidgets``…) imported anywhere under ``source_dir``."""
    used: set[str] = set()
    for path in sorted(source_dir.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == "PySide6":
                    names = [f"PySide6.{a.name}" for a in node.names]
                else:
                    names = [node.module]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] == "PySide6" and len(parts) > 1 and parts[1].startswith("Qt"):
                    used.add(parts[1])
    return used


def qt_modules_kept(used: Iterable[str]) -> set[str]:
    """``used`` plus :data:`QT_ALWAYS` plus everything those import on load (transitively)."""
    kept: set[str] = set()
    todo = list(QT_ALWAYS) + list(used)
    while todo:
        name = todo.pop()
        if name not in kept:
            kept.add(name)
            todo.extend(QT_MODULE_DEPENDS.get(name, ()))
    return kept


def qt_modules_excluded(installed: Iterable[str], used: Iterable[str]) -> list[str]:
    """``PySide6.X`` names to hand PyInstaller as excludes: installed modules nothing needs."""
    kept = qt_modules_kept(used)
    return sorted(f"PySide6.{m}" for m in installed if m not in kept)


def pyside6_installed_modules() -> list[str]:
    """PySide6 extension modules present in the running (build) environment, e.g. ``QtSvg``."""
    import importlib.util

    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return []
    found = set()
    for folder in spec.submodule_search_locations:
        for f in Path(folder).iterdir():
            if f.name.startswith("Qt") and f.suffix in (".so", ".pyd"):
                found.add(f.name.split(".")[0])
    return sorted(found)


def _under_qt(dest: PurePosixPath, folder: str) -> tuple[str, ...] | None:
    """Path parts after ``PySide6/Qt/<folder>/`` (or ``PySide6/<folder>/`` on Windows), else None."""
    parts = dest.parts
    for i in range(len(parts) - 1):
        if parts[i] == "PySide6":
            rest = parts[i + 1:]
            if rest[:1] == ("Qt",):
                rest = rest[1:]
            if rest[:1] == (folder,):
                return rest[1:]
            return None
    return None


def drop_reason(dest_name: str) -> str | None:
    """Why the bundle leaves out the file that would land at ``dest_name``, or None to keep it."""
    dest = PurePosixPath(dest_name.replace("\\", "/"))
    top = dest.parts[0] if dest.parts else ""
    for name in NEVER_BUNDLED:
        if top == name.split(".")[0] and "." not in name:
            return f"{name} is never bundled"
    text = dest.as_posix()
    for part in DROPPED_DATA_PARTS:
        if part in f"/{text}":
            return f"test data ({part.strip('/')})"
    for part, why in UNUSED_DATA_PARTS.items():
        if f"/{text}".startswith(f"/{part}"):
            return why
    translations = _under_qt(dest, "translations")
    if translations is not None:
        stem = translations[-1].rsplit(".", 1)[0] if translations else ""
        lang = stem.split("_", 1)[1] if "_" in stem else ""
        if lang not in QT_TRANSLATIONS_KEPT:
            return "Qt translation not used (English UI)"
        return None
    plugin = _under_qt(dest, "plugins")
    if plugin is not None and plugin:
        folder = plugin[0]
        if folder not in QT_PLUGIN_DIRS_KEPT:
            return f"Qt plugin folder {folder} not used"
        filename = plugin[-1].lower()
        if folder == "platforms" and not any(k in filename for k in QT_PLATFORMS_KEPT):
            return f"Qt platform plugin {plugin[-1]} not used"
        if folder == "imageformats" and not any(k in filename for k in QT_IMAGEFORMATS_KEPT):
            return f"Qt image format {plugin[-1]} not used"
    return None


def prune_toc(toc: Iterable[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The TOC entries :func:`drop_reason` keeps, in order."""
    return [entry for entry in toc if drop_reason(entry[0]) is None]


# Folders (relative to the bundle's internal folder) that hold only link-time dependencies: a library
# there that no kept binary needs is an orphan, left behind by a plugin that was pruned after analysis
# or by a library replaced with a stand-in (slim_libs.py). ``*.libs`` are the wheels' auditwheel folders.
DEPENDENCY_ONLY_DIRS = ("", "PySide6/Qt/lib", "opencv_python_headless.libs", "numpy.libs", "pillow.libs")


def _is_dependency_candidate(dest: str) -> bool:
    dest = dest.replace("\\", "/")
    folder, _, name = dest.rpartition("/")
    if folder not in DEPENDENCY_ONLY_DIRS:
        return False
    # Python extensions and the interpreter itself are loaded by name, never through another binary
    return not (name.startswith(("libpython", "python")) or ".cpython-" in name or ".abi3." in name
                or name.endswith(".pyd"))


def _base(name: str) -> str:
    return PurePosixPath(str(name).replace("\\", "/")).name.lower()


def drop_orphans(toc: Iterable[tuple[str, str, str]],
                 needed: Callable[[str], Iterable[str]]) -> list[tuple[str, str, str]]:
    """Drop dependency-only libraries (see :data:`DEPENDENCY_ONLY_DIRS`) that no kept binary needs.

    ``needed(src)`` gives the library names ``src`` links against (PyInstaller's ``get_imports`` on
    the build machine). Every other binary is a root: Python extensions, Qt plugins, packages' own
    libraries. A ``SYMLINK`` entry (``src`` is its target inside the bundle) keeps its target alive.
    Names compare case-insensitively (Windows DLLs).
    """
    toc = list(toc)
    by_name: dict[str, list[tuple[str, str, str]]] = {}
    for entry in toc:
        if _is_dependency_candidate(entry[0]):
            by_name.setdefault(_base(entry[0]), []).append(entry)
    reached: set[str] = set()

    def visit(entry: tuple[str, str, str]) -> list[str]:
        dest, src, typecode = entry
        return [_base(src)] if typecode == "SYMLINK" else [_base(n) for n in needed(src)]

    todo = [n for e in toc if not _is_dependency_candidate(e[0]) for n in visit(e)]
    while todo:
        name = todo.pop()
        if name in by_name and name not in reached:
            reached.add(name)
            for entry in by_name[name]:
                todo.extend(visit(entry))
    return [e for e in toc if not _is_dependency_candidate(e[0]) or _base(e[0]) in reached]


def package_modules(package_dir: Path) -> list[str]:
    """Every module of a source package (``ceusdesk.cli.selftest``…): the CLI imports subcommands by
    name, so PyInstaller's import scan cannot see them."""
    root = package_dir.parent
    names = []
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        names.append(".".join(parts))
    return names


def package_data(root: Path, package: str = "ceusdesk") -> list[tuple[str, str]]:
    """``(src, dest_dir)`` pairs for the package data that pyproject.toml declares for ``package``."""
    with open(root / "pyproject.toml", "rb") as f:
        patterns = tomllib.load(f)["tool"]["setuptools"]["package-data"].get(package, [])
    pairs = []
    for pattern in patterns:
        for src in sorted((root / package).glob(pattern)):
            if src.is_file():
                pairs.append((str(src), src.parent.relative_to(root).as_posix()))
    return pairs


def _is_committable_package(manifest_path: Path) -> bool:
    doc = json.loads(manifest_path.read_text(encoding="utf-8"))
    return not doc.get("quantization", {}).get("forced", False)


def model_packages(exports_dir: Path) -> list[Path]:
    """Folders under ``exports_dir`` holding a manifest.json that is not a ``--force`` package."""
    if not exports_dir.is_dir():
        return []
    return sorted(p.parent for p in exports_dir.glob("*/manifest.json") if _is_committable_package(p))


def model_package_data(package_dir: Path, dest_root: str = "exports") -> list[tuple[str, str]]:
    """``(src, dest_dir)`` pairs for one model package: its manifest and every listed file that
    belongs in the repo (an fp32 file marked ``in_repo: false`` stays out: the app never loads it)."""
    manifest = package_dir / "manifest.json"
    doc = json.loads(manifest.read_text(encoding="utf-8"))
    dest = f"{dest_root}/{package_dir.name}"
    pairs = [(str(manifest), dest)]
    for key, entry in doc.get("files", {}).items():
        if not entry.get("in_repo", True):
            continue
        src = package_dir / entry["path"]
        if not src.is_file():
            raise FileNotFoundError(f"{src}: listed as '{key}' in {manifest} but missing; cannot bundle it")
        pairs.append((str(src), str(PurePosixPath(dest) / PurePosixPath(entry["path"]).parent)))
    return pairs


@dataclass
class BundlePlan:
    """Everything the spec hands PyInstaller, computed from the source tree."""

    root: Path
    entry_script: Path
    hiddenimports: list[str] = field(default_factory=list)
    excludes: list[str] = field(default_factory=list)
    datas: list[tuple[str, str]] = field(default_factory=list)
    runtime_hooks: list[str] = field(default_factory=list)
    model_package: Path | None = None


def plan(root: Path, default_model: str | None = None,
         installed_qt: Iterable[str] | None = None) -> BundlePlan:
    """The bundle's plan for the repo at ``root``.

    ``default_model`` names the package folder under exports/ to bundle; without it the only package
    there is used (several packages and no name is an error, so the choice is never silent).
    """
    root = Path(root)
    packages = model_packages(root / "exports")
    if default_model:
        chosen = [p for p in packages if p.name == default_model]
        if not chosen:
            raise FileNotFoundError(f"{root / 'exports' / default_model}: no model package there to bundle")
    elif len(packages) > 1:
        raise ValueError("exports/ holds several model packages (" + ", ".join(p.name for p in packages)
                         + "); set CEUSDESK_DEFAULT_MODEL to the one to bundle")
    else:
        chosen = packages
    datas = package_data(root)
    for package in chosen:
        datas += model_package_data(package)
    installed = pyside6_installed_modules() if installed_qt is None else list(installed_qt)
    used = pyside6_modules_imported(root / "ceusdesk")
    return BundlePlan(
        root=root,
        entry_script=root / "packaging" / "ceusdesk_entry.py",
        hiddenimports=package_modules(root / "ceusdesk") + [
            # pydicom finds its pixel decoders by name, pylibjpeg its plugins by entry point
            "pydicom.pixels.decoders.pylibjpeg", "pydicom.pixels.decoders.pillow",
            "pylibjpeg", "libjpeg", "openjpeg", "rle",
        ],
        excludes=list(NEVER_BUNDLED) + qt_modules_excluded(installed, used),
        datas=datas,
        runtime_hooks=[str(root / "packaging" / "rthooks" / name)
                       for name in ("pyi_rth_ceusdesk.py", "pyi_rth_qt_standins.py")],
        model_package=chosen[0] if chosen else None,
    )


# distributions whose metadata must travel: pylibjpeg discovers its decoders through entry points
METADATA_DISTRIBUTIONS = ("pylibjpeg", "pylibjpeg-libjpeg", "pylibjpeg-openjpeg", "pylibjpeg-rle", "pydicom")
