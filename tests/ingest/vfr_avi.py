"""A tiny Motion-JPEG AVI writer that can leave gaps: a variable-frame-rate video for the tests.

cv2.VideoWriter writes only constant-rate files. AVI expresses a variable rate with empty ("dropped")
chunks on a fixed tick; demuxers give the next real frame the timestamp of its tick, so the gaps show
up in CAP_PROP_POS_MSEC exactly as they do in a scanner's VFR export.
"""
from __future__ import annotations

import struct
from pathlib import Path

import cv2
import numpy as np


def _chunk(fourcc: bytes, data: bytes) -> bytes:
    pad = b"\0" if len(data) % 2 else b""
    return fourcc + struct.pack("<I", len(data)) + data + pad


def _list(kind: bytes, body: bytes) -> bytes:
    return b"LIST" + struct.pack("<I", len(body) + 4) + kind + body


def write_vfr_avi(path: Path, frames: list[np.ndarray], ticks: list[int], tick_fps: int = 30) -> Path:
    """Write ``frames`` (uint8 RGB) at increasing tick indices ``ticks`` of a ``tick_fps`` clock."""
    assert len(frames) == len(ticks) and all(b > a for a, b in zip(ticks, ticks[1:], strict=False))
    h, w = frames[0].shape[:2]
    by_tick = dict(zip(ticks, frames, strict=True))
    n_ticks = ticks[-1] + 1
    payloads = []
    for t in range(n_ticks):
        if t in by_tick:
            ok, jpg = cv2.imencode(".jpg", cv2.cvtColor(by_tick[t], cv2.COLOR_RGB2BGR))
            assert ok
            payloads.append(jpg.tobytes())
        else:
            payloads.append(b"")
    avih = struct.pack("<14I", 1_000_000 // tick_fps, 0, 0, 0x10, n_ticks, 0, 1,
                       max(len(p) for p in payloads), w, h, 0, 0, 0, 0)
    strh = b"vidsMJPG" + struct.pack("<IHHIIIIIIIIhhhh", 0, 0, 0, 0, 1, tick_fps, 0, n_ticks,
                                     max(len(p) for p in payloads), 0xFFFFFFFF, 0, 0, 0, w, h)
    strf = struct.pack("<IiiHH4sIiiII", 40, w, h, 1, 24, b"MJPG", w * h * 3, 0, 0, 0, 0)
    strl = _list(b"strl", _chunk(b"strh", strh) + _chunk(b"strf", strf))
    hdrl = _list(b"hdrl", _chunk(b"avih", avih) + strl)
    movi_body = b""
    index = b""
    for p in payloads:
        offset = 4 + len(movi_body)  # from the 'movi' fourcc
        movi_body += _chunk(b"00dc", p)
        index += b"00dc" + struct.pack("<III", 0x10 if p else 0, offset, len(p))
    body = b"AVI " + hdrl + _list(b"movi", movi_body) + _chunk(b"idx1", index)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path
