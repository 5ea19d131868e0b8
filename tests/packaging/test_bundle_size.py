"""The bundle's size budget (400 MB with the model) and the functions that measure and shrink it."""
import os
import shutil
import subprocess

import pytest


def test_tree_size_counts_hard_links_once_and_links_as_links(bundle_size, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "big.bin").write_bytes(b"x" * 5000)
    (tmp_path / "small.txt").write_bytes(b"y" * 100)
    os.link(tmp_path / "a" / "big.bin", tmp_path / "hard.bin")
    (tmp_path / "link.so").symlink_to(tmp_path / "a" / "big.bin")
    link_size = os.lstat(tmp_path / "link.so").st_size
    assert bundle_size.tree_size(tmp_path) == 5000 + 100 + link_size


def test_largest_groups_by_folder(bundle_size, tmp_path):
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "sub" / "x").write_bytes(b"1" * 300)
    (tmp_path / "pkg" / "sub" / "y").write_bytes(b"1" * 200)
    (tmp_path / "top").write_bytes(b"1" * 400)
    assert bundle_size.largest(tmp_path, top=2, depth=1) == [(500, "pkg/"), (400, "top")]


def test_budget_verdict_and_exit_codes(bundle_size, tmp_path, capsys):
    (tmp_path / "f").write_bytes(b"z" * 2_000_000)
    assert bundle_size.within_budget(400_000_000) and not bundle_size.within_budget(400_000_001)
    assert bundle_size.main([str(tmp_path), "--budget-mb", "3"]) == 0
    assert bundle_size.main([str(tmp_path), "--budget-mb", "1"]) == 1
    assert "OVER the 1 MB budget" in capsys.readouterr().out
    assert bundle_size.main([str(tmp_path / "missing")]) == 2


@pytest.mark.skipif(not (shutil.which("gcc") and shutil.which("strip") and shutil.which("readelf")),
                    reason="needs gcc and binutils")
def test_strip_debug_removes_only_debug_sections(strip_debug, tmp_path):
    src = tmp_path / "m.c"
    src.write_text("int answer(void) { return 42; }\n")
    lib = tmp_path / "libm42.so"
    subprocess.run(["gcc", "-g", "-shared", "-fPIC", "-o", str(lib), str(src)], check=True)
    (tmp_path / "notes.txt").write_text("not an ELF file")
    assert strip_debug.debug_files(tmp_path) == [lib]
    before = lib.stat().st_size
    assert strip_debug.strip_debug(tmp_path) == before - lib.stat().st_size > 0
    assert strip_debug.debug_files(tmp_path) == []
    symbols = subprocess.run(["nm", "-D", str(lib)], capture_output=True, text=True, check=True).stdout
    assert "answer" in symbols  # the exported symbol survives: only debug info went
