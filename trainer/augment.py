"""Synchronized augmentation: one random transform per case, applied identically to its nine slot images.

Runs batched on the training device. The geometric part is a single affine grid per case that
``grid_sample`` applies to every channel, so the nine images cannot drift apart; the intensity part
(gain, contrast) is one pair of numbers per case. Missing slots (mask 0) stay exactly zero, as the
preprocessing leaves them. Phase dropout hides the slots after the early set for a share of the cases,
so one model serves both the early and the full set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ceusdesk.preprocess import InputSpec


@dataclass(frozen=True)
class AugmentConfig:
    flip_p: float = 0.5  # horizontal flip (probe orientation is arbitrary left/right)
    rotate_deg: float = 10.0
    translate: float = 0.06  # fraction of the side
    zoom: tuple[float, float] = (0.9, 1.15)  # >1 = crop in (crop/scale)
    gain: float = 0.08  # additive, in [0, 1] display-intensity units
    contrast: tuple[float, float] = (0.85, 1.15)  # multiplicative
    early_drop: float = 0.3  # probability that a case keeps only its early-set slots

    @classmethod
    def identity(cls) -> AugmentConfig:
        return cls(
            flip_p=0.0,
            rotate_deg=0.0,
            translate=0.0,
            zoom=(1.0, 1.0),
            gain=0.0,
            contrast=(1.0, 1.0),
            early_drop=0.0,
        )


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator | None, device) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen, device=device)


def affine_thetas(
    n: int, cfg: AugmentConfig, gen: torch.Generator | None = None, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Random affine matrices [n, 2, 3] for ``F.affine_grid`` (output → input coordinates)."""
    angle = _uniform(n, -cfg.rotate_deg, cfg.rotate_deg, gen, device) * (math.pi / 180.0)
    zoom = _uniform(n, cfg.zoom[0], cfg.zoom[1], gen, device)
    flip = torch.where(torch.rand(n, generator=gen, device=device) < cfg.flip_p, -1.0, 1.0)
    tx = _uniform(n, -2 * cfg.translate, 2 * cfg.translate, gen, device)  # grid coords span 2
    ty = _uniform(n, -2 * cfg.translate, 2 * cfg.translate, gen, device)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.zeros(n, 2, 3, device=device)
    theta[:, 0, 0] = cos * flip
    theta[:, 0, 1] = -sin
    theta[:, 0, 2] = tx
    theta[:, 1, 0] = sin * flip
    theta[:, 1, 1] = cos
    theta[:, 1, 2] = ty
    return theta


def synchronized_augment(
    images: torch.Tensor,
    mask: torch.Tensor,
    spec: InputSpec,
    cfg: AugmentConfig,
    early_keep: torch.Tensor | None = None,
    gen: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment a batch: ``images`` [N, n_slots, S, S] normalized, ``mask`` [N, n_slots] → same shapes.

    ``early_keep`` [n_slots] bool marks the early-set slots kept when a case's later phases are dropped.
    """
    n, device = images.shape[0], images.device
    mask = mask.clone()
    if early_keep is not None and cfg.early_drop > 0:
        drop = torch.rand(n, generator=gen, device=device) < cfg.early_drop
        mask[drop] = mask[drop] * early_keep.to(mask.dtype)
    # Shift so that black display pixels are 0: grid_sample's zero padding then fills with black,
    # as crop_roi does outside the frame.
    pix = images.float() * spec.std + spec.mean  # [0, 1] display intensity
    theta = affine_thetas(n, cfg, gen, device)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    pix = F.grid_sample(pix, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    contrast = _uniform(n, cfg.contrast[0], cfg.contrast[1], gen, device).view(n, 1, 1, 1)
    gain = _uniform(n, -cfg.gain, cfg.gain, gen, device).view(n, 1, 1, 1)
    pix = (pix * contrast + gain).clamp_(0.0, 1.0)
    out = (pix - spec.mean) / spec.std
    out = out * mask.view(n, -1, 1, 1)
    return out.to(images.dtype), mask
