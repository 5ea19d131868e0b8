"""The static anatomy of one case on a pixel canvas: reflectivity, tissue speckle, vessels, lesion.

The canvas is the panel plus a margin on every side; breathing and probe drift move the panel window
over it, so tissue (and its B-mode speckle) moves while the probe geometry (sector, depth) stays put.
Sector geometry is a convex probe: apex above the panel, about ±34°.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ceusdesk.phantom.lesion import LesionMaps, build_maps
from ceusdesk.phantom.params import CaseParams

HALF_ANGLE = 0.6  # rad
TIMER_BAND = 0.1  # top share of the panel kept for the burned-in timer (the ROI stays below it)


@dataclass
class Geometry:
    width: int
    height: int
    margin: int
    cm_per_px: float
    apex_px: float  # apex distance above the panel's top edge

    @property
    def canvas_shape(self) -> tuple[int, int]:
        return self.height + 2 * self.margin, self.width + 2 * self.margin


def _rayleigh_field(rng: np.random.Generator, shape: tuple[int, int], sx: float, sy: float) -> np.ndarray:
    """Speckle power (mean 1): |filtered complex Gaussian|², exponential per pixel as in real speckle."""
    re: np.ndarray = rng.standard_normal(shape, dtype=np.float32)
    im: np.ndarray = rng.standard_normal(shape, dtype=np.float32)
    re = cv2.GaussianBlur(re, (0, 0), sigmaX=sx, sigmaY=sy)
    im = cv2.GaussianBlur(im, (0, 0), sigmaX=sx, sigmaY=sy)
    p = re * re + im * im
    return p / max(float(p.mean()), 1e-12)


def speckle(rng: np.random.Generator, shape: tuple[int, int], px_scale: float) -> np.ndarray:
    """Speckle grains elongated laterally, sized like a ~3 MHz convex probe's resolution cell."""
    return _rayleigh_field(rng, shape, sx=max(0.6, 0.9 * px_scale), sy=max(0.5, 0.6 * px_scale))


def _segment_distance(x: np.ndarray, y: np.ndarray, p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    d = p1 - p0
    t = np.clip(((x - p0[0]) * d[0] + (y - p0[1]) * d[1]) / max(float(d @ d), 1e-9), 0.0, 1.0)
    return np.hypot(x - (p0[0] + t * d[0]), y - (p0[1] + t * d[1]))


@dataclass
class Scene:
    geometry: Geometry
    reflectivity: np.ndarray     # B-mode backscatter power (liver = 1)
    tissue_speckle: np.ndarray   # fixed in tissue
    liver: np.ndarray            # parenchyma weight 0..1 (outside vessels and lesion)
    perfusion_texture: np.ndarray  # slight heterogeneity of parenchymal enhancement
    artery: np.ndarray
    portal: np.ndarray
    hepatic: np.ndarray
    wall: np.ndarray             # abdominal wall (muscle perfusion)
    below: np.ndarray            # beyond the diaphragm (mirror artefact)
    lesion: LesionMaps           # on the canvas grid
    lesion_px: tuple[float, float, float]  # centre x, y in panel pixels, nominal radius in px
    sector: np.ndarray           # panel-sized bool mask of the imaged fan
    depth_cm: np.ndarray         # panel-sized depth along the beam


def geometry_for(params: CaseParams, width: int, height: int) -> Geometry:
    return Geometry(width=width, height=height, margin=max(4, height // 24),
                    cm_per_px=params.anatomy.depth_cm / (height * 0.97), apex_px=0.3 * height)


def build_scene(params: CaseParams, width: int, height: int, rng: np.random.Generator,
                speckle_size: float = 1.0, half_angle: float = HALF_ANGLE) -> Scene:
    """The case's anatomy on a canvas; ``speckle_size`` and ``half_angle`` come from the scanner."""
    geo = geometry_for(params, width, height)
    an, les = params.anatomy, params.lesion
    hc, wc = geo.canvas_shape
    m, cmpp = geo.margin, geo.cm_per_px
    yy, xx = np.mgrid[0:hc, 0:wc].astype(np.float32)
    xcm = (xx - m - width / 2) * cmpp          # lateral cm from the centre line
    ycm = (yy - m) * cmpp                      # depth cm (Cartesian)
    px_scale = speckle_size * 0.06 / cmpp      # speckle cell ~0.6 mm wide on the classic scanner

    capsule = an.wall_cm + 0.02 * xcm ** 2
    if an.surface_cm > 0:  # nodular surface (cirrhosis)
        capsule = capsule + an.surface_cm * np.sin(xcm * 4.1 + an.wall_cm)
    dome = an.diaphragm_cm + an.diaphragm_tilt * xcm / 6.0 - 0.03 * xcm ** 2
    in_liver = _soft(ycm - capsule, 0.05) * _soft(dome - ycm, 0.05)

    tex: np.ndarray = rng.standard_normal((hc, wc), dtype=np.float32)
    tex = cv2.GaussianBlur(tex, (0, 0), sigmaX=max(0.7, an.texture_scale_cm / cmpp))
    tex = tex / max(float(tex.std()), 1e-6)
    liver_refl = np.exp(an.texture_sigma * tex) * an.brightness

    refl = np.full((hc, wc), 0.3, dtype=np.float32)
    fat_end = an.wall_cm * 0.45
    refl = np.where(ycm < fat_end, 0.35, refl)
    muscle = (ycm >= fat_end) & (ycm < capsule)
    refl = np.where(muscle, 0.7 + 0.4 * np.sin(ycm * 9.0) ** 2, refl)
    refl = np.where(ycm < 0.15, 2.5, refl)
    refl = refl * (1 - in_liver) + liver_refl * in_liver
    refl = refl + 3.0 * np.exp(-((ycm - capsule) / 0.06) ** 2)
    below = _soft(ycm - dome, 0.05)
    refl = refl * (1 - below) + 0.25 * liver_refl * below + 6.0 * np.exp(-((ycm - dome) / 0.12) ** 2)

    # lesion, in its own coordinates (units of its radius)
    r_cm = les.diameter_cm / 2
    # keep the ROI square (side 1.6 diameters) inside the panel and below the timer band
    roi_half = 1.6 * r_cm + cmpp
    ly_cm = float(np.clip(les.depth_cm, max(roi_half, TIMER_BAND * height * cmpp + roi_half),
                          height * cmpp - roi_half))
    half_w = np.tan(half_angle) * (geo.apex_px + ly_cm / cmpp) * cmpp - r_cm - 0.3
    half_w = min(half_w, width / 2 * cmpp - roi_half)
    lx_cm = les.lateral * max(half_w, 0.0)
    u = (xcm - lx_cm) / r_cm
    v = (ycm - ly_cm) / r_cm
    maps = build_maps(u, v, les)
    refl = refl * maps.echo

    artery = np.zeros((hc, wc), np.float32)
    portal = np.zeros_like(artery)
    hepatic = np.zeros_like(artery)
    wall_lumen = np.zeros_like(artery)
    for kind, x0, y0, ang, length, radius, bend in an.vessels:
        # a gently curving vessel tapering to 60 % of its calibre, drawn as 4 segments
        p0 = np.array([x0, y0])
        target = {"artery": artery, "portal": portal, "hepatic": hepatic}[kind]
        gap = np.full_like(xcm, np.inf)  # distance outside the lumen wall
        for i in range(4):
            a = ang + bend * i / 3
            p1 = p0 + length / 4 * np.array([np.cos(a), np.sin(a)])
            np.minimum(gap, _segment_distance(xcm, ycm, p0, p1) - radius * (1.0 - 0.1 * i), out=gap)
            p0 = p1
        np.maximum(target, _soft(-gap, max(0.03, 0.7 * cmpp)), out=target)
        if kind == "portal":  # echogenic portal walls
            np.maximum(wall_lumen, np.exp(-((gap - 0.06) / 0.05) ** 2), out=wall_lumen)
    keep = in_liver * (1.0 - np.clip(maps.mask * 1.3, 0, 1))  # lesions displace vessels
    artery, portal, hepatic, wall_lumen = (a * keep for a in (artery, portal, hepatic, wall_lumen))
    lumen_b = np.clip(portal + hepatic, 0, 1)
    refl = refl * (1 - lumen_b) + 0.02 * lumen_b + 2.0 * wall_lumen

    liver = in_liver * (1 - maps.mask) * (1 - np.clip(lumen_b + artery, 0, 1))
    perf_tex = np.exp(0.3 * an.texture_sigma * tex)

    spk = speckle(rng, (hc, wc), px_scale)

    # probe geometry in panel coordinates
    py, px = np.mgrid[0:height, 0:width].astype(np.float32)
    r = np.hypot(px - width / 2, py + geo.apex_px)
    theta = np.arctan2(px - width / 2, py + geo.apex_px)
    depth = (r - geo.apex_px) * cmpp
    sector = (np.abs(theta) < half_angle) & (depth < an.depth_cm) & (depth > 0)
    centre = (width / 2 + lx_cm / cmpp, ly_cm / cmpp)
    f32 = np.float32
    return Scene(
        geometry=geo, reflectivity=refl.astype(f32), tissue_speckle=spk, liver=liver.astype(f32),
        perfusion_texture=perf_tex.astype(f32), artery=artery.astype(f32), portal=portal.astype(f32),
        hepatic=hepatic.astype(f32), wall=(_soft(capsule - ycm, 0.05) * (ycm > fat_end)).astype(f32),
        below=below.astype(f32), lesion=_as32(maps), lesion_px=(centre[0], centre[1], r_cm / cmpp),
        sector=sector, depth_cm=depth.astype(f32),
    )


def _soft(x: np.ndarray, w: float) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(x / w))


def _as32(maps: LesionMaps) -> LesionMaps:
    return LesionMaps(**{k: np.asarray(v, dtype=np.float32) for k, v in vars(maps).items()})
