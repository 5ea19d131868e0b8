"""Scanner display presets for the evidence's linearization: a table the evidence owns.

The table is data (``scanners.json`` beside this module, shipped in the bundle). A site adds its scanner
there or in a file named by ``CEUSDESK_SCANNERS`` (same shape; its entries are matched first). A preset is
chosen by DICOM Manufacturer + Manufacturer Model Name, and, where an entry names a ``protocol``, by the
clip's Protocol Name too (the more specific entry wins). The phantom's virtual scanners read their
dynamic range from here, so the phantom follows the table and never the reverse.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ceusdesk.base.errors import CeusdeskError

ENV_SCANNERS = "CEUSDESK_SCANNERS"


class BadScannerTable(CeusdeskError):
    """A scanner preset table cannot be used (bad JSON, a missing or out-of-range value)."""

    exit_code = 2


@dataclass(frozen=True)
class ScannerPreset:
    manufacturer: str
    model: str
    dynamic_range_db: float
    gamma: float = 1.0
    protocol: str | None = None  # the clip's Protocol Name, where one scanner has several CEUS presets
    source: str = "built-in"

    def matches(self, manufacturer: str | None, model: str | None, protocol: str | None) -> bool:
        if _norm(manufacturer) != _norm(self.manufacturer) or _norm(model) != _norm(self.model):
            return False
        return self.protocol is None or _norm(protocol) == _norm(self.protocol)


@dataclass(frozen=True)
class PresetTable:
    default_dynamic_range_db: float
    default_gamma: float
    presets: tuple[ScannerPreset, ...]

    def find(self, manufacturer: str | None, model: str | None,
             protocol: str | None = None) -> ScannerPreset | None:
        """The matching preset; one naming the protocol beats one that does not; earlier entries first."""
        hits = [p for p in self.presets if p.matches(manufacturer, model, protocol)]
        hits.sort(key=lambda p: p.protocol is None)  # stable: the table's order within each kind
        return hits[0] if hits else None


def _norm(text: str | None) -> str:
    return (text or "").strip().lower()


def _number(entry: dict[str, Any], key: str, where: str, lo: float, hi: float,
            default: float | None = None) -> float:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not lo <= float(value) <= hi:
        raise BadScannerTable(f"{where}: {key} must be a number from {lo:g} to {hi:g}, got {value!r}")
    return float(value)


def parse_table(doc: Any, where: str, source: str | None = None) -> PresetTable:
    """Validate a table document (``scanners.json``'s shape); errors name ``where`` and the entry."""
    if not isinstance(doc, dict) or not isinstance(doc.get("presets", []), list):
        raise BadScannerTable(f"{where}: expected an object with a 'presets' list")
    default = doc.get("default") or {}
    if not isinstance(default, dict):
        raise BadScannerTable(f"{where}: 'default' must be an object")
    presets = []
    for i, e in enumerate(doc.get("presets", [])):
        at = f"{where}: presets[{i}]"
        if not isinstance(e, dict) or not all(isinstance(e.get(k), str) and e[k].strip()
                                               for k in ("manufacturer", "model")):
            raise BadScannerTable(f"{at}: needs 'manufacturer' and 'model' (text)")
        protocol = e.get("protocol")
        if protocol is not None and not isinstance(protocol, str):
            raise BadScannerTable(f"{at}: 'protocol' must be text")
        presets.append(ScannerPreset(e["manufacturer"], e["model"],
                                     _number(e, "dynamic_range_db", at, 6, 120),
                                     _number(e, "gamma", at, 0.2, 5, 1.0), protocol, source or where))
    return PresetTable(_number(default, "dynamic_range_db", f"{where}: default", 6, 120, 40.0),
                       _number(default, "gamma", f"{where}: default", 0.2, 5, 1.0), tuple(presets))


@cache
def builtin_table() -> PresetTable:
    text = resources.files("ceusdesk.evidence").joinpath("scanners.json").read_text(encoding="utf-8")
    return parse_table(json.loads(text), "scanners.json", source="built-in")


def _site_table(path: str) -> tuple[PresetTable, bool]:
    """The site's table, and whether it gives its own default (read once)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise BadScannerTable(f"{path} ({ENV_SCANNERS}): cannot be read as JSON: {err}") from err
    return parse_table(doc, path), isinstance(doc, dict) and "default" in doc


def preset_table() -> PresetTable:
    """The built-in table, with the site's (``CEUSDESK_SCANNERS``) entries and default first."""
    table = builtin_table()
    site_path = os.environ.get(ENV_SCANNERS)
    if not site_path:
        return table
    site, has_default = _site_table(site_path)
    return PresetTable(site.default_dynamic_range_db if has_default else table.default_dynamic_range_db,
                       site.default_gamma if has_default else table.default_gamma,
                       site.presets + table.presets)


def builtin_preset(manufacturer: str, model: str) -> ScannerPreset:
    """A preset the shipped table must hold (the phantom's scanners); KeyError naming it otherwise."""
    found = builtin_table().find(manufacturer, model)
    if found is None:
        raise KeyError(f"scanners.json has no preset for {manufacturer} {model}")
    return found
