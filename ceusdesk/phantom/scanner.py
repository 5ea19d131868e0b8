"""Virtual scanners: how one make of machine shows and exports a CEUS examination.

Real cohorts mix machines. Each profile fixes what a vendor's preset fixes (dynamic ranges, contrast gain,
how dim the low-MI B-mode reference is, speckle size, colour map, frame rates, panel geometry, where the
contrast panel usually sits); the per-case knobs a sonographer turns (gains, TGC) stay in
:class:`~ceusdesk.phantom.params.Display`. The DICOM ``ManufacturerModelName`` names the profile.

"Bright" profiles are modern low-MI presets: once the agent arrives the contrast panel is as bright as or
brighter than the B-mode reference, which the scanner dims. A brightness rule cannot tell the sides apart
there; the app has to use other cues (issue 12).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ceusdesk.evidence.scanners import builtin_preset

MANUFACTURER = "ceusdesk-phantom"  # DICOM Manufacturer of every phantom file
SEPIA = (1.0, 0.92, 0.78)  # the classic warm CEUS tint
GREY = (1.0, 1.0, 1.0)
BRONZE = (1.0, 0.84, 0.62)


@dataclass(frozen=True)
class ScannerProfile:
    """One virtual scanner model and its CEUS preset.

    name: short key (``PhantomOptions.scanner``, cases.jsonl ``scanner``).
    model: DICOM ManufacturerModelName.
    colour: "tint" (grey × ``tint`` per channel) or "gold" (a black→amber→yellow colour map).
    ceus_floor_db, ceus_range_db: contrast-mode log compression; the range is the evidence's preset
        for this model (``ceusdesk/evidence/scanners.json``), never set here.
    ceus_gain_db: preset contrast gain added to the case's own gain.
    bmode_floor_db, bmode_range_db: B-mode log compression.
    reference_db: gain of the B-mode reference panel of the dual display relative to plain B-mode
        (low-MI imaging makes it dimmer; bright presets dim it further).
    speckle: speckle grain size relative to the classic ~0.6 mm cell.
    persistence: contrast frames averaged by the scanner (fewer → grainier bubbles).
    noise: electronic noise power relative to the classic profile.
    fps: frame rates the preset offers (realistic clips).
    panel_scale: (width, height) factors on ``PhantomOptions.panel_size``.
    half_angle: half the convex sector's opening (rad).
    margin_scale, top_scale: screen margins and banner height relative to the classic layout.
    label: the mode's name burned in above the contrast panel; mi: the preset's mechanical index range.
    p_left: chance that the contrast panel is on the left (vendors differ; users can swap).
    weight: share of studies made on this scanner in a clinical cohort.
    """

    name: str
    model: str
    colour: str = "tint"
    tint: tuple[float, float, float] = SEPIA
    ceus_floor_db: float = -23.0
    ceus_range_db: float = 0.0  # filled from ceusdesk/evidence/scanners.json by the model name
    ceus_gain_db: float = 0.0
    bmode_floor_db: float = -27.0
    bmode_range_db: float = 55.0
    reference_db: float = -2.0
    speckle: float = 1.0
    persistence: int = 2
    noise: float = 1.0
    fps: tuple[float, ...] = (10.0, 12.0, 15.0)
    panel_scale: tuple[float, float] = (1.0, 1.0)
    half_angle: float = 0.6
    margin_scale: float = 1.0
    top_scale: float = 1.0
    label: str = "CEUS"
    mi: tuple[float, float] = (0.16, 0.26)
    p_left: float = 0.5
    weight: float = 0.25

    @property
    def bright(self) -> bool:
        """A low-MI preset whose contrast panel outshines the dimmed reference after arrival."""
        return self.reference_db <= -8.0

    def panel_size(self, base: tuple[int, int]) -> tuple[int, int]:
        """Panel (width, height) on this scanner for the requested base size (scaled ones even, at least
        64×48; an unscaled profile keeps the base size exactly)."""
        if self.panel_scale == (1.0, 1.0):
            return base
        w = max(64, int(round(base[0] * self.panel_scale[0] / 2)) * 2)
        h = max(48, int(round(base[1] * self.panel_scale[1] / 2)) * 2)
        return w, h

    def colourize(self, grey: np.ndarray) -> np.ndarray:
        """Contrast panel grey levels (float 0..255) → RGB uint8 as the scanner shows them."""
        if self.colour == "gold":
            v = np.clip(grey / 255.0, 0.0, 1.0)[..., None]
            rgb = 255.0 * np.power(v, np.array([0.8, 1.25, 2.4], np.float32)) \
                * np.array([1.0, 0.9, 0.55], np.float32)
        else:
            rgb = grey[..., None] * np.asarray(self.tint, np.float32)
        return np.clip(rgb + 0.5, 0, 255).astype(np.uint8)


def _from_table(p: ScannerProfile) -> ScannerProfile:
    """The profile with the contrast dynamic range the evidence's preset table gives its model."""
    return replace(p, ceus_range_db=builtin_preset(MANUFACTURER, p.model).dynamic_range_db)


PROFILES: dict[str, ScannerProfile] = {p.name: _from_table(p) for p in (
    # the phantom's original look: sepia contrast, a little darker than the B-mode reference
    ScannerProfile("classic", "PH-100 Classic"),
    # grey contrast with a wide dynamic range, finer speckle, wide-aspect panels, contrast mostly left
    ScannerProfile("grey-wide", "PH-200 Wide", tint=GREY, ceus_floor_db=-26.0,
                   ceus_gain_db=-1.0, bmode_range_db=60.0, bmode_floor_db=-29.0, reference_db=-3.0,
                   speckle=0.8, persistence=1, noise=1.5, fps=(8.0, 10.0), panel_scale=(1.1, 0.9),
                   half_angle=0.68, margin_scale=1.5, top_scale=1.3, label="CONTRAST", p_left=0.8,
                   weight=0.2),
    # amber colour map, narrow dynamic range, coarse speckle, high frame rate, contrast mostly right
    ScannerProfile("gold", "PH-300 Amber", colour="gold", ceus_floor_db=-22.0,
                   ceus_gain_db=1.0, bmode_range_db=50.0, bmode_floor_db=-25.0, reference_db=-4.0,
                   speckle=1.35, persistence=3, noise=0.7, fps=(15.0, 20.0), panel_scale=(0.9, 1.0),
                   half_angle=0.55, margin_scale=0.8, top_scale=1.6, label="CHI", mi=(0.18, 0.3),
                   p_left=0.2, weight=0.2),
    # low-MI presets: bright contrast, the B-mode reference dimmed (either side)
    ScannerProfile("lowmi-grey", "PH-400 LowMI", tint=GREY, ceus_floor_db=-25.0,
                   ceus_gain_db=0.5, bmode_range_db=52.0, reference_db=-10.0, speckle=1.1,
                   fps=(10.0, 12.0), label="LOW MI", mi=(0.05, 0.12), p_left=0.5, weight=0.2),
    ScannerProfile("lowmi-bronze", "PH-500 LowMI", tint=BRONZE, ceus_floor_db=-24.0,
                   ceus_gain_db=2.5, bmode_range_db=56.0, bmode_floor_db=-28.0, reference_db=-9.0,
                   speckle=1.2, persistence=2, noise=1.2, fps=(12.0, 15.0), panel_scale=(1.05, 1.1),
                   half_angle=0.64, margin_scale=1.2, top_scale=0.9, mi=(0.06, 0.14), p_left=0.5,
                   weight=0.15),
)}

STANDARD = "classic"


def draw_profile(rng: np.random.Generator) -> ScannerProfile:
    """One scanner for a clinical study, in the profiles' shares."""
    profiles = list(PROFILES.values())
    w = np.array([p.weight for p in profiles])
    return profiles[int(rng.choice(len(profiles), p=w / w.sum()))]


def draw_side(rng: np.random.Generator, profile: ScannerProfile) -> str:
    return "left" if rng.random() < profile.p_left else "right"
