"""Video exports (AVI, MP4, ...) through OpenCV, and still images (PNG, JPEG, BMP)."""
from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from ceusdesk.base.errors import UnreadableInput
from ceusdesk.ingest.avi import mjpeg_frame_sizes
from ceusdesk.ingest.limits import MAX_FRAME_PIXELS, YEARS, Undecodable, frame_size_problem, plausible
from ceusdesk.ingest.records import Clip

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = {".avi", ".mp4", ".m4v", ".mov", ".wmv", ".mkv", ".mpg", ".mpeg"}
STILL_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
_EXIF_IFD = 0x8769
_DATETIME_ORIGINAL = 0x9003
# a seek that lands further than this from the frame's scanned timestamp is not trusted
_SEEK_TOLERANCE_MS = 1.0


class MediaError(UnreadableInput, ValueError):
    """A video or image that cannot be read; the message says why."""


def _later_frames_problem(path: Path) -> str | None:
    """A Motion-JPEG AVI frame whose own header is over the size limit (the AVI header checked above
    speaks for the first frame only); other containers cannot be checked before decoding."""
    sizes = mjpeg_frame_sizes(path) if path.suffix.lower() == ".avi" else None
    for k, size in enumerate(sizes or []):
        if size is not None and frame_size_problem(*size):
            return f"frame {k} is {size[1]}x{size[0]}: {frame_size_problem(*size)}"
    return None


def read_video(path: Path) -> Clip:
    """Open a video and record each frame's true timestamp (grab without converting: no pixel copies).

    The container's frame count is only a hint (variable-rate files count ticks), so the frames are
    counted by grabbing them; CAP_PROP_POS_MSEC after each grab is that frame's presentation time.
    """
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise MediaError("unreadable video: OpenCV cannot open it (unknown codec or damaged file)")
        cols = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        rows = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        problem = frame_size_problem(rows, cols) or _later_frames_problem(path)
        if problem:
            raise Undecodable(problem)  # before grabbing: every grab decodes a frame
        stamps: list[float] = []
        while cap.grab():
            stamps.append(float(cap.get(cv2.CAP_PROP_POS_MSEC)))
    finally:
        cap.release()
    if not stamps:
        raise MediaError("unreadable video: no frame could be read (empty or damaged file)")
    if rows <= 0 or cols <= 0:
        raise MediaError("unreadable video: no frame size")
    offsets = (np.asarray(stamps) - stamps[0]) / 1000.0
    return Clip(path=path, kind="video", n_frames=len(stamps), rows=rows, cols=cols, start=None,
                frame_offsets_s=offsets, frames_available=len(stamps), photometric="RGB",
                stream_t0_s=stamps[0] / 1000.0)


def read_video_frame(clip: Clip, index: int) -> np.ndarray:
    cap = cv2.VideoCapture(str(clip.path))
    try:
        if not cap.isOpened():
            raise MediaError(f"{clip.path}: unreadable video")
        cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = cap.read()
        if ok and clip.frame_offsets_s is not None:
            got = cap.get(cv2.CAP_PROP_POS_MSEC) - clip.stream_t0_s * 1000.0
            ok = abs(got - clip.frame_offsets_s[index] * 1000.0) <= _SEEK_TOLERANCE_MS
        if not ok:  # seeking by index is unreliable in some containers: read up to the frame instead
            log.debug("seek to frame %d missed; reading sequentially", index)
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            for _ in range(index):
                if not cap.grab():
                    break
            ok, frame = cap.read()
        if not ok or frame is None:
            raise MediaError(f"{clip.path}: frame {index} could not be read")
    finally:
        cap.release()
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def read_still(path: Path, notes: list[str] | None = None) -> Clip:
    """A still image: one frame; its time from EXIF DateTimeOriginal when a camera-style export has it."""
    try:
        with Image.open(path) as im:  # reads the header only
            cols, rows = im.size
            problem = frame_size_problem(rows, cols)
            if problem:
                raise Undecodable(problem)
            start = _exif_time(im, notes)
    except Image.DecompressionBombError as err:  # Pillow's own limit, above ours: refused at open
        raise Undecodable(f"image larger than the {MAX_FRAME_PIXELS / 1e6:.1f}-megapixel limit "
                          "(MAX_FRAME_PIXELS); not read") from err
    except (UnidentifiedImageError, OSError) as err:
        raise MediaError(f"unreadable image: {err}") from err
    return Clip(path=path, kind="still", n_frames=1, rows=rows, cols=cols, start=start,
                frame_offsets_s=np.zeros(1), frames_available=1, photometric="RGB",
                timing_source="EXIF DateTimeOriginal" if start else None)


def _exif_time(im: Image.Image, notes: list[str] | None = None) -> datetime | None:
    try:
        raw = im.getexif().get_ifd(_EXIF_IFD).get(_DATETIME_ORIGINAL)
    except (AttributeError, KeyError, ValueError, OSError):
        return None
    if not raw:
        return None
    text = str(raw).strip("\0 ")
    try:
        when = datetime.strptime(text, "%Y:%m:%d %H:%M:%S")
    except ValueError:
        if notes is not None:
            notes.append(f"EXIF DateTimeOriginal {text[:32]!r} is not a date and time; the image has no time")
        return None
    if not plausible(when):  # year 1 or 9999: a camera or tool fault, as for DICOM dates
        if notes is not None:
            notes.append(f"EXIF DateTimeOriginal {text} is outside {YEARS[0]}-{YEARS[1]}; the image has no "
                         "time (assign it with --assign FILE=SLOT)")
        return None
    return when


def read_still_frame(clip: Clip) -> np.ndarray:
    image = cv2.imread(str(clip.path), cv2.IMREAD_COLOR)
    if image is None:
        raise MediaError(f"{clip.path}: image could not be decoded")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
