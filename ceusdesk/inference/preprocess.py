"""ROI crop, resize and normalization into model input: THE one implementation.

The app (``ceusdesk.inference``) and the trainer (``trainer.data``) both call :func:`case_tensor`;
a test proves they produce identical arrays. Bump :data:`PREPROCESS_VERSION` whenever the output for
the same input changes: model packages record it and the app refuses a package built with another.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from ceusdesk.base.image import to_gray
from ceusdesk.base.protocol import Protocol
from ceusdesk.base.roi import Roi

PREPROCESS_VERSION = "1"


@dataclass(frozen=True)
class InputSpec:
    """What the model expects; travels with the model in its manifest (``input``)."""

    size: int = 224
    mean: float = 0.449  # ImageNet RGB means averaged: slots are grey, branches see them as channels
    std: float = 0.226
    preprocess_version: str = PREPROCESS_VERSION

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> InputSpec:
        return cls(size=int(d["size"]), mean=float(d["mean"]), std=float(d["std"]),
                   preprocess_version=str(d["preprocess_version"]))


def crop_roi(gray: np.ndarray, roi: Roi) -> np.ndarray:
    """Square crop centred on the ROI, side = max(w, h); parts outside the image are filled with 0."""
    x, y, w, h = roi
    side = max(int(w), int(h))
    cx2, cy2 = 2 * x + w, 2 * y + h  # doubled centre keeps integer arithmetic exact
    x0 = (cx2 - side) // 2
    y0 = (cy2 - side) // 2
    out = np.zeros((side, side), dtype=np.uint8)
    H, W = gray.shape[:2]
    sx0, sy0 = max(x0, 0), max(y0, 0)
    sx1, sy1 = min(x0 + side, W), min(y0 + side, H)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = gray[sy0:sy1, sx0:sx1]
    return out


def slot_tensor(panel: np.ndarray, roi: Roi, spec: InputSpec) -> np.ndarray:
    """One slot's panel image and ROI → float32 (size, size), normalized."""
    crop = crop_roi(to_gray(panel), roi)
    interp = cv2.INTER_AREA if crop.shape[0] >= spec.size else cv2.INTER_LINEAR
    resized = cv2.resize(crop, (spec.size, spec.size), interpolation=interp)
    return ((resized.astype(np.float32) / np.float32(255.0)) - np.float32(spec.mean)) / np.float32(spec.std)


def case_tensor(
    panels: Mapping[str, np.ndarray | None],
    rois: Mapping[str, Roi],
    protocol: Protocol,
    spec: InputSpec,
    use_slots: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Slot panels + per-slot ROIs → (images float32 [n_slots, S, S], mask float32 [n_slots]).

    Slots in protocol order. A slot that is absent, None, or not in ``use_slots`` is all zeros with
    mask 0 — the model was trained with such dropped phases.
    """
    names = protocol.slot_names
    allowed = set(names if use_slots is None else use_slots)
    images = np.zeros((len(names), spec.size, spec.size), dtype=np.float32)
    mask = np.zeros((len(names),), dtype=np.float32)
    for i, name in enumerate(names):
        panel = panels.get(name)
        if panel is None or name not in allowed:
            continue
        if name not in rois:
            raise ValueError(f"slot {name}: an image is present but no ROI was given")
        images[i] = slot_tensor(panel, rois[name], spec)
        mask[i] = 1.0
    return images, mask
