"""The enhancement evidence (``result.evidence``, docs/evidence.md) as the app and the PDF show it: the
feature rows beside the call, why a field is empty, the slot times marked on the curve, and the curve
itself for the PDF (reportlab graphics). Qt-free; the app draws the same curve with pyqtgraph."""
from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from ceusdesk.base.protocol import format_t
from ceusdesk.base.roi import Roi
from ceusdesk.evidence.features import HYPO_RATIO, VASCULAR_END_S
from ceusdesk.evidence.readout import range_text, washout_borderline, when_text

log = logging.getLogger(__name__)

DERIVED_NOTE = "Derived measurements, not a diagnosis."
LESION_COLOUR = "#ffb300"  # the lesion ROI's yellow family, dark enough on white paper
LIVER_COLOUR = "#00a86b"  # the liver ROI: green, dashed, on every slot
ONSET_COLOUR = "#c0504d"
BORDERLINE_COLOUR = "#ffb300"  # amber: a measurement that cannot tell, never a finding
# why a borderline finding is not one (the app's tooltip; docs/evidence.md "Ranges (uncertainty)")
BORDERLINE_WHY = {
    "washout onset": "Borderline washout: within the ratio's uncertainty (the liver reference and the "
                     f"frames' noise) the lesion may or may not stay below {HYPO_RATIO:g} × the liver "
                     f"through {format_t(VASCULAR_END_S)}. The measurement cannot tell washout from none; "
                     "do not read it as a finding.",
    "Kupffer defect": "Borderline Kupffer-phase defect: the ratio's range straddles "
                      f"{HYPO_RATIO:g}, so the measurement cannot tell defect from no defect; do not read it "
                      "as a finding.",
}
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


def span_text(rng: Any) -> str:
    """A range, compact: "1:10–2:05", or open-ended "1:10 – none by 6:30" (``readout.range_text``'s words)."""
    words = range_text(rng).removeprefix("; range ")
    return words.replace(" to ", "–" if rng[1] is not None else " – ", 1)


def onset_text(ev: Mapping[str, Any]) -> str | None:
    """The washout onset with its range, early/late only when the whole range allows:
    "1:35 (1:10–2:05), late"; "none (1:10 – none by 6:30)"; None when washout was not assessed."""
    onset, rng = ev.get("washout_onset_s"), ev.get("washout_onset_range_s")
    if onset is None:
        if ev.get("washout_degree") is None:
            return None
        return "none" + (f" ({span_text(rng)})" if rng else "")
    when = when_text(float(onset), rng).split(",")[0]  # "early", "late" or that the range cannot tell
    return f"{_t(onset)} ({span_text(rng)}), {when}" if rng else f"{_t(onset)} ({when})"


def borderline_features(ev: Mapping[str, Any]) -> dict[str, str]:
    """Feature row name → why it is borderline, for the findings the measurement cannot tell
    (``readout.washout_borderline``, ``kupffer_defect_borderline``)."""
    out = {}
    if ev.get("washout_degree") is not None and washout_borderline(dict(ev)):
        out["washout onset"] = BORDERLINE_WHY["washout onset"]
        if ev.get("washout_degree") != "none":  # the degree of a washout that may not be one
            out["washout degree"] = BORDERLINE_WHY["washout onset"]
    if ev.get("kupffer_defect") is not None and ev.get("kupffer_defect_borderline"):
        out["Kupffer defect"] = BORDERLINE_WHY["Kupffer defect"]
    return out


def feature_rows(ev: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, value) per feature, in reading order; an empty value says why (the early set's Kupffer).
    Ranges are given; a borderline finding says "borderline" instead of a firm value."""
    def row(name: str, value: str | None, topic: str) -> tuple[str, str]:
        return name, value if value is not None else null_reason(ev, topic)

    aphe = ev.get("aphe")
    aphe_text = None if aphe is None else (
        "yes" + (f" ({str(ev['aphe_pattern']).replace('_', ' ')})" if ev.get("aphe_pattern") else "")
        if aphe else "no")
    degree = ev.get("washout_degree")
    borderline = borderline_features(ev)
    onset = onset_text(ev)
    if onset is not None and "washout onset" in borderline:
        onset += "; borderline: washout or not cannot be told"
    at = ", ".join(f"{k} {v}" for k, v in (ev.get("washout_degree_at") or {}).items() if v)
    maybe = " if it is washout" if "washout degree" in borderline else ""
    degree_text = None if degree is None else (
        ("borderline: " if maybe else "") + degree + maybe + (f" ({at})" if at else ""))
    kupffer = ev.get("kupffer_defect")
    kupffer_text = None if kupffer is None else ("yes" if kupffer else "no")
    if "Kupffer defect" in borderline:
        kupffer_text = "borderline: defect or not cannot be told"
    k_ratio, k_range = _ratio(ev.get("kupffer_ratio")), ev.get("kupffer_ratio_range")
    if k_ratio is not None and k_range:
        k_ratio += f" ({float(k_range[0]):.2f}–{float(k_range[1]):.2f})"
    rate = ev.get("wash_in_rate")
    size = ev.get("lesion_size_mm")
    return [
        row("lesion size", None if size is None else f"{float(size):.0f} mm", "Size"),
        row("arrival", _t(ev.get("arrival_s")), "Arterial phase"),
        row("time to peak", _t(ev.get("time_to_peak_s")), "Arterial phase"),
        row("peak lesion/liver", _ratio(ev.get("peak_ratio")), "Arterial phase"),
        row("wash-in rate", None if rate is None else f"{float(rate):.3g} /s", "Arterial phase"),
        row("APHE", aphe_text, "Arterial phase"),
        row("washout onset", onset, "Washout"),
        row("washout degree", degree_text, "Washout"),
        row("Kupffer lesion/liver", k_ratio, "Kupffer phase"),
        row("Kupffer defect", kupffer_text, "Kupffer phase"),
    ]


def onset_band(ev: Mapping[str, Any], t_end: float) -> tuple[float, float] | None:
    """The washout onset range as a band on the curve's time axis, (start, end): an open end runs to the
    end of the vascular phase, or of the curve (``t_end``) when that comes first; None without a range."""
    rng = ev.get("washout_onset_range_s")
    if not rng or rng[0] is None:
        return None
    lo = float(rng[0])
    hi = float(rng[1]) if rng[1] is not None else min(VASCULAR_END_S, max(lo, float(t_end)))
    return lo, hi


def liver_reference_extras(ev: Mapping[str, Any], reference: str | None) -> dict[str, list[Roi]]:
    """``reference`` → the further squares the liver's level was read over (``liver_reference`` after the
    liver ROI), in that slot's panel pixels, where they were placed: drawn finer and dimmer than the
    liver ROI, on the reference slot only (app and PDF). None when the user set the liver ROI (it is read
    alone: ``liver_reference == [liver_roi]``) or when the squares do not start at ``reference``'s liver
    ROI (then they were placed on another slot's pixels)."""
    squares: list[Roi] = [(int(r[0]), int(r[1]), int(r[2]), int(r[3]))
                          for r in ev.get("liver_reference") or [] if r and len(r) == 4]
    if reference is None or len(squares) < 2:
        return {}
    liver = (ev.get("liver_rois") or {}).get(reference)
    if liver is None or tuple(int(v) for v in liver) != squares[0]:
        log.debug("liver_reference %s does not start at slot %s's liver ROI: not drawn", squares, reference)
        return {}
    return {reference: squares[1:]}


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
    times as thin grey lines, the washout onset as a red dashed line in a pale band (its range)."""
    from reportlab.graphics.charts.legends import LineLegend
    from reportlab.graphics.charts.lineplots import LinePlot
    from reportlab.graphics.shapes import Drawing, Line, Rect, String
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
    onset = ev.get("washout_onset_s")
    band = onset_band(ev, x_hi)
    # the legend: one row, or two when the onset and its range join it (one row would run into the table)
    rows = 2 if onset is not None or band is not None else 1
    lp = LinePlot()
    lp.x, lp.y, lp.width, lp.height = 28, 22 + 8 * rows, width - 36, height - 34 - 8 * rows
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

    def x_of(t: float) -> float:
        return lp.x + (t - x_lo) / ((x_hi - x_lo) or 1.0) * lp.width

    onset_fill = colors.HexColor(ONSET_COLOUR)
    onset_fill = colors.Color(onset_fill.red, onset_fill.green, onset_fill.blue, alpha=0.18)
    if band is not None:  # under the curves: they stay readable through it
        d.add(Rect(x_of(band[0]), lp.y, max(0.8, x_of(band[1]) - x_of(band[0])), lp.height,
                   fillColor=onset_fill, strokeColor=None))
    d.add(lp)

    last_label = -1e9
    for name, t in sorted(times.items(), key=lambda item: item[1]):
        d.add(Line(x_of(t), lp.y, x_of(t), lp.y + lp.height, strokeColor=colors.HexColor("#9e9e9e"),
                   strokeWidth=0.4))
        if x_of(t) - last_label >= 14:  # early slots crowd together on a 10-minute axis
            d.add(String(x_of(t), lp.y + lp.height + 2, name, fontSize=5.5, textAnchor="middle"))
            last_label = x_of(t)
    if onset is not None:
        d.add(Line(x_of(float(onset)), lp.y, x_of(float(onset)), lp.y + lp.height,
                   strokeColor=colors.HexColor(ONSET_COLOUR), strokeWidth=1, strokeDashArray=(2, 2)))
    legend = LineLegend()
    legend.x, legend.y, legend.fontSize, legend.dx, legend.dxTextSpace = 28, 8 * rows, 6.5, 12, 3
    legend.columnMaximum, legend.alignment, legend.deltay = rows, "right", 8
    pairs = [(colors.HexColor(LESION_COLOUR), "lesion"), (colors.HexColor(LIVER_COLOUR), "liver")]
    if onset is not None:
        pairs.append((colors.HexColor(ONSET_COLOUR), f"washout onset {format_t(float(onset))}"))
    if band is not None:
        # a thin line at the band's own alpha would not show: the swatch is stronger; the values are in
        # the feature table
        swatch = colors.Color(onset_fill.red, onset_fill.green, onset_fill.blue, alpha=0.5)
        pairs.append((swatch, "onset range (shaded)"))
    legend.colorNamePairs = pairs
    d.add(legend)
    return d
