"""The image that fills a slot: its frame decoded, cropped to the contrast (or B-mode) panel.

``open_study`` decodes every slot's frame once through :func:`panel_image` (so a frame that cannot be
decoded is reported and fills no slot: inspect and analyze agree); the crops are kept in a small cache,
so analyze, the report and the app get them without decoding again.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import TYPE_CHECKING

import numpy as np

from ceusdesk.ingest import FrameError, read_frame
from ceusdesk.ingest.media import MediaError

if TYPE_CHECKING:
    from ceusdesk.study.records import SlotFrame, Study

CACHE_BYTES = 128 * 1024 * 1024
"""Most bytes of panel crops kept (a study's nine panels at scanner sizes are a few MB)."""

_cache: OrderedDict[tuple, np.ndarray] = OrderedDict()
_cache_bytes = 0
_lock = threading.Lock()  # the app's workers (thumbnails, analysis) read panels at the same time


def clear_cache() -> None:
    """Forget every cached panel (a closed study's images need not stay in memory)."""
    global _cache_bytes
    with _lock:
        _cache.clear()
        _cache_bytes = 0


def _key(sf: SlotFrame) -> tuple:
    try:
        st = os.stat(sf.clip.path)
    except OSError as err:
        raise FrameError(f"{sf.clip.path}: frame {sf.frame_index} could not be read: {err}") from err
    return (os.fspath(sf.clip.path), st.st_mtime_ns, st.st_size, sf.frame_index, tuple(sf.panel))


def panel_image(slot_frame: SlotFrame) -> np.ndarray:
    """uint8 RGB crop ``[y0:y1, x0:x1]`` of the slot's panel (decodes one frame, unless cached).

    Raises :class:`~ceusdesk.ingest.FrameError` or ``MediaError`` when the frame cannot be decoded.
    """
    global _cache_bytes
    key = _key(slot_frame)
    with _lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached.copy()  # callers may draw on their copy
    # decoded outside the lock: two threads may decode the same frame once each, never block each other
    x0, y0, x1, y1 = slot_frame.panel
    frame = read_frame(slot_frame.clip, slot_frame.frame_index)
    crop = np.ascontiguousarray(frame[y0:y1, x0:x1])
    with _lock:
        old = _cache.pop(key, None)
        _cache_bytes -= 0 if old is None else old.nbytes
        _cache[key] = crop
        _cache_bytes += crop.nbytes
        while _cache_bytes > CACHE_BYTES and len(_cache) > 1:
            _cache_bytes -= _cache.popitem(last=False)[1].nbytes
    return crop.copy()


def slot_panels(study: Study) -> dict[str, np.ndarray | None]:
    """Every slot's panel image; a frame shared by two slots is decoded once, empty slots give None."""
    return {name: None if sf is None else panel_image(sf) for name, sf in study.slots.items()}


def undecodable_slots(slots: dict[str, SlotFrame | None]) -> dict[str, str]:
    """Slot → why its frame cannot be decoded, for the filled slots whose frame fails (each decoded once,
    through the path analyze uses)."""
    bad: dict[str, str] = {}
    for name, sf in slots.items():
        if sf is None:
            continue
        try:
            panel_image(sf)
        except (FrameError, MediaError) as err:
            text = str(err)
            prefix = f"{sf.clip.path}: "
            bad[name] = text[len(prefix):] if text.startswith(prefix) else text
    return bad
