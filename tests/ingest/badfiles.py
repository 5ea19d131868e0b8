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


def codestream_bomb(src: Path, dst: Path, frame: int, side: int = 20000) -> Path:
    """``src`` (JPEG or JPEG 2000) with one frame's codestream header claiming ``side`` x ``side``
    (JPEG SOF, J2K SIZ); Rows/Columns and every other byte stay as they were."""
    from pydicom.encaps import generate_frames

    ds = dcmread(src)
    n = int(ds.get("NumberOfFrames") or 1)
    frames = [bytearray(f) for f in generate_frames(ds.PixelData, number_of_frames=n)]
    f = frames[frame]
    if f[:2] == b"\xff\xd8":
        at = next(i for i in range(2, len(f) - 1) if f[i] == 0xFF and f[i + 1] in (0xC0, 0xC1, 0xC2))
        f[at + 5:at + 9] = struct.pack(">HH", side, side)
    else:  # J2K: SOC, SIZ (marker, Lsiz, Rsiz, then Xsiz, Ysiz)
        f[8:16] = struct.pack(">2L", side, side)
    ds.PixelData = encapsulate([bytes(x) for x in frames])
    ds.save_as(dst, enforce_file_format=False)
    return dst


def deflate_bomb(src: Path, dst: Path, inflated: int) -> Path:
    """A Deflated Explicit VR Little Endian file: ``src``'s header, then a Pixel Data element of
    ``inflated`` zero bytes, compressed to about 1/1000 of that."""
    from io import BytesIO

    from pydicom import dcmwrite

    ds = dcmread(src, stop_before_pixels=True)
    del ds.file_meta
    body = BytesIO()
    dcmwrite(body, ds, implicit_vr=False, little_endian=True, enforce_file_format=False)
    meta = Dataset()
    meta.TransferSyntaxUID = "1.2.840.10008.1.2.1.99"
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    from pydicom.dataset import FileMetaDataset
    from pydicom.filewriter import write_file_meta_info

    head = BytesIO()
    head.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(head, FileMetaDataset(meta), enforce_standard=True)
    zipper = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    with dst.open("wb") as out:
        out.write(head.getvalue())
        out.write(zipper.compress(body.getvalue() + PIXEL_DATA_LE + b"OB\0\0" + struct.pack("<L", inflated)))
        zeros = bytes(1 << 24)
        for _ in range(inflated >> 24):
            out.write(zipper.compress(zeros))
        out.write(zipper.flush())
    return dst


def long_frame_time_vector(src: Path, dst: Path, entries: int) -> Path:
    """``src`` as implicit VR (4-byte lengths) with a Frame Time Vector of ``entries`` values (6 MB of
    text for 2 million): written raw, since pydicom would hold them as 2 million Python objects."""
    from io import BytesIO

    from pydicom import dcmwrite

    ds = dcmread(src)
    ds.pop("FrameTimeVector", None)
    pixels = ds.PixelData
    del ds.PixelData
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2"
    buf = BytesIO()
    dcmwrite(buf, ds, implicit_vr=True, little_endian=True, enforce_file_format=True)
    value = b"\\".join([b"33"] * entries)
    value += b" " * (len(value) % 2)
    ftv = struct.pack("<HHL", 0x0018, 0x1065, len(value)) + value
    data = buf.getvalue()
    # elements must stay in tag order: (0018,1065) goes before the first tag after it
    at = _first_tag_after(data, 132 + 12 + struct.unpack("<L", data[140:144])[0], (0x0018, 0x1065))
    pix = struct.pack("<HHL", 0x7FE0, 0x0010, len(pixels)) + pixels
    dst.write_bytes(data[:at] + ftv + data[at:] + pix)
    return dst


def _first_tag_after(data: bytes, pos: int, tag: tuple[int, int]) -> int:
    """Offset of the first implicit-VR top-level element at or after ``pos`` whose tag is above ``tag``."""
    while pos + 8 <= len(data):
        group, elem, length = struct.unpack("<HHL", data[pos:pos + 8])
        if (group, elem) > tag:
            return pos
        if length == 0xFFFFFFFF:
            raise ValueError("undefined-length element before the Frame Time Vector")
        pos += 8 + length
    return pos
