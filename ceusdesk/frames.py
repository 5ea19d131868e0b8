"""The image that fills a slot: its frame decoded, cropped to the contrast (or B-mode) panel."""
from __future__ import annotations

import numpy as np

from .ingest import read_frame
from .study import SlotFrame, Study


def panel_image(slot_frame: SlotFrame) -> np.ndarray:
    """uint8 RGB crop ``[y0:y1, x0:x1]`` of the slot's panel (decodes one frame)."""
    x0, y0, x1, y1 = slot_frame.panel
    frame = read_frame(slot_frame.clip, slot_frame.frame_index)
    return np.ascontiguousarray(frame[y0:y1, x0:x1])


def slot_panels(study: Study) -> dict[str, np.ndarray | None]:
    """Every slot's panel image; a frame shared by two slots is decoded once, empty slots give None."""
    frames: dict[tuple[int, int], np.ndarray] = {}
    out: dict[str, np.ndarray | None] = {}
    for name, sf in study.slots.items():
        if sf is None:
            out[name] = None
            continue
        key = (id(sf.clip), sf.frame_index)
        if key not in frames:
            frames[key] = read_frame(sf.clip, sf.frame_index)
        x0, y0, x1, y1 = sf.panel
        out[name] = np.ascontiguousarray(frames[key][y0:y1, x0:x1])
    return out
