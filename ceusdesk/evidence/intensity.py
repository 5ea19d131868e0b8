"""Display grey levels → linear echo power: undo the scanner's log compression.

A scanner shows contrast signal log-compressed: grey ``g`` (0..255) spans a display dynamic range of
``DR`` dB above a floor. Means of grey levels are means of logarithms, which understate bright speckle and
make ratios depend on gain; means of linear power do not. ``linear(g) = (10^(g/255·DR/10) − 1) /
(10^(DR/10) − 1)``: 0 at the display floor (black), 1 at full white.

The dynamic range is a property of the scanner's preset: :mod:`ceusdesk.evidence.scanners` holds the
presets known here (a table IT can extend), by DICOM Manufacturer and Manufacturer Model Name; any other
scanner gets the table's default (:data:`DEFAULT_DYNAMIC_RANGE_DB`), and ``assumptions`` says so.
Ratios keep their direction (hyper, iso, hypo) under any assumed range; their size scales with it
(``benchmarks/evidence.py --assume-range`` measures what a wrong preset costs).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ceusdesk.evidence.scanners import builtin_table, preset_table

DEFAULT_DYNAMIC_RANGE_DB = builtin_table().default_dynamic_range_db  # scanners.json "default"


@dataclass(frozen=True)
class Linearization:
    """How display grey levels were turned into linear power, and where that choice came from.

    ``gamma``: the colour map's brightness curve (brightest channel = 255 · (grey/255)^gamma); 1 for a
    grey or tinted map.
    """

    dynamic_range_db: float
    source: str  # "preset <model>[ / <protocol>][ from <site file>]" or "default"
    gamma: float = 1.0

    @property
    def lut(self) -> np.ndarray:
        """256-entry float32 table: brightness (brightest channel) → linear power (0 floor, 1 white)."""
        b = np.arange(256, dtype=np.float64) / 255.0
        g = b ** (1.0 / self.gamma)
        top = 10.0 ** (self.dynamic_range_db / 10.0) - 1.0
        return ((10.0 ** (g * self.dynamic_range_db / 10.0) - 1.0) / top).astype(np.float32)

    def describe(self) -> str:
        where = (f"scanner {self.source}" if self.source != "default"
                 else "assumed: the table's default, this scanner is not in ceusdesk/evidence/scanners.json")
        return (f"display intensities linearized assuming log compression over {self.dynamic_range_db:g} dB "
                f"({where})")


def linearization_for(manufacturer: str | None, model: str | None,
                      protocol: str | None = None) -> Linearization:
    """The preset of this scanner (``ceusdesk.evidence.scanners``), else the table's stated default."""
    table = preset_table()
    preset = table.find(manufacturer, model, protocol)
    if preset is None:
        return Linearization(table.default_dynamic_range_db, "default", table.default_gamma)
    name = f"{preset.model}" + (f" / {preset.protocol}" if preset.protocol else "")
    where = "" if preset.source == "built-in" else f" from {Path(preset.source).name}"
    return Linearization(preset.dynamic_range_db, f"preset {name}{where}", preset.gamma)


def brightness(rgb: np.ndarray) -> np.ndarray:
    """uint8 brightness of a display image: the largest of R, G, B.

    Contrast panels are usually tinted (sepia, amber); the brightest channel follows the grey level the
    colour map was fed, where a luminance mix would scale it by the tint.
    """
    if rgb.ndim == 2:
        return rgb
    return np.maximum(np.maximum(rgb[..., 0], rgb[..., 1]), rgb[..., 2])  # ~10x faster than max(axis=2)
