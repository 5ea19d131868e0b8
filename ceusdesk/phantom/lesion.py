"""Lesion geometry and its spatial patterns, as functions of lesion-local coordinates.

Coordinates ``u, v`` are in units of the lesion's nominal radius (centre at 0), so the same lesion
is drawn identically at any panel size and the washout score can be computed on a small grid.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ceusdesk.phantom.params import Lesion


def _sig(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass
class LesionMaps:
    """Static maps of one lesion on some grid (all the same shape)."""

    rho: np.ndarray      # radius / boundary radius at that angle (1 = edge)
    mask: np.ndarray     # soft inside-ness 0..1
    kupffer: np.ndarray  # Kupffer-cell content relative to liver
    echo: np.ndarray     # B-mode reflectivity factor (power) inside and around the lesion
    nodules: np.ndarray  # peripheral nodules (hemangioma)
    spokes: np.ndarray   # spoke-wheel arteries (FNH)
    patches: np.ndarray  # mosaic / texture field 0..~1.3
    viable: np.ndarray   # 1 where tissue is perfusable (0 in necrosis and scar)

    def perfusion(self, lesion: Lesion, front: float) -> np.ndarray:
        """Spatial fill map P (0..~1.3) at a moment when the fill front has reached ``front`` (0..1)."""
        rho = self.rho
        if lesion.pattern == "nodular":  # peripheral nodules first, then centripetal fill-in
            seen = min(1.0, front * 20.0)
            filled = _sig((rho - (1.0 - front)) / 0.06)
            p = np.maximum(self.nodules * seen, filled)
        elif lesion.pattern == "spoke":  # centrifugal from the central artery along spokes
            seen = min(1.0, front * 20.0)
            p = np.maximum(self.spokes * seen * _sig((front * 1.3 + 0.25 - rho) / 0.05),
                           _sig((front - rho) / 0.08))
        elif lesion.pattern == "rim":
            p = 0.3 + 0.7 * _sig((rho - 0.65) / 0.07)
        elif lesion.pattern == "mosaic":
            p = self.patches
        else:
            p = 0.85 + 0.15 * np.clip(self.patches, 0.0, 1.0)
        return p * self.viable


def boundary_rho(u: np.ndarray, v: np.ndarray, lesion: Lesion) -> np.ndarray:
    theta = np.arctan2(v, u)
    radius = np.ones_like(u)
    for k, (amp, phase) in enumerate(lesion.harmonics, start=2):
        radius = radius + amp * np.cos(k * theta + phase)
    return np.hypot(u, v) / np.maximum(radius, 0.3)


def _blob_field(u: np.ndarray, v: np.ndarray, blobs, scale: float = 1.0) -> np.ndarray:
    out = np.zeros_like(u)
    for bu, bv, size, weight in blobs:
        out = np.maximum(out, weight * np.exp(-((u - bu) ** 2 + (v - bv) ** 2) / (2 * (size * scale) ** 2)))
    return out


def build_maps(u: np.ndarray, v: np.ndarray, lesion: Lesion) -> LesionMaps:
    rho = boundary_rho(u, v, lesion)
    edge = 0.03 * lesion.edge_px
    mask = _sig((1.0 - rho) / edge)
    ph1, ph2 = lesion.harmonics[0][1], lesion.harmonics[1][1]
    patchy = np.clip(0.5 + 0.7 * np.sin(2.7 * u + ph1) * np.cos(2.3 * v + ph2), 0.0, 1.0)
    viable = np.ones_like(u)
    if lesion.necrosis > 0:
        viable = viable * (1.0 - _sig((lesion.necrosis - rho) / 0.05))
    if lesion.scar > 0:
        viable = viable * (1.0 - _sig((lesion.scar - rho) / 0.03))
    kupffer = lesion.kupffer * (1.0 - lesion.kupffer_patchy * patchy) * viable
    nodules = np.zeros_like(u)
    spokes = np.zeros_like(u)
    patches = np.zeros_like(u)
    if lesion.pattern == "nodular":
        nodules = _blob_field(u, v, lesion.blobs)
    elif lesion.pattern == "spoke":
        for bu, bv, width, weight in lesion.blobs:
            a = np.arctan2(bv, bu)
            along = u * np.cos(a) + v * np.sin(a)
            perp = np.abs(u * np.sin(a) - v * np.cos(a))
            spokes = np.maximum(spokes, weight * np.exp(-(perp / width) ** 2) * (along > -0.05))
        spokes = np.maximum(spokes, np.exp(-(u ** 2 + v ** 2) / (2 * 0.12 ** 2)))  # feeding artery
    if lesion.blobs and lesion.pattern in ("mosaic", "homogeneous"):
        patches = 0.35 + _blob_field(u, v, lesion.blobs)
    elif lesion.pattern == "homogeneous":
        patches = patchy
    # B-mode: echo inside (with mosaic), hypoechoic halo around, faint echogenic scar
    echo_in = lesion.echo ** 2 * (1.0 + lesion.mosaic * (patchy - 0.5) * 1.6)
    if lesion.scar > 0:
        echo_in = echo_in * (1.0 + 0.8 * _sig((lesion.scar * 1.3 - rho) / 0.04))
    halo = 1.0 - 0.85 * lesion.halo * np.exp(-((rho - 1.03) / 0.07) ** 2)
    echo = (1.0 + mask * (echo_in - 1.0)) * halo
    return LesionMaps(rho=rho, mask=mask, kupffer=kupffer, echo=echo, nodules=nodules, spokes=spokes,
                      patches=patches, viable=viable)
