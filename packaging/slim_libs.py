"""Slim stand-ins for big libraries the bundle must load but ceusdesk never uses (Linux builds).

The folder budget (400 MB with the model) is not reachable by leaving files out: the libraries below
are link-time dependencies (``DT_NEEDED``) of modules ceusdesk does use, so the loader insists on a file
with their name. What ceusdesk never calls in them can still go, by putting a small library with the
same name and the same exported symbols in their place:

- **OpenCV's OpenBLAS** (``opencv_python_headless.libs/libopenblas*``, ~39 MB, + its gfortran and
  quadmath ~3 MB): cv2 uses it only for linear algebra (``cv2.solve``, ``cv2.SVDecomp``, ``cv2.gemm``
  on big matrices, calibration, DNN). ceusdesk calls none of these (see :data:`CV2_CALLS_WITHOUT_BLAS`,
  enforced by a test). The stand-in's functions print one line naming the function and abort, so a
  future call can never compute a wrong result silently. numpy keeps its own OpenBLAS.
- **libaom** (AV1, ~8 MB, needed only by cv2's AVIF image codec) and **libvpx** (VP8/VP9 encoders and
  decoders, ~4 MB; FFmpeg's own VP8/VP9 decoders stay): the stand-ins answer every call with the
  codec library's "incapable" error code, so opening such a file fails the normal way (cv2.imread
  returns None, VideoCapture does not open) and ceusdesk reports it unreadable. Ultrasound clips are
  MPEG-4/H.264/MJPEG/MPEG-2; AV1 images and VP8/VP9 files never come from a scanner.
- **ICU's data** (``PySide6/Qt/lib/libicudata.so.*``, 32 MB): Qt calls ICU only for converters,
  collation, case mapping and time zone names. The copy keeps those and drops the data trees no ICU
  function Qt calls ever opens (:data:`ICU_TREES_DROPPED`, ~14 MB).

Each stand-in is built with the C compiler at bundle time from the library actually collected: a
stand-in that does not define every symbol the bundle's other binaries import from the original, or any
build problem, keeps the original and says so (the size check then tells whether the budget still holds).
Needs gcc and binutils (nm); Linux only.
"""
from __future__ import annotations

import fnmatch
import logging
import shutil
import struct
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

log = logging.getLogger("slim_libs")
HERE = Path(__file__).resolve().parent

# The cv2 functions and classes ceusdesk may call: none of them reaches OpenBLAS, libaom or libvpx
# (image filtering, colour conversion, template matching by DFT, drawing, FFmpeg video I/O with the
# MJPG/MPEG-4/H.264 codecs FFmpeg implements itself). tests/packaging checks ceusdesk against this list;
# adding a cv2 call means checking it does not need linear algebra, then adding it here.
CV2_CALLS_WITHOUT_BLAS = frozenset({
    "resize", "cvtColor", "GaussianBlur", "matchTemplate", "minMaxLoc", "putText", "imread", "imwrite",
    "imdecode", "imencode", "VideoCapture", "VideoWriter", "VideoWriter_fourcc", "rectangle", "line",
    "circle", "getTextSize", "medianBlur", "blur", "normalize", "convertScaleAbs", "absdiff", "addWeighted",
    "setNumThreads", "getNumThreads", "erode", "morphologyEx", "fillPoly", "remap",
})

ICU_TREES_DROPPED = {
    "brkitr": "break iterators and their dictionaries (Qt finds word/line breaks itself)",
    "unit": "measurement unit names (Qt formats no units through ICU)",
    "curr": "currency names (QLocale has its own CLDR data)",
    "lang": "language display names (QLocale has its own)",
    "translit": "transliterators",
    "rbnf": "spelled-out number rules",
}

MESSAGE = ("ceusdesk bundle: {lib} was replaced by a stand-in because ceusdesk never needs it "
           "(docs/it-guide.md, 'What is inside'); it was called anyway ({symbol})")


@dataclass(frozen=True)
class StubRule:
    """A library replaced by a stand-in: ``pattern`` matches its bundle path (fnmatch)."""

    pattern: str
    what: str
    source: str | None  # packaging/stubs/<source> (hand-written), or None: generated, every call aborts
    why: str
    cflags: tuple[str, ...] = ()


STUB_RULES = (
    StubRule("opencv_python_headless.libs/libopenblas*", "OpenCV's OpenBLAS", None,
             "linear algebra in cv2 only (solve, SVD, gemm, calibration, DNN): ceusdesk calls none"),
    StubRule("opencv_python_headless.libs/libaom-*", "libaom (AV1)", "codec_stub.c",
             "only cv2's AVIF image codec uses it: AVIF files then read as unreadable", ("-DPREFIX=aom_",)),
    StubRule("opencv_python_headless.libs/libvpx-*", "libvpx (VP8/VP9)", "codec_stub.c",
             "VP8/VP9 encoding and the libvpx decoders: FFmpeg's own VP8/VP9 decoders remain",
             ("-DPREFIX=vpx_",)),
)


def _run(*cmd: str) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def defined_symbols(lib: str | Path) -> set[str]:
    """Dynamic symbols ``lib`` exports (``nm -D --defined-only``), version suffixes removed."""
    out = _run("nm", "-D", "--defined-only", str(lib))
    return {line.split()[-1].split("@")[0] for line in out.splitlines() if len(line.split()) >= 3}


def undefined_symbols(lib: str | Path) -> set[str]:
    """Dynamic symbols ``lib`` imports (``nm -D --undefined-only``), version suffixes removed."""
    out = _run("nm", "-D", "--undefined-only", str(lib))
    return {line.split()[-1].split("@")[0] for line in out.splitlines() if line.split()}


def soname(lib: str | Path) -> str:
    """``DT_SONAME`` of ``lib`` (its file name when it has none)."""
    for line in _run("readelf", "-d", "-W", str(lib)).splitlines():
        if "(SONAME)" in line:
            return line.split("[", 1)[1].rstrip("]")
    return Path(lib).name


def imported_from(original: str | Path, consumers: Iterable[str | Path]) -> set[str]:
    """Symbols that ``consumers`` import and ``original`` defines: what a stand-in must define."""
    wanted: set[str] = set()
    for consumer in consumers:
        wanted |= undefined_symbols(consumer)
    return wanted & defined_symbols(original)


def abort_stub_source(symbols: Iterable[str], lib: str) -> str:
    """C source defining each of ``symbols`` as a function that prints which one was called and aborts."""
    lines = ["#include <stdio.h>", "#include <stdlib.h>",
             "static void die(const char *symbol) {",
             f'  fprintf(stderr, "{MESSAGE.format(lib=lib, symbol="%s")}\\n", symbol);',
             "  abort();", "}"]
    for name in sorted(symbols):
        lines.append(f'void {name}(void) {{ die("{name}"); }}')
    return "\n".join(lines) + "\n"


def compile_library(source: str, soname_: str, out: Path, extra: Iterable[str] = ()) -> Path:
    """``gcc -shared`` ``source`` (C text) into ``out`` with DT_SONAME ``soname_``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    c_file = out.with_suffix(out.suffix + ".c")
    c_file.write_text(source, encoding="utf-8")
    subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-s", f"-Wl,-soname,{soname_}", "-o", str(out),
                    str(c_file), *extra], check=True, capture_output=True, text=True)
    return out


def build_stub(rule: StubRule, original: Path, consumers: list[str], out_dir: Path) -> Path:
    """The stand-in for ``original``; raises when it cannot replace it (a symbol missing…)."""
    needed = imported_from(original, consumers)
    out = out_dir / original.name
    if rule.source is None:
        source = abort_stub_source(needed, rule.what)
    else:
        source = (HERE / "stubs" / rule.source).read_text(encoding="utf-8")
    compile_library(source, soname(original), out, rule.cflags)
    missing = needed - defined_symbols(out)
    if missing:
        raise RuntimeError(f"stand-in for {original.name} lacks {', '.join(sorted(missing))}")
    return out


# --- ICU data -------------------------------------------------------------------------------------

def elf_symbol_bytes(lib: Path, prefix: str) -> tuple[str, bytes]:
    """Name and content of the first dynamic data symbol of ``lib`` whose name starts with ``prefix``.

    Reads the ELF64 little-endian section headers, ``.dynsym`` and ``.dynstr`` directly.
    """
    data = lib.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError(f"{lib}: not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    for sh in sections:
        if sh[1] != 11:  # SHT_DYNSYM
            continue
        strtab = sections[sh[6]]
        for off in range(sh[4], sh[4] + sh[5], sh[9]):
            st_name, _info, _other, shndx, value, size = struct.unpack_from("<IBBHQQ", data, off)
            start = strtab[4] + st_name
            name = data[start:data.index(b"\0", start)].decode()
            if name.startswith(prefix) and 0 < shndx < shnum:
                home = sections[shndx]
                file_off = value - home[3] + home[4]
                return name, data[file_off:file_off + size]
    raise ValueError(f"{lib}: no dynamic symbol {prefix}*")


def icu_items(blob: bytes) -> tuple[int, list[tuple[str, bytes]]]:
    """``(header size, [(item name, item bytes)…])`` of an ICU common data package (``CmnD``)."""
    header, = struct.unpack_from("<H", blob, 0)
    if blob[2:4] != b"\xda\x27" or blob[12:16] != b"CmnD":
        raise ValueError("not an ICU common data package")
    count, = struct.unpack_from("<I", blob, header)
    toc = [struct.unpack_from("<II", blob, header + 4 + 8 * i) for i in range(count)]
    starts = [header + data_off for _name_off, data_off in toc] + [len(blob)]
    items = []
    for i, (name_off, _data_off) in enumerate(toc):
        name_start = header + name_off
        name = blob[name_start:blob.index(b"\0", name_start)].decode("ascii")
        items.append((name, blob[starts[i]:starts[i + 1]]))
    return header, items


def icu_package(header: bytes, items: list[tuple[str, bytes]]) -> bytes:
    """An ICU common data package from ``header`` and ``items`` (kept in the given, sorted, order).

    Layout as ICU's pkgdata writes it: header, item count, (name, data) offsets from the table's
    start, the names, then each item on a 16-byte boundary.
    """
    names = b"".join(name.encode("ascii") + b"\0" for name, _ in items)
    table = 4 + 8 * len(items)
    name_offs, pos = [], table
    for name, _ in items:
        name_offs.append(pos)
        pos += len(name) + 1
    first = -(-(len(header) + pos) // 16) * 16 - len(header)  # first item's offset, 16-byte aligned
    body, data_offs = bytearray(), []
    for _name, item in items:
        data_offs.append(first + len(body))
        body += item
        body += b"\xaa" * (-len(body) % 16)
    out = bytearray(header)
    out += struct.pack("<I", len(items))
    for n_off, d_off in zip(name_offs, data_offs, strict=True):
        out += struct.pack("<II", n_off, d_off)
    out += names
    out += b"\xaa" * (len(header) + first - len(out))  # pkgdata pads with 0xaa
    out += body
    return bytes(out)


def icu_subset(blob: bytes, dropped_trees: Iterable[str] = ICU_TREES_DROPPED) -> bytes:
    """``blob`` without the items under the named trees (``icudt73l/brkitr/…``)."""
    header, items = icu_items(blob)
    dropped = set(dropped_trees)
    kept = [(name, item) for name, item in items
            if not (name.count("/") >= 2 and name.split("/")[1] in dropped)]
    return icu_package(blob[:header], kept)


def build_icu_data(original: Path, out_dir: Path) -> Path:
    """A copy of ``libicudata.so.NN`` holding :func:`icu_subset` of its data, same soname and symbol."""
    symbol, blob = elf_symbol_bytes(original, "icudt")
    out = out_dir / original.name
    out.parent.mkdir(parents=True, exist_ok=True)
    dat = out.with_suffix(out.suffix + ".dat")
    dat.write_bytes(icu_subset(blob))
    asm = out.with_suffix(out.suffix + ".S")
    asm.write_text(f'.section .rodata\n.globl {symbol}\n.type {symbol}, @object\n.balign 16\n{symbol}:\n'
                   f'.incbin "{dat}"\n.size {symbol}, . - {symbol}\n'
                   '.section .note.GNU-stack,"",@progbits\n', encoding="utf-8")
    subprocess.run(["gcc", "-shared", "-nostdlib", f"-Wl,-soname,{soname(original)}", "-o", str(out),
                    str(asm)], check=True, capture_output=True, text=True)
    return out


# --- wiring into the spec --------------------------------------------------------------------------

def _dest(entry: tuple[str, str, str]) -> str:
    return entry[0].replace("\\", "/")


def slim(toc: Iterable[tuple[str, str, str]], out_dir: Path,
         needed: Callable[[str], Iterable[str]]) -> tuple[list[tuple[str, str, str]], list[str], list[str]]:
    """``toc`` with the stand-ins of :data:`STUB_RULES` and the ICU data subset in place.

    ``needed(src)`` names the libraries ``src`` links against (to find who imports from a library).
    Returns the new TOC, one line per library saying what was done (or why it was kept), and the
    source paths of the originals that were replaced.
    """
    toc = list(toc)
    notes: list[str] = []
    replaced: list[str] = []
    if not (shutil.which("gcc") and shutil.which("nm") and shutil.which("readelf")):
        return toc, ["slim_libs: gcc/binutils not found; every library is bundled as it is"], replaced
    for i, entry in enumerate(toc):
        dest, src, typecode = entry
        if typecode == "SYMLINK" or not Path(src).is_file():
            continue
        path = _dest(entry)
        try:
            if fnmatch.fnmatch(PurePosixPath(path).name, "libicudata.so.*") and "PySide6/" in path:
                new = build_icu_data(Path(src), out_dir / "icu")
                notes.append(f"slim_libs: {path}: ICU data without {', '.join(ICU_TREES_DROPPED)} "
                             f"({Path(src).stat().st_size / 1e6:.1f} -> {new.stat().st_size / 1e6:.1f} MB)")
                toc[i] = (dest, str(new), typecode)
                replaced.append(src)
                continue
            rule = next((r for r in STUB_RULES if fnmatch.fnmatch(path, r.pattern)), None)
            if rule is None:
                continue
            name = PurePosixPath(path).name
            consumers = [e[1] for e in toc if e[2] != "SYMLINK" and Path(e[1]).is_file()
                         and name in {PurePosixPath(n).name for n in needed(e[1])}]
            new = build_stub(rule, Path(src), consumers, out_dir / "stubs")
            sizes = f"{Path(src).stat().st_size / 1e6:.1f} -> {new.stat().st_size / 1e6:.2f} MB"
            notes.append(f"slim_libs: {path}: stand-in for {rule.what} ({sizes}): {rule.why}")
            toc[i] = (dest, str(new), typecode)
            replaced.append(src)
        except (OSError, ValueError, RuntimeError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", "") or exc
            notes.append(f"slim_libs: WARNING {path} kept as it is: {str(detail).strip()[:300]}")
    return toc, notes, replaced


def direct_needed(lib: str | Path) -> list[str]:
    """The ``DT_NEEDED`` names of ``lib`` (what it links against itself, not what those link against).

    PyInstaller's ``get_imports`` runs ``ldd``, which lists the whole tree as the *original* files
    resolve it - an original's own dependencies (OpenBLAS's gfortran) would look needed by its users.
    """
    out = _run("readelf", "-d", "-W", str(lib))
    return [line.split("[", 1)[1].rstrip("]") for line in out.splitlines() if "(NEEDED)" in line]


def needed_without(originals: Iterable[str],
                   needed: Callable[[str], Iterable[str]]) -> Callable[[str], list[str]]:
    """``needed`` (PyInstaller's ldd-based list) less what only the replaced ``originals`` brought in.

    ldd resolves a binary's whole tree through the original files, so OpenCV's gfortran looks needed by
    cv2 itself; a name that some replaced original needs is kept only where the binary links it directly.
    """
    gone = {PurePosixPath(n).name for original in originals for n in needed(original)}

    def without(src: str) -> list[str]:
        names = list(needed(src))
        if not gone:
            return names
        direct = set(direct_needed(src))
        return [n for n in names if PurePosixPath(n).name not in gone or PurePosixPath(n).name in direct]

    return without
