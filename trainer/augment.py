"""Synchronized augmentation: one random transform per case, applied identically to its nine slot images.

Runs batched on the training device. The geometric part is a single affine grid per case that
``grid_sample`` applies to every channel, so the nine images cannot drift apart; the intensity part
(gain, contrast) is one pair of numbers per case. Missing slots (mask 0) stay exactly zero, as the
preprocessing leaves them.

Phase dropout shows each training case as one of the sets the app can produce: the early set only
(``early_drop``), a "gapped full" set — early + 10:00 with a random non-empty subset of the 3-6 min
slots missing (``gapped_drop``) — or everything the case has. A slot the study truly lacks stays
masked in every variant.

ROI jitter: with the cached context crops (trainer.cache), the ROI is re-placed per case — centre
moved by up to ``roi_shift`` × its side, side scaled by ``roi_scale`` — and the image is sampled from
the context, in the same affine step as the rest of the geometry, identically for all nine slots.
Phantom ROIs are exactly centred; the app's users place them by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ceusdesk.inference.preprocess import InputSpec


@dataclass(frozen=True)
class AugmentConfig:
    flip_p: float = 0.5  # horizontal flip (probe orientation is arbitrary left/right)
    rotate_deg: float = 10.0
    translate: float = 0.06  # fraction of the side
    zoom: tuple[float, float] = (0.9, 1.15)  # >1 = crop in (crop/scale)
    gain: float = 0.08  # additive, in [0, 1] display-intensity units
    contrast: tuple[float, float] = (0.85, 1.15)  # multiplicative
    early_drop: float = 0.25  # probability that a case keeps only its early-set slots
    gapped_drop: float = 0.25  # probability of early + 10:00 with some of the 3-6 min slots missing
    roi_shift: float = 0.2  # ROI centre jitter, fraction of its side (per axis)
    # ROI side jitter: 1.2-2.5x the lesion diameter, given ROIs are ~1.6x, so 0.75-1.56x the given side
    roi_scale: tuple[float, float] = (0.75, 1.56)

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
            gapped_drop=0.0,
            roi_shift=0.0,
            roi_scale=(1.0, 1.0),
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


def phase_dropout(
    mask: torch.Tensor,
    cfg: AugmentConfig,
    early_keep: torch.Tensor | None,
    gap: torch.Tensor | None = None,
    gen: torch.Generator | None = None,
) -> torch.Tensor:
    """A new mask: per case, early set only, gapped full, or as it is (slots absent stay absent).

    ``early_keep`` [n_slots] bool: the early set's slots; ``gap`` [n_slots] bool: the slots a full
    set may lack (3-6 min). Either None switches its variant off.
    """
    n, device = mask.shape[0], mask.device
    mask = mask.clone()
    u = torch.rand(n, generator=gen, device=device)
    if early_keep is not None and cfg.early_drop > 0:
        drop = u < cfg.early_drop
        mask[drop] = mask[drop] * early_keep.to(mask.dtype)
    if gap is not None and cfg.gapped_drop > 0 and bool(gap.any()):
        gapped = (u >= cfg.early_drop) & (u < cfg.early_drop + cfg.gapped_drop)
        idx = torch.nonzero(gap.to(device)).flatten()
        # a non-empty subset of the gap slots: bits 1 … 2^k − 1
        bits = torch.randint(1, 2 ** len(idx), (n,), generator=gen, device=device)
        for j, slot in enumerate(idx.tolist()):
            off = gapped & ((bits >> j) & 1).bool()
            mask[off, slot] = 0.0
    return mask


def _roi_thetas(
    theta: torch.Tensor, ctx_scale: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator | None
) -> torch.Tensor:
    """Per-slot affine [N·n_slots, 2, 3] into the context: the case's transform ``theta`` (in ROI
    coordinates) after one jittered ROI per case (shift and scale shared by its slots)."""
    n, k = ctx_scale.shape
    device = theta.device
    f = _uniform(n, cfg.roi_scale[0], cfg.roi_scale[1], gen, device).view(n, 1)
    ox = _uniform(n, -cfg.roi_shift, cfg.roi_shift, gen, device).view(n, 1)
    oy = _uniform(n, -cfg.roi_shift, cfg.roi_shift, gen, device).view(n, 1)
    r = ctx_scale.to(device=device, dtype=theta.dtype)  # ROI half-side in context grid units
    scale = (f * r).view(n, k, 1, 1)
    out = theta.view(n, 1, 2, 3).expand(n, k, 2, 3) * scale
    out = out.clone()
    out[..., 0, 2] += 2.0 * ox * r  # the grid spans 2: a shift of ox sides is 2·ox·r
    out[..., 1, 2] += 2.0 * oy * r
    return out.reshape(n * k, 2, 3)


def synchronized_augment(
    images: torch.Tensor,
    mask: torch.Tensor,
    spec: InputSpec,
    cfg: AugmentConfig,
    early_keep: torch.Tensor | None = None,
    gen: torch.Generator | None = None,
    *,
    gap: torch.Tensor | None = None,
    context: torch.Tensor | None = None,
    ctx_scale: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment a batch: ``images`` [N, n_slots, S, S] normalized, ``mask`` [N, n_slots] → same shapes.

    ``early_keep`` / ``gap`` [n_slots] bool drive phase dropout (:func:`phase_dropout`). ``context``
    uint8 [N, n_slots, P, P] with ``ctx_scale`` [N, n_slots] (trainer.cache): sample the jittered
    ROI from the context crops instead of transforming ``images``.
    """
    n, device = images.shape[0], images.device
    mask = phase_dropout(mask, cfg, early_keep, gap, gen)
    theta = affine_thetas(n, cfg, gen, device)
    if context is not None and ctx_scale is not None:
        k, size = images.shape[1], images.shape[-1]
        src = context.to(device).float().div_(255.0).reshape(n * k, 1, *context.shape[-2:])
        grid = F.affine_grid(_roi_thetas(theta, ctx_scale, cfg, gen), [n * k, 1, size, size],
                             align_corners=False)
        pix = F.grid_sample(src, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        pix = pix.view(n, k, size, size)
    else:
        # Shift so that black display pixels are 0: grid_sample's zero padding then fills with black,
        # as crop_roi does outside the frame.
        pix = images.float() * spec.std + spec.mean  # [0, 1] display intensity
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        pix = F.grid_sample(pix, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    contrast = _uniform(n, cfg.contrast[0], cfg.contrast[1], gen, device).view(n, 1, 1, 1)
    gain = _uniform(n, -cfg.gain, cfg.gain, gen, device).view(n, 1, 1, 1)
    pix = (pix * contrast + gain).clamp_(0.0, 1.0)
    out = (pix - spec.mean) / spec.std
    out = out * mask.view(n, -1, 1, 1)
    return out.to(images.dtype), mask
