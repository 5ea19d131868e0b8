"""Fake studies for inputs/inference tests: slot frames carrying their panel image, no DICOM.

A textured liver background with a round lesion whose brightness follows a per-slot pattern, so the
ROI placement and tracking have something to find.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ceusdesk.base.protocol import SLOT_NAMES, Protocol, default_protocol


@dataclass
class FakeSlotFrame:
    image: np.ndarray  # uint8 RGB panel
    pixel_spacing_cm: tuple[float, float] | None = None
    t_s: float = 0.0
    frame_index: int = 0


@dataclass
class FakeStudy:
    slots: dict[str, FakeSlotFrame | None]
    warnings: list = field(default_factory=list)
    protocol: Protocol | None = None  # None: the caller's protocol or the default one applies

    @property
    def phase_set(self) -> str:
        return default_protocol().phase_set([k for k, v in self.slots.items() if v is not None])[0]


def panel(shape=(160, 200), centre=(100, 80), radius=12, level=200, seed=0) -> np.ndarray:
    """uint8 RGB panel: speckle-like texture plus a disk of ``level`` at ``centre`` (x, y)."""
    rng = np.random.default_rng(seed)
    h, w = shape
    base = rng.normal(90, 25, size=(h // 4 + 1, w // 4 + 1)).clip(0, 255)
    img = np.kron(base, np.ones((4, 4)))[:h, :w]
    yy, xx = np.mgrid[:h, :w]
    img[(xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 < radius ** 2] = level
    g = img.astype(np.uint8)
    return np.stack([g, g, g], axis=-1)


def load(sf: FakeSlotFrame) -> np.ndarray:
    return sf.image


def fake_study(present=SLOT_NAMES, shape=(160, 200), centre=(100, 80), spacing=None,
               b_shape=None, b_spacing=None, shifts=None) -> FakeStudy:
    """Study with the ``present`` slots; ``shifts`` {slot: (dx, dy)} moves the lesion in that slot."""
    slots: dict[str, FakeSlotFrame | None] = {n: None for n in SLOT_NAMES}
    shifts = shifts or {}
    for i, name in enumerate(SLOT_NAMES):
        if name not in present:
            continue
        if name == "B" and b_shape is not None:
            # the same lesion seen at another zoom: place it at the same physical spot
            if b_spacing and spacing:
                fx, fy = spacing[0] / b_spacing[0], spacing[1] / b_spacing[1]
                c = (b_shape[1] / 2 + (centre[0] - shape[1] / 2) * fx, centre[1] * fy)
                r = 12 * fx
            else:
                c, r = (centre[0] * b_shape[1] / shape[1], centre[1] * b_shape[0] / shape[0]), 12
            img = panel(b_shape, (round(c[0]), round(c[1])), round(r), 60, seed=i)
            slots[name] = FakeSlotFrame(img, b_spacing)
            continue
        dx, dy = shifts.get(name, (0, 0))
        img = panel(shape, (centre[0] + dx, centre[1] + dy), 12, 120 + 12 * i, seed=0)
        slots[name] = FakeSlotFrame(img, spacing, t_s=30.0 * i)
    return FakeStudy(slots)
