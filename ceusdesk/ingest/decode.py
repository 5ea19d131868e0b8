"""Decode ONE frame of a clip into an 8-bit RGB display image.

Every decode in ceusdesk (app, CLI, trainer) passes through :func:`read_frame`, so the JPEG plugin named
in :data:`DECODING_PLUGIN` is the only one used: plugins disagree by a few grey levels, and a model
trained on one plugin's output must see the same pixels in the app.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.encaps import get_frame
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_voi_lut, pixel_array

from ceusdesk.base.errors import UnreadableInput
from ceusdesk.ingest.codestream import declared_size
from ceusdesk.ingest.dicom import JPEG_FAMILY, CappedFile, transfer_syntax
from ceusdesk.ingest.limits import frame_size_problem, sample_format_problem
from ceusdesk.ingest.records import Clip

DECODING_PLUGIN = "pylibjpeg"
"""The one pydicom decoding plugin for compressed pixel data: pylibjpeg (libjpeg for JPEG and JPEG-LS,
openjpeg for JPEG 2000, pylibjpeg-rle for RLE). Native (uncompressed) data needs no plugin."""


class FrameError(UnreadableInput, ValueError):
    """A frame could not be decoded; the message names the file and the frame."""


@functools.lru_cache(maxsize=64)
def _header(path: str, _mtime_ns: int, _size: int) -> tuple[Dataset, int]:
    """The header and where the Pixel Data element starts (dcmread stops on its tag)."""
    with CappedFile(path) as fp:
        return dcmread(fp, stop_before_pixels=True, force=True), fp.tell()


def dicom_header(path: Path) -> Dataset:
    """The file's header (cached while the file is unchanged): LUTs, windows, photometric."""
    return _cached(path)[0]


def _cached(path: Path) -> tuple[Dataset, int]:
    st = os.stat(path)
    return _header(str(path), st.st_mtime_ns, st.st_size)


def read_frame(clip: Clip, index: int) -> np.ndarray:
    """Decode frame ``index`` (0-based) of ``clip`` → uint8 array (rows, cols, 3), RGB.

    Only that frame is decoded. Raises :class:`FrameError` for an index outside the frames present
    or a frame the decoder rejects.
    """
    if not 0 <= index < clip.usable_frames:
        raise FrameError(f"{clip.path}: frame {index} does not exist ({clip.usable_frames} frames present)")
    if clip.kind == "dicom":
        return _dicom_frame(clip, index)
    from ceusdesk.ingest.media import MediaError, read_still_frame, read_video_frame

    try:
        if clip.kind == "video":
            return read_video_frame(clip, index)
        return read_still_frame(clip)
    except MediaError:
        raise
    except Exception as err:  # OpenCV raises cv2.error (and others) on damaged media
        raise FrameError(f"{clip.path}: frame {index} could not be decoded: {_one_line(err)}") from err


def _dicom_frame(clip: Clip, index: int) -> np.ndarray:
    problem = frame_size_problem(clip.rows, clip.cols)
    if problem is None and clip.bits_allocated is not None:
        problem = sample_format_problem(clip.bits_allocated, clip.bits_allocated,
                                        clip.samples_per_pixel or 1, (clip.photometric or "").upper())
    if problem:
        raise FrameError(f"{clip.path}: frame {index} cannot be decoded: {problem}")
    try:
        ds = dicom_header(clip.path)
        transfer = transfer_syntax(ds)
        plugin = DECODING_PLUGIN if transfer.is_compressed else ""
        extra: dict[str, Any] = ({} if ds.file_meta.get("TransferSyntaxUID")
                                 else {"transfer_syntax_uid": transfer})
        if transfer.is_encapsulated:
            check_codestream(clip, index)  # before the decoder allocates what the header claims
            if str(transfer).startswith(JPEG_FAMILY):
                # JPEG, JPEG-LS and JPEG 2000 decoders return interleaved pixels whatever Planar
                # Configuration says (PS3.5 8.2: it shall be 0); taken at its word, 1 gives stripes
                extra["planar_configuration"] = 0
        with CappedFile(clip.path) as fp:
            arr = pixel_array(fp, index=index, decoding_plugin=plugin, **extra)
        if arr.shape[:2] != (clip.rows, clip.cols):  # e.g. a JPEG of another size than Rows x Columns
            raise ValueError(f"decoded {arr.shape[1]}x{arr.shape[0]}, header says {clip.cols}x{clip.rows}")
        return to_display(arr, ds)
    except FrameError:
        raise
    except Exception as err:  # decoders and LUTs raise many types; re-raised with the file and frame named
        raise FrameError(f"{clip.path}: frame {index} could not be decoded: {_one_line(err)}") from err


def check_codestream(clip: Clip, index: int) -> None:
    """Refuse a compressed frame whose own header claims another size than Rows x Columns (a decoder
    bomb: libjpeg and openjpeg allocate what the codestream says, up to gigabytes, before failing)."""
    pixel_data = _cached(clip.path)[1]
    with CappedFile(clip.path) as fp:
        # past the Pixel Data tag, VR, reserved bytes and undefined length (encapsulated: explicit VR LE)
        fp.seek(pixel_data + 12)
        data = get_frame(fp, index, number_of_frames=clip.n_frames)
    size = declared_size(data[:65536])
    if size is None:
        return
    rows, cols = size
    if cols != clip.cols or rows not in (0, clip.rows):  # 0: a JPEG whose DNL marker gives the rows later
        raise FrameError(f"{clip.path}: frame {index} could not be decoded: its codestream says "
                         f"{cols}x{rows}, the header {clip.cols}x{clip.rows} (damaged or forged; not given "
                         "to the decoder)")


def _one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def to_display(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    """One decoded frame → uint8 RGB: palette applied, YBR converted, VOI/window applied, 16 → 8 bit."""
    arr = np.asarray(arr)
    if arr.dtype.byteorder not in ("=", "|"):
        arr = arr.astype(arr.dtype.newbyteorder("="))  # explicit VR big endian
    photometric = str(ds.get("PhotometricInterpretation", "")).strip().upper()
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(arr, ds)
        return _scale_to_8bit(rgb, _palette_bits(ds, rgb))
    if arr.ndim == 3 and arr.shape[2] == 3:
        if photometric.startswith("YBR_PARTIAL"):
            arr = _ybr_partial_to_rgb(arr)
        bits = int(ds.get("BitsStored") or ds.get("BitsAllocated") or 8)
        return _scale_to_8bit(arr, bits)
    gray = _monochrome_to_8bit(arr, ds)
    if photometric == "MONOCHROME1":
        gray = 255 - gray
    return np.repeat(gray[:, :, None], 3, axis=2)


def _palette_bits(ds: Dataset, rgb: np.ndarray) -> int:
    descriptor = ds.get("RedPaletteColorLookupTableDescriptor")
    bits = int(descriptor[2]) if descriptor is not None and len(descriptor) == 3 else 8
    # some 16-bit tables only hold 0..255: scaling them down would blacken the image
    if bits == 16 and rgb.size and int(rgb.max()) <= 255:
        return 8
    return bits


def _scale_to_8bit(arr: np.ndarray, bits: int) -> np.ndarray:
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if bits <= 8:
        return np.clip(arr, 0, 255).astype(np.uint8)
    return (np.clip(arr, 0, (1 << bits) - 1).astype(np.uint32) >> (bits - 8)).astype(np.uint8)


def _ybr_partial_to_rgb(arr: np.ndarray) -> np.ndarray:
    """BT.601 limited-range YCbCr (Y 16..235, C 16..240) → RGB."""
    ycc = arr.astype(np.float32)
    y = (ycc[..., 0] - 16.0) * (255.0 / 219.0)
    cb = (ycc[..., 1] - 128.0) * (255.0 / 224.0)
    cr = (ycc[..., 2] - 128.0) * (255.0 / 224.0)
    out = np.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], axis=-1)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _monochrome_to_8bit(arr: np.ndarray, ds: Dataset) -> np.ndarray:
    if arr.ndim == 3:  # (rows, cols, 1)
        arr = arr[..., 0]
    if "VOILUTSequence" in ds:
        out = apply_voi_lut(arr, ds).astype(np.float64)
        descriptor = ds.VOILUTSequence[0].LUTDescriptor
        top = float((1 << int(descriptor[2])) - 1)
        return np.clip(np.rint(out / top * 255.0), 0, 255).astype(np.uint8)
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if center is not None and width is not None:
        c, w = _first(center), _first(width)
        slope = float(ds.get("RescaleSlope") or 1.0)
        intercept = float(ds.get("RescaleIntercept") or 0.0)
        values = arr.astype(np.float64) * slope + intercept
        if w > 1:
            lo = c - 0.5 - (w - 1) / 2
            scaled = (values - lo) / (w - 1) * 255.0
            return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    bits = int(ds.get("BitsStored") or ds.get("BitsAllocated") or 8)
    if arr.dtype.kind == "i":
        arr = arr.astype(np.int64) + (1 << (bits - 1))  # signed → shift into 0..2^bits-1
    return _scale_to_8bit(arr, bits)


def _first(value: Any) -> float:
    """First value of a possibly multi-valued DS element (several windows may be offered)."""
    return float(value[0]) if isinstance(value, MultiValue | list | tuple) else float(value)


