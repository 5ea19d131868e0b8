"""Display grey levels → linear echo power: undo the scanner's log compression.

A scanner shows contrast signal log-compressed: grey ``g`` (0..255) spans a display dynamic range of
``DR`` dB above a floor. Means of grey levels are means of logarithms, which understate bright speckle and
make ratios depend on gain; means of linear power do not. ``linear(g) = (10^(g/255·DR/10) − 1) /
(10^(DR/10) − 1)``: 0 at the display floor (black), 1 at full white.

The dynamic range is a property of the scanner's preset. :func:`known_profiles` holds the presets known
here, by DICOM Manufacturer and Manufacturer Model Name; any other scanner gets
:data:`DEFAULT_DYNAMIC_RANGE_DB`, and ``assumptions`` says so. Ratios keep their direction (hyper, iso,
hypo) under any assumed range; their size scales with it.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

DEFAULT_DYNAMIC_RANGE_DB = 40.0


@dataclass(frozen=True)
class Linearization:
    """How display grey levels were turned into linear power, and where that choice came from.

    ``gamma``: the colour map's brightness curve (brightest channel = 255 · (grey/255)^gamma); 1 for a
    grey or tinted map.
    """

    dynamic_range_db: float
    source: str  # "profile <model>" or "default"
    gamma: float = 1.0

    @property
    def lut(self) -> np.ndarray:
        """256-entry float32 table: brightness (brightest channel) → linear power (0 floor, 1 white)."""
        b = np.arange(256, dtype=np.float64) / 255.0
        g = b ** (1.0 / self.gamma)
        top = 10.0 ** (self.dynamic_range_db / 10.0) - 1.0
        return ((10.0 ** (g * self.dynamic_range_db / 10.0) - 1.0) / top).astype(np.float32)

    def describe(self) -> str:
        where = f"scanner {self.source}" if self.source != "default" else "the default: scanner not known"
        return (f"display intensities linearized assuming log compression over {self.dynamic_range_db:g} dB "
                f"({where})")


@cache
def known_profiles() -> dict[tuple[str, str], Linearization]:
    """(manufacturer, model), lower case → linearization. The phantom's virtual scanners are the only
    scanners whose contrast presets are known here; a site's scanner is added the same way."""
    from ..phantom.export import MANUFACTURER
    from ..phantom.scanner import PROFILES

    return {(MANUFACTURER.lower(), p.model.lower()): Linearization(
        p.ceus_range_db, f"profile {p.model}", 0.8 if p.colour == "gold" else 1.0) for p in PROFILES.values()}


def linearization_for(manufacturer: str | None, model: str | None) -> Linearization:
    """The profile of this scanner, else the documented default."""
    key = ((manufacturer or "").strip().lower(), (model or "").strip().lower())
    return known_profiles().get(key, Linearization(DEFAULT_DYNAMIC_RANGE_DB, "default"))


def brightness(rgb: np.ndarray) -> np.ndarray:
    """uint8 brightness of a display image: the largest of R, G, B.

    Contrast panels are usually tinted (sepia, amber); the brightest channel follows the grey level the
    colour map was fed, where a luminance mix would scale it by the tint.
    """
    if rgb.ndim == 2:
        return rgb
    return np.maximum(np.maximum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])  # ~10x faster than max(axis=2)
