"""The enhancement evidence (``result.evidence``, docs/evidence.md) as the app and the PDF show it: the
feature rows beside the call, why a field is empty, the slot times marked on the curve, and the curve
itself for the PDF (reportlab graphics). Qt-free; the app draws the same curve with pyqtgraph."""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .protocol import format_t

DERIVED_NOTE = "Derived measurements, not a diagnosis."
LESION_COLOUR = "#ffb300"  # the lesion ROI's yellow family, dark enough on white paper
LIVER_COLOUR = "#00a86b"  # the liver ROI: green, dashed, on every slot
ONSET_COLOUR = "#c0504d"
_NOT_ASSESSED = re.compile(r"^(?P<what>[^:]+): not (?:assessed|measured) \((?P<why>.*)\)\.?$")


def null_reason(ev: Mapping[str, Any], topic: str) -> str:
    """Why the readout says ``topic`` ("Kupffer phase", "Washout", "Arterial phase", "Size") is empty,
    from its own line ("Kupffer phase: not assessed (early set: …)."); "not measured" without one."""
    for line in ev.get("readout") or []:
        m = _NOT_ASSESSED.match(str(line))
        if m and m["what"] == topic:
            return f"not assessed: {m['why']}"
    return "not measured"


def _t(v: Any) -> str | None:
    return None if v is None else format_t(float(v))


def _ratio(v: Any) -> str | None:
    return None if v is None else f"{float(v):.2f}×"


def feature_rows(ev: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, value) per feature, in reading order; an empty value says why (the early set's Kupffer)."""
    def row(name: str, value: str | None, topic: str) -> tuple[str, str]:
        return name, value if value is not None else null_reason(ev, topic)

    aphe = ev.get("aphe")
    aphe_text = None if aphe is None else (
        "yes" + (f" ({str(ev['aphe_pattern']).replace('_', ' ')})" if ev.get("aphe_pattern") else "")
        if aphe else "no")
    onset = ev.get("washout_onset_s")
    degree = ev.get("washout_degree")
    if onset is not None:
        onset_text: str | None = f"{_t(onset)} ({'early' if float(onset) < 60 else 'late'})"
    else:
        onset_text = None if degree is None else "none"
    at = ", ".join(f"{k} {v}" for k, v in (ev.get("washout_degree_at") or {}).items() if v)
    degree_text = None if degree is None else degree + (f" ({at})" if at else "")
    kupffer = ev.get("kupffer_defect")
    rate = ev.get("wash_in_rate")
    size = ev.get("lesion_size_mm")
    return [
        row("lesion size", None if size is None else f"{float(size):.0f} mm", "Size"),
        row("arrival", _t(ev.get("arrival_s")), "Arterial phase"),
        row("time to peak", _t(ev.get("time_to_peak_s")), "Arterial phase"),
        row("peak lesion/liver", _ratio(ev.get("peak_ratio")), "Arterial phase"),
        row("wash-in rate", None if rate is None else f"{float(rate):.3g} /s", "Arterial phase"),
        row("APHE", aphe_text, "Arterial phase"),
        row("washout onset", onset_text, "Washout"),
        row("washout degree", degree_text, "Washout"),
        row("Kupffer lesion/liver", _ratio(ev.get("kupffer_ratio")), "Kupffer phase"),
        row("Kupffer defect", None if kupffer is None else ("yes" if kupffer else "no"), "Kupffer phase"),
    ]


def slot_times(slots: Mapping[str, Any], used: list[str] | None = None) -> dict[str, float]:
    """slot → its frame's time after injection (s), for the slots the analysis used (all with a time
    when ``used`` is None); ``slots`` as ``Study.to_json()["slots"]`` writes them."""
    out = {}
    for name, info in (slots or {}).items():
        if info is None or (used is not None and name not in used):
            continue
        t = info.get("t_s") if isinstance(info, Mapping) else getattr(info, "t_s", None)
        if t is not None:
            out[name] = float(t)
    return out


def tic_chart(ev: Mapping[str, Any], times: Mapping[str, float], width: float, height: float) -> Any:
    """The time-intensity curve for the PDF: lesion and liver mean (linearized) over time, the slot
    times as thin grey lines, the washout onset as a red dashed line."""
    from reportlab.graphics.charts.legends import LineLegend
    from reportlab.graphics.charts.lineplots import LinePlot
    from reportlab.graphics.shapes import Drawing, Line, String
    from reportlab.lib import colors

    tic = [p for p in ev.get("tic") or [] if p.get("t_s") is not None]
    d = Drawing(width, height)
    if not tic:
        d.add(String(width / 2, height / 2, "no time-intensity curve", fontSize=8, textAnchor="middle"))
        return d
    lesion = [(float(p["t_s"]), float(p["lesion"])) for p in tic if p.get("lesion") is not None]
    liver = [(float(p["t_s"]), float(p["liver"])) for p in tic if p.get("liver") is not None]
    t_all = [t for t, _ in lesion + liver] + list(times.values())
    x_lo, x_hi = min(0.0, min(t_all)), max(t_all) or 1.0
    y_hi = max([v for _, v in lesion + liver] + [1e-6]) * 1.08
    lp = LinePlot()
    lp.x, lp.y, lp.width, lp.height = 28, 30, width - 36, height - 42
    lp.data = [series for series in (lesion, liver) if series]
    styles = [(LESION_COLOUR, None), (LIVER_COLOUR, (3, 2))]
    for i, (colour, dash) in enumerate(styles[:len(lp.data)]):
        lp.lines[i].strokeColor = colors.HexColor(colour)
        lp.lines[i].strokeWidth = 1.2
        lp.lines[i].strokeDashArray = dash
    lp.xValueAxis.valueMin, lp.xValueAxis.valueMax = x_lo, x_hi
    lp.yValueAxis.valueMin, lp.yValueAxis.valueMax = 0.0, y_hi
    lp.xValueAxis.labelTextFormat = lambda v: format_t(v)
    lp.yValueAxis.labelTextFormat = "%.2f"
    for axis in (lp.xValueAxis, lp.yValueAxis):
        axis.labels.fontSize = 6
    d.add(lp)

    def x_of(t: float) -> float:
        return lp.x + (t - x_lo) / ((x_hi - x_lo) or 1.0) * lp.width

    last_label = -1e9
    for name, t in sorted(times.items(), key=lambda item: item[1]):
        d.add(Line(x_of(t), lp.y, x_of(t), lp.y + lp.height, strokeColor=colors.HexColor("#9e9e9e"),
                   strokeWidth=0.4))
        if x_of(t) - last_label >= 14:  # early slots crowd together on a 10-minute axis
            d.add(String(x_of(t), lp.y + lp.height + 2, name, fontSize=5.5, textAnchor="middle"))
            last_label = x_of(t)
    onset = ev.get("washout_onset_s")
    if onset is not None:
        d.add(Line(x_of(float(onset)), lp.y, x_of(float(onset)), lp.y + lp.height,
                   strokeColor=colors.HexColor(ONSET_COLOUR), strokeWidth=1, strokeDashArray=(2, 2)))
    legend = LineLegend()
    legend.x, legend.y, legend.fontSize, legend.dx, legend.dxTextSpace = 28, 8, 6.5, 12, 3
    legend.columnMaximum, legend.alignment = 1, "right"
    pairs = [(colors.HexColor(LESION_COLOUR), "lesion"), (colors.HexColor(LIVER_COLOUR), "liver")]
    if onset is not None:
        pairs.append((colors.HexColor(ONSET_COLOUR), f"washout onset {format_t(float(onset))}"))
    legend.colorNamePairs = pairs
    d.add(legend)
    return d
