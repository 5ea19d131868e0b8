"""Display images as every stage sees them: 8-bit RGB or grey, turned into luminance one way."""
from __future__ import annotations

import cv2
import numpy as np


def to_gray(image: np.ndarray) -> np.ndarray:
    """8-bit display image (H, W) or (H, W, 3) RGB → uint8 luminance (BT.601, as OpenCV computes it)."""
    if image.dtype != np.uint8:
        raise TypeError(f"expected an 8-bit display image, got {image.dtype}")
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    raise ValueError(f"expected (H, W) or (H, W, 3) image, got shape {image.shape}")
