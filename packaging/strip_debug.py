"""Strip debug sections from the bundle's ELF files that carry them (Linux builds).

    python packaging/strip_debug.py dist/ceusdesk

Only files with ``.debug_*`` sections are touched, and only those sections go (``strip --strip-debug``):
the interpreter from pyenv and some wheels ship full debug info (libpython alone ~17 MB of it).
Libraries patched by auditwheel carry none, so they are never rewritten - stripping those can corrupt
them. Needs binutils (readelf, strip); without them nothing is changed and the script says so.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ELF_MAGIC = b"\x7fELF"


def is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == ELF_MAGIC
    except OSError:
        return False


def has_debug_sections(path: Path) -> bool:
    out = subprocess.run(["readelf", "-S", "--wide", str(path)], capture_output=True, text=True, check=True)
    return ".debug_" in out.stdout


def debug_files(folder: Path) -> list[Path]:
    """Regular ELF files under ``folder`` that carry debug sections (symbolic links skipped)."""
    return [p for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.is_symlink() and is_elf(p) and has_debug_sections(p)]


def strip_debug(folder: Path) -> int:
    """Strip the debug sections under ``folder``; returns the bytes saved."""
    saved = 0
    for path in debug_files(folder):
        before = path.stat().st_size
        subprocess.run(["strip", "--strip-debug", str(path)], check=True)
        saved += before - path.stat().st_size
    return saved


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: strip_debug.py FOLDER", file=sys.stderr)
        return 2
    if not (shutil.which("readelf") and shutil.which("strip")):
        print("strip_debug: binutils not found; the bundle keeps its debug sections", file=sys.stderr)
        return 0
    saved = strip_debug(Path(args[0]))
    print(f"strip_debug: {saved / 1e6:.1f} MB of debug sections removed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
