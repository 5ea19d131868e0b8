"""Bad input files, written from good ones: each kind a review fed to inspect (issue 12, section 4).

Every writer takes a folder and returns the path it wrote. DICOM variants start from a tiny clip of
conftest's writer (or a real file) and change its bytes or tags, so the rest of the file stays valid.
"""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGBaseline8Bit, RLELossless

PIXEL_DATA_LE = b"\xe0\x7f\x10\x00"  # (7FE0,0010) little endian


def tag_edit(src: Path, dst: Path, **tags: object) -> Path:
    """``src`` with header tags set (None deletes one), written without checks as a scanner bug would."""
    ds = dcmread(src)
    for keyword, value in tags.items():
        if value is None:
            if keyword in ds:
                delattr(ds, keyword)
        else:
            setattr(ds, keyword, value)
    ds.save_as(dst, enforce_file_format=False)
    return dst


def cut_after_pixel_tag(src: Path, dst: Path) -> Path:
    """The file cut 4 bytes after the Pixel Data tag: the element's header is incomplete."""
    data = src.read_bytes()
    pos = data.rfind(PIXEL_DATA_LE)
    dst.write_bytes(data[: pos + 8])
    return dst


def deep_sequence(src: Path, dst: Path, depth: int = 5000) -> Path:
    """``src`` with a sequence nested ``depth`` deep (undefined lengths) before the pixel data."""
    data = src.read_bytes()
    pos = data.rfind(PIXEL_DATA_LE)
    # (0040,A730) Content Sequence, explicit VR little endian, undefined length; items undefined too
    opening = b"\x40\x00\x30\xa7SQ\x00\x00\xff\xff\xff\xff" + b"\xfe\xff\x00\xe0\xff\xff\xff\xff"
    closing = b"\xfe\xff\x0d\xe0\x00\x00\x00\x00" + b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
    dst.write_bytes(data[:pos] + opening * depth + closing * depth + data[pos:])
    return dst


def flip_bytes(src: Path, dst: Path, rng: np.random.Generator) -> Path:
    """``src`` with 1-4 random bytes replaced by random values."""
    data = bytearray(src.read_bytes())
    for _ in range(int(rng.integers(1, 5))):
        data[int(rng.integers(0, len(data)))] = int(rng.integers(0, 256))
    dst.write_bytes(bytes(data))
    return dst


def truncate(src: Path, dst: Path, rng: np.random.Generator) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(rng.integers(0, len(data)))])
    return dst


def huge_png(dst: Path, side: int = 20000, full: bool = False) -> Path:
    """A grey PNG of side² pixels. Without ``full`` only the first rows are stored (the header is what
    a reader must check; a whole one takes seconds to write)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    comp = zlib.compressobj(1)
    row = b"\x00" * (side + 1)
    rows = side if full else 16
    body = b"".join(comp.compress(row * min(256, rows - r)) for r in range(0, rows, 256)) + comp.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    dst.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b""))
    return dst


def rle_frame_of_zeros(rows: int, cols: int) -> bytes:
    """One RLE Lossless frame (one segment) of a zero 8-bit grey image, built without the image."""
    n = rows * cols
    runs, last = divmod(n, 128)
    seg = b"\x81\x00" * runs + (bytes([257 - last, 0]) if last > 1 else b"\x00\x00" if last else b"")
    header = struct.pack("<16L", 1, 64, *([0] * 14))
    return header + seg + (b"\x00" if len(seg) % 2 else b"")


def huge_frame_dicom(src: Path, dst: Path, side: int = 20000) -> Path:
    """``src`` turned into one side² grey RLE frame (a few MB on disk, side² bytes once decoded)."""
    ds = dcmread(src)
    ds.file_meta.TransferSyntaxUID = RLELossless
    ds.Rows = ds.Columns = side
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.NumberOfFrames = 1
    for kw in ("PlanarConfiguration", "SequenceOfUltrasoundRegions", "FrameTime", "FrameIncrementPointer"):
        if kw in ds:
            delattr(ds, kw)
    ds.PixelData = encapsulate([rle_frame_of_zeros(side, side)])
    ds["PixelData"].VR = "OB"
    ds.save_as(dst, enforce_file_format=False)
    return dst


def jpeg_clip(src: Path, dst: Path, fragments: list[bytes]) -> Path:
    """``src`` as JPEG Baseline with the given bytes as its frames (garbage, or a JPEG of another size)."""
    ds = dcmread(src)
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.NumberOfFrames = len(fragments)
    ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.PixelData = encapsulate(fragments)
    ds["PixelData"].VR = "OB"
    if "FrameTime" in ds:
        ds.FrameTime = 1000.0
    ds.save_as(dst, enforce_file_format=False)
    return dst


def jpeg_bytes(rows: int, cols: int) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", np.full((rows, cols, 3), 90, np.uint8))
    assert ok
    return buf.tobytes()


def native_variant(src: Path, dst: Path, *, bits: int, spp: int, photometric: str,
                   stored: int | None = None) -> Path:
    """``src`` re-declared with other sample formats and pixel bytes of the matching size."""
    ds = dcmread(src)
    n = int(ds.get("NumberOfFrames") or 1)
    ds.BitsAllocated = bits
    ds.BitsStored = stored or bits
    ds.HighBit = (stored or bits) - 1
    ds.SamplesPerPixel = spp
    ds.PhotometricInterpretation = photometric
    if spp == 1 and "PlanarConfiguration" in ds:
        del ds.PlanarConfiguration
    elif spp > 1:
        ds.PlanarConfiguration = 0
    size = (ds.Rows * ds.Columns * spp * n * bits + 7) // 8
    rng = np.random.default_rng(0)
    ds.PixelData = rng.integers(0, 256, size + size % 2, dtype=np.uint8).tobytes()
    ds.save_as(dst, enforce_file_format=False)
    return dst


def special_files(folder: Path) -> list[Path]:
    """A symlink to /dev/zero, a FIFO and a self-referencing symlink, all named ``*.dcm``."""
    folder.mkdir(parents=True, exist_ok=True)
    zero, fifo, loop = folder / "zero.dcm", folder / "pipe.dcm", folder / "loop.dcm"
    os.symlink("/dev/zero", zero)
    os.mkfifo(fifo)
    os.symlink(loop, loop)
    return [zero, fifo, loop]


def regions_free(ds: Dataset) -> Dataset:
    if "SequenceOfUltrasoundRegions" in ds:
        del ds.SequenceOfUltrasoundRegions
    return ds
