"""Render a case's contrast and B-mode panels at any time after injection.

Contrast mode (low MI): tissue is suppressed, microbubble signal follows the time–intensity curves,
with fresh Rayleigh speckle each frame (bubbles move), residual depth attenuation, electronic noise and
log compression. B-mode: backscatter times speckle frozen in tissue, imperfect TGC, log compression.
Panels are float32 grey levels 0..255 (outside the sector: 0).
"""
from __future__ import annotations

import numpy as np

from ceusdesk.phantom import kinetics as kin
from ceusdesk.phantom.params import CaseParams
from ceusdesk.phantom.scanner import PROFILES, STANDARD, ScannerProfile
from ceusdesk.phantom.scene import Scene, build_scene, speckle

NOISE_POWER = 3e-4
TISSUE_LEAK = 0.004  # tissue harmonic leaking through contrast-specific imaging


class Renderer:
    """Everything static about one case, ready to draw frames quickly."""

    def __init__(self, params: CaseParams, width: int, height: int, seed: int,
                 profile: ScannerProfile | None = None):
        self.params = params
        self.width, self.height = width, height
        self.seed = seed
        self.profile = profile or PROFILES[STANDARD]
        self.scene: Scene = build_scene(params, width, height, np.random.default_rng([seed, 1]),
                                        speckle_size=self.profile.speckle, half_angle=self.profile.half_angle)

    # ---- motion ---------------------------------------------------------------------------------
    def shift(self, clip_index: int, t_in_clip: float, t: float) -> tuple[int, int]:
        """Integer (dy, dx) of tissue relative to the probe: breathing plus per-clip probe drift."""
        d = self.params.display
        m = self.scene.geometry.margin
        rng = np.random.default_rng([self.seed, 2, clip_index])
        drift = d.drift * self.height
        dy0, dx0, vy, vx = rng.uniform(-1, 1, 4) * np.array([drift, drift, drift / 4, drift / 4])
        phase = 2 * np.pi * t / d.breathing_period + d.breathing_phase
        breathe = d.breathing_px * self.height * np.sin(phase)
        dy = int(round(np.clip(dy0 + vy * t_in_clip / 5 + breathe, -m, m)))
        dx = int(round(np.clip(dx0 + vx * t_in_clip / 5, -m, m)))
        return dy, dx

    def _crop(self, a: np.ndarray, shift: tuple[int, int]) -> np.ndarray:
        m = self.scene.geometry.margin
        dy, dx = shift
        return a[m - dy:m - dy + self.height, m - dx:m - dx + self.width]

    # ---- signal ---------------------------------------------------------------------------------
    def contrast_signal(self, t: float) -> np.ndarray:
        """Noise-free linear microbubble signal on the canvas at time ``t``."""
        p, s = self.params, self.scene
        k, les = p.kinetics, p.lesion
        liver = float(kin.liver(t, k))
        sig = s.liver * s.perfusion_texture * liver
        sig = sig + s.artery * float(kin.arterial(t, k)) * 0.8
        sig = sig + s.portal * float(kin.portal(t, k)) * 0.9
        sig = sig + s.hepatic * float(kin.hepatic_vein(t, k)) * 0.8
        sig = sig + s.wall * 0.05 * float(kin.arterial(t, k))
        sig = sig + s.below * 0.25 * liver  # mirror image of the liver beyond the diaphragm
        lm = s.lesion
        front = kin.fill_front(t, k, les)
        lesion = (lm.perfusion(les, front) * float(kin.lesion_blood(t, k, les))
                  + lm.kupffer * float(kin.kupffer(t, k)))
        sig = sig * (1 - lm.mask) + lm.mask * lesion
        return sig.astype(np.float32) + TISSUE_LEAK * s.reflectivity

    def contrast_panel(self, t: float, rng: np.random.Generator, shift: tuple[int, int] = (0, 0),
                       noise: bool = True) -> np.ndarray:
        p, s, sc = self.params, self.scene, self.profile
        sig = self._crop(self.contrast_signal(t), shift)
        gain_db = p.display.ceus_gain_db + sc.ceus_gain_db - p.display.ceus_attenuation * s.depth_cm
        power = sig * 10.0 ** (gain_db / 10.0)
        noise_power = NOISE_POWER * sc.noise
        if noise:
            px_scale = sc.speckle * 0.06 / s.geometry.cm_per_px
            # persistence (frame averaging on the scanner) blends a few bubble speckle patterns
            grains = speckle(rng, power.shape, px_scale)
            for _ in range(sc.persistence - 1):
                grains += speckle(rng, power.shape, px_scale)
            power = power * (grains / sc.persistence) \
                + noise_power * rng.exponential(1.0, power.shape).astype(np.float32)
        else:
            power = power * 10 ** (-0.11) + noise_power  # log-mean of the speckle (gamma, k=2)
        return self._display(power, sc.ceus_floor_db, sc.ceus_range_db)

    def reference_panel(self, shift: tuple[int, int] = (0, 0)) -> np.ndarray:
        """The B-mode reference beside the contrast panel (low MI: dimmer than plain B-mode)."""
        return self.bmode_panel(shift, gain_offset_db=self.profile.reference_db)

    def bmode_panel(self, shift: tuple[int, int] = (0, 0), gain_offset_db: float = 0.0) -> np.ndarray:
        p, s, sc = self.params, self.scene, self.profile
        power = self._crop(s.reflectivity * s.tissue_speckle, shift)
        ripple = p.display.tgc_ripple_db * np.sin(2 * np.pi * s.depth_cm / 6.0 + p.display.breathing_phase)
        far = -0.4 * np.clip(s.depth_cm - 10.0, 0, None)
        gain_db = p.display.bmode_gain_db + gain_offset_db + ripple + far
        return self._display(power * 10.0 ** (gain_db / 10.0) + 1e-4, sc.bmode_floor_db, sc.bmode_range_db)

    def _display(self, power: np.ndarray, floor_db: float, range_db: float) -> np.ndarray:
        db = 10.0 * np.log10(np.maximum(power, 1e-12))
        out = np.clip((db - floor_db) / range_db, 0.0, 1.0) * 255.0
        return np.where(self.scene.sector, out, 0.0).astype(np.float32)

    # ---- measurement ----------------------------------------------------------------------------
    def regions(self) -> tuple[np.ndarray, np.ndarray]:
        """Panel masks of the lesion core and a ring of liver around it (for intensity ratios)."""
        lm = self.scene.lesion
        rho = self._crop(lm.rho, (0, 0))
        liver = self._crop(self.scene.liver, (0, 0)) > 0.9
        core = (rho < 0.85) & self.scene.sector
        ring = (rho > 1.4) & (rho < 2.6) & liver & self.scene.sector
        return core, ring

    def lesion_liver_ratio(self, t: float, rng: np.random.Generator | None = None) -> float:
        """Mean displayed contrast intensity in the lesion over that of the surrounding liver."""
        core, ring = self.regions()
        img = self.contrast_panel(t, rng if rng is not None else np.random.default_rng(0))
        return float(img[core].mean() / max(float(img[ring].mean()), 1e-3))
