"""How many frames the Pixel Data element of a file really holds, without reading the pixels.

A USB copy that was cut short, or a scanner that crashed while writing, leaves fewer frames than
Number of Frames says. We find that by walking element and item headers (a few seeks), never by decoding.
"""
from __future__ import annotations

import os
import struct
from typing import BinaryIO

from ceusdesk.base.errors import UnreadableInput

PIXEL_DATA_TAG = 0x7FE00010
ITEM_TAG = 0xFFFEE000
SEQ_DELIM_TAG = 0xFFFEE0DD
UNDEFINED = 0xFFFFFFFF
_EXPLICIT_LONG_VRS = {b"OB", b"OW", b"OD", b"OF", b"OL", b"OV", b"SQ", b"UC", b"UN", b"UR", b"UT"}
# markers that open a frame of JPEG (SOI), JPEG-LS (SOI) or JPEG 2000 (SOC+SIZ, or the JP2 box header)
_FRAME_STARTS = (b"\xff\xd8", b"\xff\x4f\xff\x51", b"\x00\x00\x00\x0c")


class PixelDataError(UnreadableInput, ValueError):
    """The pixel data element cannot be parsed."""


class NoPixelData(PixelDataError):
    """The dataset ends where the Pixel Data element should start."""


def frames_present(
    fp: BinaryIO,
    *,
    little_endian: bool,
    implicit_vr: bool,
    n_frames: int,
    frame_bytes: int,
    encapsulated: bool,
    extended_offsets: int | None = None,
) -> int:
    """Count the complete frames in the Pixel Data element that starts at ``fp``'s position.

    Parameters
    ----------
    fp
        Binary file positioned on the Pixel Data tag (where ``dcmread(stop_before_pixels=True)`` stops).
    n_frames
        Number of Frames from the header (the most this returns).
    frame_bytes
        Bytes of one native frame (unused for encapsulated data).
    encapsulated
        True for compressed transfer syntaxes (items/fragments).
    extended_offsets
        Number of entries of the Extended Offset Table, when present.
    """
    end = os.fstat(fp.fileno()).st_size
    e = "<" if little_endian else ">"
    head = fp.read(8)
    if len(head) < 8:
        raise NoPixelData("no Pixel Data element")
    group, elem = struct.unpack(e + "HH", head[:4])
    if (group << 16 | elem) != PIXEL_DATA_TAG:
        raise PixelDataError(f"expected Pixel Data, found tag ({group:04X},{elem:04X})")
    if implicit_vr:
        (length,) = struct.unpack(e + "L", head[4:8])
    elif head[4:6] in _EXPLICIT_LONG_VRS:
        raw = fp.read(4)
        if len(raw) < 4:
            return 0
        (length,) = struct.unpack(e + "L", raw)
    else:
        (length,) = struct.unpack(e + "H", head[6:8])
    start = fp.tell()
    if not encapsulated:
        if frame_bytes <= 0:
            return n_frames
        available = end - start if length == UNDEFINED else min(length, end - start)
        return min(n_frames, available // frame_bytes)
    return _encapsulated_frames(fp, e, end, n_frames, extended_offsets)


def _encapsulated_frames(fp: BinaryIO, e: str, end: int, n_frames: int, extended: int | None) -> int:
    offsets_table: list[int] = []
    fragments: list[tuple[int, int]] = []  # (position of data, length) of complete fragments
    first = True
    while True:
        head = fp.read(8)
        if len(head) < 8:
            break  # ran off the end: no sequence delimiter
        group, elem = struct.unpack(e + "HH", head[:4])
        (length,) = struct.unpack(e + "L", head[4:8])
        tag = group << 16 | elem
        if tag == SEQ_DELIM_TAG:
            break
        if tag != ITEM_TAG or length == UNDEFINED:
            raise PixelDataError(f"unexpected tag ({group:04X},{elem:04X}) inside encapsulated pixel data")
        pos = fp.tell()
        if pos + length > end:
            break  # this fragment was cut off
        if first:
            first = False
            if length:
                offsets_table = list(struct.unpack(f"{e}{length // 4}L", fp.read(length - length % 4)))
            fp.seek(pos + length)
            continue
        fragments.append((pos, length))
        fp.seek(pos + length)
    if not fragments:
        return 0
    if n_frames <= 1:
        return 1
    if len(fragments) == n_frames:
        return n_frames
    if extended is not None or offsets_table:
        # frame k starts at offsets_table[k]; it is complete when the next frame's start is complete too
        # (or, for the last frame, when the data ran to the sequence delimiter). Approximate by counting
        # frame starts that lie on a complete fragment.
        base = fragments[0][0] - 8
        starts = {p - 8 - base for p, _ in fragments}
        table = offsets_table if offsets_table else []
        count = sum(1 for off in table if off in starts)
        return min(n_frames, count) if table else min(n_frames, len(fragments))
    # no offset table, several fragments per frame: count fragments that open a frame
    count = 0
    for pos, length in fragments:
        fp.seek(pos)
        lead = fp.read(min(4, length))
        if any(lead.startswith(m) for m in _FRAME_STARTS):
            count += 1
    return min(n_frames, count)
