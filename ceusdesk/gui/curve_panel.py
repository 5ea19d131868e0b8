"""The time-intensity curve of the current result (pyqtgraph): lesion and liver mean intensity over time,
the slot frames used as vertical lines, the washout onset marked in a translucent band, its range
(docs/evidence.md)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QVBoxLayout, QWidget

from ceusdesk.base.protocol import format_t
from ceusdesk.gui.imaging import LIVER_COLOUR
from ceusdesk.gui.widgets import describe
from ceusdesk.outputs.evidence_wording import ONSET_COLOUR, onset_band, span_text

LESION_PEN = "#ffd600"  # the lesion ROI's yellow; the liver's green is its ROI's too


class TimeAxis(pg.AxisItem):
    """Ticks as m:ss after injection, as the slot cards write times."""

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return [format_t(v) for v in values]


class CurvePanel(QWidget):
    """Empty until :meth:`set_evidence`; :meth:`clear` whenever the result goes."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plot = pg.PlotWidget(axisItems={"bottom": TimeAxis(orientation="bottom")}, background="#15171b")
        self.plot.setMenuEnabled(False)
        self.plot.setMinimumSize(220, 150)
        self.plot.showGrid(x=False, y=True, alpha=0.2)
        self.plot.setLabel("bottom", "time after injection")
        self.plot.setLabel("left", "intensity")
        self.plot.getAxis("left").enableAutoSIPrefix(False)  # linear units 0…1, never "×0.001"
        # bottom right: below the late plateau
        self.legend = self.plot.addLegend(offset=(-4, -4), labelTextSize="8pt")
        self.lesion = self.plot.plot([], [], pen=pg.mkPen(LESION_PEN, width=2), name="lesion")
        self.liver = self.plot.plot([], [], name="liver",
                                    pen=pg.mkPen(LIVER_COLOUR, width=2, style=Qt.PenStyle.DashLine))
        self.markers: dict[str, pg.InfiniteLine] = {}  # slot → its line; "washout" → the onset
        self.onset_band: pg.LinearRegionItem | None = None  # the onset's range (the ratio's uncertainty)
        describe(self, "Time-intensity curve",
                 "Mean intensity of the lesion and the liver ROI over time; slot frames and the washout "
                 "onset marked, its range shaded")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.plot)

    def sizeHint(self) -> QSize:
        return QSize(280, 190)

    def clear(self) -> None:
        self.lesion.setData([], [])
        self.liver.setData([], [])
        for line in self.markers.values():
            self.plot.removeItem(line)
        self.markers = {}
        if self.onset_band is not None:
            self.plot.removeItem(self.onset_band)
            self.onset_band = None

    def set_evidence(self, ev: Mapping[str, Any], slot_times: Mapping[str, float]) -> None:
        """``ev``: ``result.evidence``; ``slot_times``: slot → its frame's time after injection (s)."""
        self.clear()
        tic = [p for p in ev.get("tic") or [] if p.get("t_s") is not None]
        for curve, key in ((self.lesion, "lesion"), (self.liver, "liver")):
            pts = [(float(p["t_s"]), float(p[key])) for p in tic if p.get(key) is not None]
            curve.setData([t for t, _ in pts], [v for _, v in pts])
        for name, t in sorted(slot_times.items(), key=lambda item: item[1]):
            # labels run along their lines: the early slots crowd together on a 10-minute axis
            line = pg.InfiniteLine(pos=float(t), angle=90, pen=pg.mkPen("#8a8f98", width=1), label=name,
                                   labelOpts={"position": 0.88, "color": "#8a8f98", "rotateAxis": (1, 0)})
            line.setToolTip(f"slot {name}: {format_t(float(t))}")
            self.plot.addItem(line)
            self.markers[name] = line
        t_end = max([float(p["t_s"]) for p in tic] + [float(t) for t in slot_times.values()] + [0.0])
        band = onset_band(ev, t_end)
        if band is not None:
            fill = QColor(ONSET_COLOUR)
            fill.setAlpha(55)
            self.onset_band = pg.LinearRegionItem(values=band, movable=False, brush=pg.mkBrush(fill),
                                                  pen=pg.mkPen(None))
            self.onset_band.setZValue(-10)  # under the curves
            self.onset_band.setToolTip(f"washout onset range {span_text(ev['washout_onset_range_s'])}: the "
                                       "onsets the ratio allows within its uncertainty")
            self.plot.addItem(self.onset_band)
        onset = ev.get("washout_onset_s")
        if onset is not None:
            line = pg.InfiniteLine(pos=float(onset), angle=90, label=f"washout {format_t(float(onset))}",
                                   pen=pg.mkPen(ONSET_COLOUR, width=2, style=Qt.PenStyle.DotLine),
                                   labelOpts={"position": 0.6, "color": ONSET_COLOUR})
            self.plot.addItem(line)
            self.markers["washout"] = line
        self.plot.enableAutoRange()

    def points(self) -> dict[str, list[tuple[float, float]]]:
        """What is plotted: {"lesion": [(t, v)…], "liver": […]}."""
        out = {}
        for key, curve in (("lesion", self.lesion), ("liver", self.liver)):
            xs, ys = curve.getData()
            out[key] = [] if xs is None else [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]
        return out
