"""The arterial-phase enhancement pattern from the radial profile of the lesion at its arterial peak.

The lesion (segmented region, else the default core) is split into a centre (radius < 0.5 of the
lesion's) and a periphery (0.6–1.0), and the periphery into :data:`SECTORS` angular sectors. Each is
compared with the liver at that moment:

- ``diffuse``: the centre is hyperenhancing and at least :data:`DIFFUSE_SHARE` of the periphery's level;
- ``rim``: the periphery is hyperenhancing, the centre is not (below ``DIFFUSE_SHARE`` of it), at
  least :data:`RING_SHARE` of the sectors are hyperenhancing and their levels vary little (coefficient of
  variation ≤ :data:`NODULAR_SPREAD`): a closed, even ring;
- ``peripheral_nodular``: as rim, but discontinuous: fewer hyperenhancing sectors (at least two), or
  levels that vary from sector to sector (nodules and gaps);
- None: no arterial hyperenhancement, a lesion too small to split (radius < :data:`MIN_RADIUS_PX`), or a
  profile that fits none of the above.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ceusdesk.evidence.features import HYPER_RATIO

SECTORS = 12
DIFFUSE_SHARE = 0.6
RING_SHARE = 0.75
MIN_RADIUS_PX = 5.0
NODULAR_SPREAD = 0.35


@dataclass(frozen=True)
class Profile:
    centre_ratio: float | None
    rim_ratio: float | None
    hyper_sectors: float | None  # share of peripheral sectors that are hyperenhancing
    pattern: str | None
    spread: float | None = None  # coefficient of variation of the sectors' levels


def radial_profile(patch: np.ndarray, region: np.ndarray, liver_mean: float) -> Profile:
    """``patch``: linear ROI image at the arterial peak (a few frames averaged); ``region``: the lesion."""
    if liver_mean <= 1e-6 or region.sum() < 9:
        return Profile(None, None, None, None)
    ys, xs = np.nonzero(region)
    cy, cx = float(ys.mean()), float(xs.mean())
    radius = float(np.sqrt(region.sum() / np.pi))
    if radius < MIN_RADIUS_PX:
        return Profile(None, None, None, None)
    sm = cv2.GaussianBlur(patch.astype(np.float32), (0, 0), max(1.0, radius / 12.0))
    yy, xx = np.mgrid[0:patch.shape[0], 0:patch.shape[1]]
    rho = np.hypot(yy - cy, xx - cx) / radius
    theta = np.arctan2(yy - cy, xx - cx)
    centre = region & (rho < 0.5)
    rim = region & (rho >= 0.6) & (rho <= 1.0)
    if centre.sum() < 4 or rim.sum() < SECTORS * 2:
        return Profile(None, None, None, None)
    c = float(sm[centre].mean()) / liver_mean
    r = float(sm[rim].mean()) / liver_mean
    sector = ((theta + np.pi) / (2 * np.pi) * SECTORS).astype(int) % SECTORS
    levels = [float(sm[rim & (sector == k)].mean()) / liver_mean for k in range(SECTORS)
              if (rim & (sector == k)).any()]
    hyper = float(np.mean([v >= HYPER_RATIO for v in levels])) if levels else 0.0
    spread = float(np.std(levels)) / max(float(np.mean(levels)), 1e-9) if levels else 0.0
    return Profile(c, r, hyper, classify(c, r, hyper, spread), spread)


def classify(centre: float, rim: float, hyper_share: float, spread: float = 0.0) -> str | None:
    """The pattern name from centre and periphery ratios (to the liver), the hyper sectors' share and
    the sectors' spread (coefficient of variation)."""
    if max(centre, rim) < HYPER_RATIO:
        return None
    if centre >= HYPER_RATIO and centre >= DIFFUSE_SHARE * rim:
        return "diffuse"
    if rim >= HYPER_RATIO and centre < DIFFUSE_SHARE * rim:
        if hyper_share >= RING_SHARE and spread <= NODULAR_SPREAD:
            return "rim"
        if hyper_share * SECTORS >= 2:
            return "peripheral_nodular"
    return None
