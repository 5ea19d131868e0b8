"""The bundle's stand-in libraries (packaging/slim_libs.py): they change nothing ceusdesk does.

Each stand-in is built from the libraries of this environment's wheels (the same the bundle collects)
and preloaded into a fresh interpreter (the loader then takes it for the original, as in the bundle);
the probe's output must match the one with the originals. Linux with gcc and binutils only.
"""
import ast
import fnmatch
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("slim_probe.py")
pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not all(shutil.which(t) for t in ("gcc", "nm", "readelf")),
    reason="stand-ins are built on Linux with gcc and binutils")


@pytest.fixture(scope="session")
def slim():
    from tests.packaging.conftest import load

    return load("slim_libs")


def site_packages() -> Path:
    import cv2

    return Path(cv2.__file__).resolve().parents[1]


def probe(mode: str, folder: Path, preload: list[Path] = ()) -> subprocess.CompletedProcess:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    if preload:
        env["LD_PRELOAD"] = ":".join(str(p) for p in preload)
    return subprocess.run([sys.executable, str(PROBE), mode, str(folder)], capture_output=True, text=True,
                          timeout=120, env=env)


@pytest.fixture(scope="session")
def cv2_stubs(slim, tmp_path_factory) -> list[Path]:
    libs = site_packages() / "opencv_python_headless.libs"
    consumers = [str(site_packages() / "cv2" / "cv2.abi3.so")] + [str(p) for p in libs.iterdir()]
    out = tmp_path_factory.mktemp("stubs")
    stubs = []
    for rule in slim.STUB_RULES:
        original = next(p for p in libs.iterdir() if fnmatch.fnmatch(f"{libs.name}/{p.name}", rule.pattern))
        stub = slim.build_stub(rule, original, [c for c in consumers if c != str(original)], out)
        assert stub.stat().st_size < 100_000 < original.stat().st_size
        stubs.append(stub)
    return stubs


def test_ceusdesk_cv2_work_is_unchanged_by_the_stand_ins(cv2_stubs, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    original, stubbed = probe("cv2_ops", tmp_path / "a"), probe("cv2_ops", tmp_path / "b", cv2_stubs)
    assert original.returncode == 0, original.stderr[-1500:]
    assert stubbed.returncode == 0, stubbed.stderr[-1500:]
    assert stubbed.stdout == original.stdout
    assert "('.avi', [" in stubbed.stdout and "('.mp4', [" in stubbed.stdout


def test_vp8_still_decodes_and_avif_is_refused_cleanly(cv2_stubs, tmp_path):
    written = probe("cv2_write_exotic", tmp_path)  # with the real libvpx and libaom
    assert written.returncode == 0, written.stderr[-1500:]
    if "('vp8 writer', True)" not in written.stdout or "('avif written', True)" not in written.stdout:
        pytest.skip(f"this OpenCV cannot write VP8/AVIF to test with: {written.stdout}")
    stubbed = probe("cv2_exotic", tmp_path, cv2_stubs)
    assert stubbed.returncode == 0, stubbed.stderr[-1500:]
    # FFmpeg's own VP8 decoder reads the clip; the AVIF still reads as unreadable (None), no crash
    assert stubbed.stdout.strip() == "[('vp8 frames', 4), ('avif read', False)]"


def test_a_blas_call_stops_with_a_line_naming_it(cv2_stubs, tmp_path):
    proc = probe("cv2_blas", tmp_path, cv2_stubs)
    assert proc.returncode != 0 and not proc.stdout
    assert "OpenCV's OpenBLAS was replaced by a stand-in" in proc.stderr and "gemm" in proc.stderr


def test_ceusdesk_calls_only_cv2_functions_that_need_no_blas(slim):
    """A new cv2 call in ceusdesk must be checked against the stand-ins, then listed in slim_libs."""
    called = set()
    for path in (REPO / "ceusdesk").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            on_cv2 = isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "cv2"
            if on_cv2 and not node.attr.isupper():  # constants (COLOR_BGR2RGB, CAP_PROP_FPS…) are not calls
                called.add(node.attr)
            elif isinstance(node, ast.ImportFrom) and node.module == "cv2":
                called |= {a.name for a in node.names if not a.name.isupper()}
    assert called, "found no cv2 call in ceusdesk: the scan is broken"
    assert called <= slim.CV2_CALLS_WITHOUT_BLAS, sorted(called - slim.CV2_CALLS_WITHOUT_BLAS)


def icu_library() -> Path:
    import PySide6

    found = sorted((Path(PySide6.__file__).parent / "Qt" / "lib").glob("libicudata.so.*"))
    if not found:
        pytest.skip("this PySide6 carries no ICU")
    return found[0]


def test_icu_package_round_trips_byte_for_byte(slim):
    _symbol, blob = slim.elf_symbol_bytes(icu_library(), "icudt")
    header, items = slim.icu_items(blob)
    assert slim.icu_package(blob[:header], items) == blob


def test_icu_subset_drops_only_the_unused_trees(slim):
    _symbol, blob = slim.elf_symbol_bytes(icu_library(), "icudt")
    _h, before = slim.icu_items(blob)
    _h, after = slim.icu_items(slim.icu_subset(blob))
    trees = {name.split("/")[1] for name, _ in after if name.count("/") >= 2}
    assert not trees & set(slim.ICU_TREES_DROPPED)
    assert {"coll", "zone", "region"} <= trees and any(n.endswith(".cnv") for n, _ in after)
    assert len(slim.icu_subset(blob)) < 0.7 * len(blob)
    assert len(after) + sum(1 for n, _ in before if n.split("/")[1] in slim.ICU_TREES_DROPPED) == len(before)


def test_qt_gives_the_same_answers_with_the_icu_subset(slim, tmp_path):
    subset = slim.build_icu_data(icu_library(), tmp_path)
    original, slimmed = probe("qt_icu", tmp_path), probe("qt_icu", tmp_path, [subset])
    assert original.returncode == 0, original.stderr[-1500:]
    assert slimmed.returncode == 0, slimmed.stderr[-1500:]
    assert slimmed.stdout == original.stdout
    assert "Mitteleuropäische Normalzeit" in slimmed.stdout  # locale data really in use


def test_slim_replaces_sources_keeps_destinations_and_falls_back(slim, tmp_path, monkeypatch):
    libs = site_packages() / "opencv_python_headless.libs"
    vpx = next(libs.glob("libvpx-*"))
    avcodec = next(libs.glob("libavcodec-*"))
    toc = [(f"{libs.name}/{vpx.name}", str(vpx), "BINARY"),
           (f"{libs.name}/{avcodec.name}", str(avcodec), "BINARY")]
    linked = {str(avcodec): [vpx.name], str(vpx): []}
    new, notes, replaced = slim.slim(toc, tmp_path, needed=lambda src: linked.get(src, []))
    assert new[0][0] == toc[0][0] and new[0][2] == "BINARY" and Path(new[0][1]).parent == tmp_path / "stubs"
    assert new[1] == toc[1] and "stand-in for libvpx" in notes[0] and replaced == [str(vpx)]
    # a stand-in lacking a symbol the bundle imports is never used: the original stays, with a warning
    wrong = slim.StubRule(f"{libs.name}/libvpx-*", "libvpx", "codec_stub.c", "test", ("-DPREFIX=aom_",))
    monkeypatch.setattr(slim, "STUB_RULES", (wrong,))
    kept, notes, replaced = slim.slim(toc, tmp_path / "again", needed=lambda src: linked.get(src, []))
    assert kept == toc and "WARNING" in notes[0] and "vpx_codec_decode" in notes[0] and not replaced


def test_what_only_a_replaced_original_needed_is_no_longer_needed(slim):
    """ldd lists cv2's tree through the original OpenBLAS; its gfortran must not stay needed by cv2."""
    cv2_so = str(site_packages() / "cv2" / "cv2.abi3.so")
    blas = next((site_packages() / "opencv_python_headless.libs").glob("libopenblas*"))
    ldd = {cv2_so: [blas.name, "libgfortran-x.so.5", "libz.so.1", "libavcodec-y.so"],
           str(blas): ["libgfortran-x.so.5", "libz.so.1"]}
    needed = slim.needed_without([str(blas)], lambda src: ldd.get(src, []))
    # libz stays: cv2 links it itself (DT_NEEDED); gfortran came only through the original
    assert needed(cv2_so) == [blas.name, "libz.so.1", "libavcodec-y.so"]
    assert slim.needed_without([], lambda src: ldd.get(src, []))(cv2_so) == ldd[cv2_so]
