"""The lesion/liver ROI type (x, y, w, h in panel pixels), its parsing and its checks.

One place for what an ROI is: the CLI parses it here, the app and the trainer check it here.
"""
from __future__ import annotations

from collections.abc import Sequence

from ceusdesk.base.errors import BadRoi

Roi = tuple[int, int, int, int]  # x, y, w, h in panel pixels (top-left plus size)


def parse_roi(text: str) -> Roi:
    """Parse ``X,Y,W,H`` (integers, W and H positive). Raises ValueError with a readable message."""
    parts = [p.strip() for p in str(text).split(",")]
    if len(parts) != 4:
        raise ValueError(f"ROI {text!r} must be X,Y,W,H (four integers)")
    try:
        x, y, w, h = (int(round(float(p))) for p in parts)
    except ValueError as err:
        raise ValueError(f"ROI {text!r} must be X,Y,W,H (four integers)") from err
    if w <= 0 or h <= 0:
        raise ValueError(f"ROI {text!r}: width and height must be positive")
    return x, y, w, h


def roi_inside(roi: Roi, panel_shape: Sequence[int]) -> bool:
    """True when the ROI's centre lies inside a panel of shape (H, W, ...)."""
    x, y, w, h = roi
    H, W = panel_shape[:2]
    return 0 <= x + w / 2 < W and 0 <= y + h / 2 < H
MAX_ROI_VALUE = 1_000_000
"""No panel is a million pixels across: larger ROI numbers are a typo, refused before any study is read."""


def check_roi_numbers(roi: Roi, what: str = "ROI") -> Roi:
    """Integers, positive size, every value within ±:data:`MAX_ROI_VALUE`; raises :class:`BadRoi`."""
    try:
        x, y, w, h = (int(v) for v in roi)
    except (TypeError, ValueError, OverflowError) as err:
        raise BadRoi(f"{what} {roi!r}: expected four integers X,Y,W,H") from err
    if w <= 0 or h <= 0:
        raise BadRoi(f"{what}: width and height must be positive")
    if max(abs(x), abs(y), w, h) > MAX_ROI_VALUE:
        raise BadRoi(f"{what} {x},{y},{w},{h}: values beyond {MAX_ROI_VALUE} pixels are not panel "
                     "coordinates; give X,Y,W,H in contrast-panel pixels (see `ceusdesk inspect`)")
    return x, y, w, h


def check_roi_on_panel(roi: Roi, panel_shape: Sequence[int], where: str = "",
                       panel: str = "its panel") -> Roi:
    """The ROI's centre inside the panel and its size at most the panel's; raises :class:`BadRoi`.

    ``where`` follows "ROI x,y,w,h" in the message (e.g. " for slot 3:00")."""
    x, y, w, h = check_roi_numbers(roi, f"ROI{where}")
    H, W = int(panel_shape[0]), int(panel_shape[1])
    if w > W or h > H:
        raise BadRoi(f"ROI {x},{y},{w},{h}{where} is larger than {panel} ({W}x{H} px); draw it around "
                     "the lesion in panel pixels")
    if not roi_inside((x, y, w, h), panel_shape):
        raise BadRoi(f"ROI {x},{y},{w},{h}{where} lies outside {panel} ({W}x{H} px); give X,Y,W,H in "
                     "panel pixels")
    return x, y, w, h
