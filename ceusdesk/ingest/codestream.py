"""The image size a compressed frame's own header claims, read before decoding it.

A JPEG whose SOF says 20000 × 20000 inside a clip whose Rows/Columns say 480 × 640 makes libjpeg
allocate 1.2 GB (per component) before anyone can compare shapes; the decoder must never see it. These
parsers walk marker segments by their lengths (a few dozen bytes read), never the entropy-coded data.
"""
from __future__ import annotations

import struct

# JPEG start-of-frame markers: SOF0-3, 5-7, 9-11, 13-15 (not DHT C4, JPG C8, DAC CC), and JPEG-LS SOF55
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF, 0xF7}
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM, RSTn: no length field


def declared_size(data: bytes) -> tuple[int, int] | None:
    """(rows, columns) from a JPEG, JPEG-LS or JPEG 2000 codestream header; None when ``data`` is none
    of these or the header is cut before it says (the decoder then fails on its own, cheaply)."""
    if data[:2] == b"\xff\xd8":
        return _jpeg(data)
    if data[:4] == b"\xff\x4f\xff\x51":  # J2K: SOC then SIZ, whose fields come first
        if len(data) < 24:
            return None
        xsiz, ysiz, xo, yo = struct.unpack(">4L", data[8:24])
        return max(0, ysiz - yo), max(0, xsiz - xo)
    return None


def _jpeg(data: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None  # not on a marker: damaged header, let the decoder refuse it
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if marker in _SOF:
            if pos + 9 > len(data):
                return None
            rows, cols = struct.unpack(">HH", data[pos + 5:pos + 9])
            return rows, cols
        if marker in (0xDA, 0xD9) or length < 2:  # start of scan or end of image before any SOF
            return None
        pos += 2 + length
    return None
