"""Screen layout of an exported frame: dual display with burned-in annotations, or a single B panel.

Layout (W×H): a banner of ``top`` pixels, then the panels side by side with ``margin`` pixels around.
The contrast panel is shown in the scanner's colours (a warm tint on most, grey or a colour map on
others), with a timer "mm:ss" in its top-left corner (outside the imaged sector, above the ROI) and a
depth scale on its right edge, like the B panel. Margins and banner height vary between scanners.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ceusdesk.phantom.scanner import PROFILES, SEPIA, STANDARD, ScannerProfile
from ceusdesk.phantom.scene import TIMER_BAND

CEUS_TINT = np.array(SEPIA, dtype=np.float32)  # the classic scanner's tint
TEXT = (225, 225, 225)


@dataclass(frozen=True)
class Layout:
    panel_w: int
    panel_h: int
    margin_scale: float = 1.0
    top_scale: float = 1.0

    @classmethod
    def for_scanner(cls, profile: ScannerProfile, base: tuple[int, int]) -> Layout:
        w, h = profile.panel_size(base)
        return cls(w, h, profile.margin_scale, profile.top_scale)

    @property
    def margin(self) -> int:
        return int(max(8, self.panel_w // 20) * self.margin_scale) // 2 * 2

    @property
    def top(self) -> int:
        return int(max(24, self.panel_h // 8) * self.top_scale) // 2 * 2

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the whole frame (both even, as JPEG 4:2:2 likes)."""
        return 3 * self.margin + 2 * self.panel_w + (self.panel_w % 2), self.top + self.panel_h + self.margin

    def panel_origin(self, which: str) -> tuple[int, int]:
        """Top-left (x, y) of the ``left``, ``right`` or ``single`` panel."""
        if which == "left":
            return self.margin, self.top
        if which == "right":
            return 2 * self.margin + self.panel_w, self.top
        return (self.size[0] - self.panel_w) // 2, self.top

    def panel_box(self, which: str) -> tuple[int, int, int, int]:
        """[x0, y0, x1, y1) of a panel, end-exclusive."""
        x, y = self.panel_origin(which)
        return x, y, x + self.panel_w, y + self.panel_h


def _font_scale(layout: Layout) -> float:
    return max(0.3, layout.panel_h / 640)


def _put(img: np.ndarray, text: str, org: tuple[int, int], scale: float) -> None:
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, TEXT, 1, cv2.LINE_AA)


def _depth_scale(img: np.ndarray, layout: Layout, which: str, depth_cm: float, scale: float) -> None:
    x0, y0, x1, _ = layout.panel_box(which)
    px_per_cm = layout.panel_h * 0.97 / depth_cm
    for cm in range(0, int(depth_cm) + 1):  # in the margin right of the panel, clear of the image
        y = int(round(y0 + cm * px_per_cm))
        length = 5 if cm % 5 == 0 else 2
        img[y:y + 1, x1 + 1:x1 + 1 + length] = TEXT
        if cm % 5 == 0 and cm > 0:
            _put(img, str(cm), (x1 + 1, y + int(12 * scale / 0.4)), scale * 0.7)


def timer_text(t_s: float) -> str:
    t = max(0, int(t_s))
    return f"{t // 60:02d}:{t % 60:02d}"


def compose_dual(layout: Layout, contrast: np.ndarray, bmode: np.ndarray, contrast_side: str,
                 t_s: float, depth_cm: float, mi: float, profile: ScannerProfile | None = None) -> np.ndarray:
    """One dual-display RGB frame from grey panels (float 0..255), contrast in the scanner's colours."""
    profile = profile or PROFILES[STANDARD]
    w, h = layout.size
    img = np.zeros((h, w, 3), dtype=np.uint8)
    b_side = "right" if contrast_side == "left" else "left"
    cx, cy = layout.panel_origin(contrast_side)
    bx, by = layout.panel_origin(b_side)
    img[cy:cy + layout.panel_h, cx:cx + layout.panel_w] = profile.colourize(contrast)
    img[by:by + layout.panel_h, bx:bx + layout.panel_w] = \
        np.clip(bmode + 0.5, 0, 255).astype(np.uint8)[..., None]
    s = _font_scale(layout)
    base = layout.top - max(6, layout.top // 4)
    _put(img, f"{profile.label}  MI {mi:.2f}", (cx, base), s)
    _put(img, "B", (bx, base), s)
    _put(img, timer_text(t_s), (cx + 3, cy + int(TIMER_BAND * layout.panel_h) - 2), s)
    _depth_scale(img, layout, contrast_side, depth_cm, s)
    _depth_scale(img, layout, b_side, depth_cm, s)
    return img


def compose_single(layout: Layout, bmode: np.ndarray, depth_cm: float) -> np.ndarray:
    """The pre-injection frame: one B-mode panel centred, no timer."""
    w, h = layout.size
    img = np.zeros((h, w, 3), dtype=np.uint8)
    x, y = layout.panel_origin("single")
    img[y:y + layout.panel_h, x:x + layout.panel_w] = np.clip(bmode + 0.5, 0, 255).astype(np.uint8)[..., None]
    s = _font_scale(layout)
    _put(img, "B  LIVER", (x, layout.top - max(6, layout.top // 4)), s)
    _depth_scale(img, layout, "single", depth_cm, s)
    return img
