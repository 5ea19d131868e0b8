"""Hand-made speckled images for the segmentation, pattern and liver-ROI tests (linear power)."""
from __future__ import annotations

import cv2
import numpy as np


def speckle(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Mean-1 speckle power, gamma-distributed (two averaged exponential fields), grains ~1.5 px."""
    out = np.zeros(shape, np.float32)
    for _ in range(2):
        re = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), 1.0)
        im = cv2.GaussianBlur(rng.standard_normal(shape).astype(np.float32), (0, 0), 1.0)
        p = re * re + im * im
        out += p / p.mean()
    return out / 2


def disk_image(size: int, radius: float, level: float, *, centre=None, liver: float = 0.05, seed: int = 0,
               profile=None) -> np.ndarray:
    """A lesion (``level`` × ``profile(rho, theta)`` when given) in liver of mean ``liver``, speckled."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    cx, cy = centre if centre is not None else ((size - 1) / 2, (size - 1) / 2)
    rho = np.hypot(xx - cx, yy - cy) / radius
    theta = np.arctan2(yy - cy, xx - cx)
    inside = rho <= 1.0
    lesion = level * (profile(rho, theta) if profile is not None else np.ones_like(rho))
    img = np.where(inside, lesion, liver).astype(np.float32)
    return img * speckle((size, size), np.random.default_rng(seed))
