"""Per-clip panel layout (single or dual display) and the study-wide choice of the contrast side."""
from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ceusdesk.base.image import to_gray
from ceusdesk.ingest.decode import FrameError, read_frame
from ceusdesk.ingest.media import MediaError
from ceusdesk.ingest.panels import Box, detect_panels, tissue_panels
from ceusdesk.ingest.records import Clip

log = logging.getLogger(__name__)

SIDES = ("left", "right")
WIDE_SINGLE = 2.0  # width/height of one detected panel above which it probably holds two


class FrameSampler:
    """Decodes single frames to grey on demand, keeping a few (a study needs each at most twice).

    Beside the grey image it keeps the frame's colourfulness (max - min of R, G, B per pixel), which the
    contrast-side cue ``display_tint`` reads. ``decoded`` counts decodes, so tests and the benchmark can
    check how little is decoded.
    """

    def __init__(self, keep: int = 16):
        self._cache: OrderedDict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._keep = keep
        self.decoded = 0

    def _get(self, clip: Clip, index: int) -> tuple[np.ndarray, np.ndarray] | None:
        key = (id(clip), index)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        try:
            rgb = read_frame(clip, index)
        except (FrameError, MediaError) as err:
            log.warning("frame could not be decoded: %s", err)
            return None
        self.decoded += 1
        gray = to_gray(rgb)
        chroma = (rgb.max(axis=2) - rgb.min(axis=2)) if rgb.ndim == 3 else np.zeros_like(gray)
        self._cache[key] = (gray, chroma)
        if len(self._cache) > self._keep:
            self._cache.popitem(last=False)
        return self._cache[key]

    def gray(self, clip: Clip, index: int) -> np.ndarray | None:
        got = self._get(clip, index)
        return None if got is None else got[0]

    def chroma(self, clip: Clip, index: int) -> np.ndarray | None:
        got = self._get(clip, index)
        return None if got is None else got[1]


def sample_indices(n: int, k: int) -> list[int]:
    """Up to ``k`` frame indices spread evenly over ``n`` frames, first and last included."""
    if n <= 0:
        return []
    return sorted({int(round(x)) for x in np.linspace(0, n - 1, num=min(n, k))})


@dataclass
class ClipLayout:
    panels: tuple[Box, ...]  # one (single display) or two (dual, left then right)
    source: str  # "regions" | "detected" | "frame"
    spacing: tuple[tuple[float, float] | None, ...]  # cm per pixel (x, y) per panel

    @property
    def dual(self) -> bool:
        return len(self.panels) == 2

    def panel(self, role: str, side: str | None) -> tuple[Box, tuple[float, float] | None]:
        """The contrast (``role='contrast'``) or B-mode panel, given the study's contrast side."""
        if not self.dual:
            return self.panels[0], self.spacing[0]
        i = SIDES.index(side or "right")
        if role != "contrast":
            i = 1 - i
        return self.panels[i], self.spacing[i]


def clip_layout(clip: Clip, sampler: FrameSampler) -> tuple[ClipLayout, str | None]:
    """Panels from the tissue regions, else found in the pixels (max over a few frames). Returns a note
    when the regions were missing or unusable and the fallback was used."""
    regions = tissue_panels(clip)
    if regions:
        spacing = tuple((r.physical_delta_x, r.physical_delta_y)
                        if r.physical_delta_x and r.physical_delta_y else None for r in regions)
        return ClipLayout(tuple(r.box for r in regions), "regions", spacing), None
    stack = None
    for i in sample_indices(clip.usable_frames, 3):
        g = sampler.gray(clip, i)
        if g is not None:
            stack = g if stack is None else np.maximum(stack, g)
    if stack is None:
        return ClipLayout(((0, 0, clip.cols, clip.rows),), "frame", (None,)), None
    boxes = tuple(detect_panels(stack))
    note = None
    if clip.kind == "dicom":
        what = "no usable tissue region" if clip.regions else "no ultrasound regions"
        note = f"{what}: panels found from the image ({len(boxes)} panel{'s' if len(boxes) > 1 else ''})"
    x0, y0, x1, y1 = boxes[0]
    if len(boxes) == 1 and x1 - x0 >= WIDE_SINGLE * (y1 - y0):
        # an ultrasound image is rarely this wide: more likely two panels that could not be told apart
        note = (f"{note}; " if note else "") + ("one very wide image found: if it shows two panels side "
                                                 "by side, they could not be separated; check the panel")
    return ClipLayout(boxes, "detected", (None,) * len(boxes)), note
