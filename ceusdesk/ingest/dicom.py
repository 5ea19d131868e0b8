"""DICOM headers → :class:`Clip` (timing, identity, regions, truncation), without decoding pixels."""
from __future__ import annotations

import io
import logging
import os
import struct
import zlib
from pathlib import Path

from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from ceusdesk.base.errors import UnreadableInput
from ceusdesk.ingest.limits import MAX_INFLATED_BYTES, Undecodable, frame_size_problem, sample_format_problem
from ceusdesk.ingest.pixeldata import NoPixelData, PixelDataError, frames_present
from ceusdesk.ingest.records import Clip, Region, Warn
from ceusdesk.ingest.timing import acquisition_start, contrast_start, frame_offsets

log = logging.getLogger(__name__)

DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
# Physical Units X/Y Direction (0018,6024/6026): 3 = cm
_UNITS_CM = 3


class NotAnImage(UnreadableInput, ValueError):
    """A valid DICOM object that holds no image (report, structured report, DICOMDIR, ...)."""


class CappedFile(io.BufferedReader):
    """A binary file whose ``read(n)`` never asks for more than what is left in it.

    A corrupt element length (a flipped byte) makes pydicom call ``read(4 GB)``; Python allocates the
    whole request before reading, so one 300 kB file could take gigabytes. Capped, it takes what is there.
    """

    def __init__(self, path: str | os.PathLike[str]):
        super().__init__(io.FileIO(os.fspath(path), "rb"))
        self._end = os.fstat(self.fileno()).st_size

    def read(self, size: int | None = -1) -> bytes:
        if size is not None and size > 0:
            size = min(size, max(0, self._end - self.tell()))
        return super().read(size)


DEFLATED = "1.2.840.10008.1.2.1.99"
JPEG_FAMILY = "1.2.840.10008.1.2.4."  # JPEG, JPEG-LS, JPEG 2000 transfer syntaxes (not RLE, .1.2.5)


def check_inflation(fp: io.BufferedReader, limit: int = MAX_INFLATED_BYTES) -> None:
    """For a Deflated Explicit VR Little Endian file, inflate its dataset in chunks (counting, keeping
    nothing) and refuse it when it grows past ``limit``: pydicom would inflate all of it in memory.
    Other files pass untouched; ``fp`` is left at the start."""
    fp.seek(0)
    head = fp.read(144)
    fp.seek(0)
    if len(head) < 144 or head[128:132] != b"DICM" or head[132:136] != b"\x02\x00\x00\x00":
        return
    (group_length,) = struct.unpack("<L", head[140:144])
    meta = fp.read(144 + min(group_length, 1 << 20))
    fp.seek(0)
    if DEFLATED.encode() not in meta:
        return
    fp.seek(144 + group_length)
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total = 0
    try:
        while chunk := fp.read(1 << 20):
            data = inflater.decompress(chunk, 1 << 24)
            while True:
                total += len(data)
                if total > limit:
                    raise Undecodable(f"its deflated dataset inflates to more than {limit // (1 << 20)} MiB "
                                      "(MAX_INFLATED_BYTES); not read")
                if not inflater.unconsumed_tail:
                    break
                data = inflater.decompress(inflater.unconsumed_tail, 1 << 24)
    except zlib.error:
        pass  # damaged deflate stream: pydicom's own read reports it
    finally:
        fp.seek(0)


def native_frame_bytes(rows: int, cols: int, spp: int, bits: int, photometric: str) -> int:
    """Bytes of one uncompressed frame. YBR_FULL_422 stores two pixels in four samples (Y Y Cb Cr,
    PS3.3 C.7.6.3.1.2): two bytes a pixel at 8 bits, not three."""
    if photometric == "YBR_FULL_422" and spp == 3:
        return rows * (cols + cols % 2) * 2 * bits // 8
    return rows * cols * spp * bits // 8


def _str(ds: Dataset, keyword: str) -> str | None:
    value = ds.get(keyword)
    if isinstance(value, MultiValue):  # a backslash in the value splits it: shown as written, not a list
        value = "\\".join(str(v) for v in value)
    text = "" if value is None else str(value).strip()
    return text or None


def read_header(path: Path, *, force: bool = False) -> tuple[Clip, list[Warn]]:
    """Read one DICOM file's header and check its pixel data is complete.

    ``force`` reads files without the 128-byte preamble and 'DICM' prefix (old exports); such a file
    must still look like an image object (SOP Class UID or Rows) to be accepted.

    Raises
    ------
    InvalidDicomError, OSError, ValueError
        The file is not readable DICOM (the caller turns this into a warning).
    NotAnImage
        The object carries no pixel data.
    """
    warns: list[Warn] = []
    with CappedFile(path) as fp:
        check_inflation(fp)
        ds = dcmread(fp, stop_before_pixels=True, force=force)
        sop_class = _str(ds, "SOPClassUID") or _str(ds.file_meta, "MediaStorageSOPClassUID")
        if sop_class is None and "Rows" not in ds:
            raise InvalidDicomError("no SOP Class UID and no image attributes: damaged or not DICOM")
        if sop_class == DICOMDIR_SOP_CLASS or "DirectoryRecordSequence" in ds:
            raise NotAnImage("a DICOMDIR (an index of the files, not an image)")
        rows, cols = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
        if not rows or not cols:
            name = UID(sop_class).name if sop_class else "unknown SOP class"
            raise NotAnImage(f"a DICOM object without an image ({name})")
        raw_frames = ds.get("NumberOfFrames")
        n_frames = int(raw_frames) if raw_frames not in (None, "") else 1
        if n_frames <= 0:
            raise NotAnImage("Number of Frames is 0: the clip holds no frames")
        transfer = transfer_syntax(ds)
        implicit, little = ds.original_encoding
        spp = int(ds.get("SamplesPerPixel") or 1)
        bits = int(ds.get("BitsAllocated") or 8)
        photometric = (_str(ds, "PhotometricInterpretation") or "").upper()
        stored = int(ds.get("BitsStored") or bits)
        problem = frame_size_problem(rows, cols) or sample_format_problem(bits, stored, spp, photometric)
        if problem:
            raise Undecodable(problem)
        if transfer.is_encapsulated and str(transfer).startswith(JPEG_FAMILY) \
                and spp > 1 and int(ds.get("PlanarConfiguration") or 0) == 1:
            warns.append(Warn(str(path), "Planar Configuration 1 is wrong for JPEG data (PS3.5 8.2: its "
                                         "decoded pixels are interleaved): read as 0"))
        frame_bytes = native_frame_bytes(rows, cols, spp, bits, photometric)
        eot = ds.get("ExtendedOffsetTable")
        try:
            available = frames_present(
                fp, little_endian=bool(little if little is not None else True),
                implicit_vr=bool(implicit), n_frames=n_frames, frame_bytes=frame_bytes,
                encapsulated=transfer.is_compressed,
                extended_offsets=None if eot is None else len(eot) // 8,
            )
        except NoPixelData as err:
            name = UID(sop_class).name if sop_class else "unknown SOP class"
            raise NotAnImage(f"a DICOM object without pixel data ({name})") from err
        except PixelDataError as err:
            raise ValueError(f"pixel data unreadable: {err}") from err
    start, source, notes = acquisition_start(ds)
    # times only for the frames present: a 2.7 kB file may claim 300 million frames
    offsets, frame_notes = frame_offsets(ds, n_frames, present=available)
    warns += [Warn(str(path), n) for n in notes + (frame_notes if start is not None else [])]
    regions, region_note = read_regions(ds, rows, cols)
    if region_note:
        warns.append(Warn(str(path), region_note))
    clip = Clip(
        path=path, kind="dicom", n_frames=n_frames, rows=rows, cols=cols,
        start=start, frame_offsets_s=offsets,
        patient_id=_str(ds, "PatientID"), patient_name=_str(ds, "PatientName"),
        patient_birth_date=_str(ds, "PatientBirthDate"), patient_sex=_str(ds, "PatientSex"),
        study_uid=_str(ds, "StudyInstanceUID"), series_uid=_str(ds, "SeriesInstanceUID"),
        sop_uid=_str(ds, "SOPInstanceUID"),
        contrast_start=contrast_start(ds, start),
        regions=regions, truncated=available < n_frames, frames_available=available,
        photometric=_str(ds, "PhotometricInterpretation"), transfer_syntax=str(transfer),
        bits_allocated=bits, samples_per_pixel=spp, sop_class=sop_class,
        manufacturer=_str(ds, "Manufacturer"), timing_source=source,
    )
    if clip.truncated:
        warns.append(Warn(str(path), f"truncated: the pixel data holds {available} of {n_frames} frames; "
                                     "the clip fills no slot"))
    return clip, warns


def transfer_syntax(ds: Dataset) -> UID:
    """The file's transfer syntax; for files without file meta, the encoding pydicom found."""
    declared = ds.file_meta.get("TransferSyntaxUID")
    if declared:
        return UID(declared)
    implicit, little = ds.original_encoding
    if implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little in (True, None) else ExplicitVRBigEndian


def read_regions(ds: Dataset, rows: int, cols: int) -> tuple[list[Region], str | None]:
    """The Sequence of Ultrasound Regions as end-exclusive boxes clipped to the frame.

    Region Location Max X1/Y1 are inclusive in DICOM (the last pixel), hence the +1. Entries that are
    incomplete, empty or outside the frame are dropped and reported in one note.
    """
    seq = ds.get("SequenceOfUltrasoundRegions")
    if not seq:
        return [], None
    regions: list[Region] = []
    broken = 0
    for item in seq:
        try:
            x0, y0 = int(item.RegionLocationMinX0), int(item.RegionLocationMinY0)
            x1, y1 = int(item.RegionLocationMaxX1) + 1, int(item.RegionLocationMaxY1) + 1
            data_type = int(item.get("RegionDataType", 0) or 0)
        except (AttributeError, TypeError, ValueError):
            broken += 1
            continue
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(cols, x1), min(rows, y1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            broken += 1
            continue
        dx = dy = None
        if int(item.get("PhysicalUnitsXDirection", 0) or 0) == _UNITS_CM:
            dx = float(item.get("PhysicalDeltaX") or 0) or None
        if int(item.get("PhysicalUnitsYDirection", 0) or 0) == _UNITS_CM:
            dy = float(item.get("PhysicalDeltaY") or 0) or None
        regions.append(Region(x0, y0, x1, y1, data_type, dx, dy))
    note = None
    if broken:
        note = (f"{broken} of {len(seq)} ultrasound regions are broken (missing or empty coordinates); "
                "panels are detected from the image where needed")
    return regions, note
