"""The frame sizes a Motion-JPEG AVI's frames claim, read from their JPEG headers before any decoding.

OpenCV decodes every frame it is asked to count (``grab``), at the size the frame's own JPEG header
says, whatever the AVI header says: one forged 16000 × 16000 frame costs gigabytes. Walking the RIFF
chunks and each frame's first bytes costs a few reads per frame.
"""
from __future__ import annotations

import struct
from pathlib import Path

from ceusdesk.ingest.codestream import declared_size

_VIDEO_CHUNKS = (b"dc", b"db")  # '00dc' compressed / '00db' uncompressed video frames


def mjpeg_frame_sizes(path: Path) -> list[tuple[int, int] | None] | None:
    """(rows, cols) per non-empty video chunk, in file order (None where a header says nothing); None
    when the file is not an AVI whose frames are JPEG."""
    sizes: list[tuple[int, int] | None] = []
    with open(path, "rb") as fp:
        end = fp.seek(0, 2)
        fp.seek(0)
        pos, jpeg = 0, False
        while pos + 12 <= end:  # RIFF 'AVI ', then RIFF 'AVIX' extensions of files over 1 GB
            fp.seek(pos)
            riff, size, form = struct.unpack("<4sL4s", fp.read(12))
            if riff != b"RIFF" or form not in (b"AVI ", b"AVIX"):
                return None if pos == 0 else sizes if jpeg else None
            _walk(fp, pos + 12, min(end, pos + 8 + size), sizes)
            jpeg = jpeg or any(s is not None for s in sizes)
            pos += 8 + size + (size & 1)
    return sizes if jpeg else None


def _walk(fp, pos: int, stop: int, sizes: list[tuple[int, int] | None]) -> None:
    while pos + 8 <= stop:
        fp.seek(pos)
        cid, size = struct.unpack("<4sL", fp.read(8))
        if cid == b"LIST":
            kind = fp.read(4)
            if kind == b"movi" or kind == b"rec ":
                _walk(fp, pos + 12, min(stop, pos + 8 + size), sizes)
        elif cid[2:] in _VIDEO_CHUNKS and size > 0:
            head = fp.read(min(size, 4096))
            found = declared_size(head)
            if found is None and size > 4096 and head[:2] == b"\xff\xd8":
                fp.seek(pos + 8)
                found = declared_size(fp.read(min(size, 65536)))
            sizes.append(found)
        pos += 8 + size + (size & 1)
