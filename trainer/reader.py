"""The washout reader: a washout score from what the app measures (``ceusdesk.evidence``), as a reader would.

Input: per case, the compact measured-evidence record trainer.cache keeps
(:func:`trainer.cache.measured_evidence`): the app's own evidence for the study, ROI and per-slot ROIs
the model crops, with every slot the study has (phase set ``full``) — linearized intensities, the
segmented lesion's core, the automatic liver ROI at the lesion's depth. Each later clip is one lesion ÷
liver point (its lesion sum over its liver sum, as the evidence reads washout). Not the phantom
generator's noise-free ratios.

Score = the largest relative washout, 1 − lesion / liver, over the reader's points: ``full`` reads the
clips of the 2:00 slot and later (Kupffer phase included); ``early`` the 1:00 and 2:00 clips (≤ 2 min,
what an early study holds). Points are chosen by the slot their clip fills, as the phase sets are.
Higher = more washout = more suspicious. A case without a measured point gets NaN and is left out of the
reader's rows (their ``n`` says how many were scored).

Beside it, the rule the app's readout uses (docs/evidence.md): washout or a Kupffer-phase defect →
malignant (``full``); washout by 2:00 — the latest point through 2:00 below :data:`HYPO_RATIO` × liver,
which is when the evidence of an early set finds a washout onset — for ``early``.

The reader table (:func:`reader_table`, what trainer.data hands fit and evaluate): float32
[N, n_slots + len(CASE_FIELDS)], the per-slot ratio (NaN where not measured) then :data:`CASE_FIELDS`
(booleans as 0/1, null as NaN). Runs cached before it hold [N, n_slots, 2] mean grey (lesion, liver)
instead; :func:`washout_scores` still reads those.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ceusdesk.base.protocol import Protocol

READERS = {"full": (120.0, None), "early": (60.0, 120.0)}  # slot target time window [lo, hi] in seconds
HYPO_RATIO = 0.8  # the evidence's washout / defect cut: lesion < 0.8 × liver (docs/evidence.md)
MIN_LIVER_GREY = 1.0  # legacy grey tables: a black liver reference (outside the sector) cannot be read
# appended only (older tables lack the trailing fields: case_field gives NaN for them)
CASE_FIELDS = ("washout_onset_s", "kupffer_ratio", "kupffer_defect", "peak_ratio", "aphe", "per_clip",
               "max_arterial", "evidence_version")
RULES = {"full": "washout (any onset) or Kupffer-phase defect → malignant (the app's readout)",
         "early": f"washout by 2:00 (the latest point through 2:00 below {HYPO_RATIO} × liver) → malignant"}


def reader_slots(protocol: Protocol, reader: str) -> list[int]:
    lo, hi = READERS[reader]
    return [i for i, s in enumerate(protocol.slots)
            if s.target_s is not None and s.target_s >= lo and (hi is None or s.target_s <= hi)]


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def reader_row(record: Mapping[str, Any] | None, protocol: Protocol) -> np.ndarray:
    """float32 [n_slots + len(CASE_FIELDS)] from one measured-evidence record (None or failed: all NaN
    but the settings)."""
    n = len(protocol.slot_names)
    row = np.full(n + len(CASE_FIELDS), np.nan, dtype=np.float32)
    if not record:
        return row
    for p in record.get("points") or []:
        if p.get("slot") in protocol.slot_names and p.get("ratio") is not None:
            row[protocol.slot_names.index(p["slot"])] = float(p["ratio"])
    for j, key in enumerate(CASE_FIELDS):
        row[n + j] = _num(record.get(key))
    return row


def reader_table(records: Sequence[Mapping[str, Any] | None], protocol: Protocol) -> np.ndarray:
    """float32 [N, n_slots + len(CASE_FIELDS)]: :func:`reader_row` for each record."""
    width = len(protocol.slot_names) + len(CASE_FIELDS)
    if not records:
        return np.empty((0, width), dtype=np.float32)
    return np.stack([reader_row(r, protocol) for r in records])


def is_measured(table: np.ndarray) -> bool:
    """True for a measured-evidence table, False for a legacy [N, n_slots, 2] grey table."""
    return np.asarray(table).ndim == 2


def case_field(table: np.ndarray, protocol: Protocol, key: str) -> np.ndarray:
    """float64 [N] one of :data:`CASE_FIELDS`; NaN in a table written before that field existed."""
    x = np.asarray(table, dtype=np.float64)
    col = len(protocol.slot_names) + CASE_FIELDS.index(key)
    return x[:, col] if col < x.shape[1] else np.full(len(x), np.nan)


def slot_ratios(table: np.ndarray, protocol: Protocol) -> np.ndarray:
    """float64 [N, n_slots] lesion ÷ liver per slot (NaN where not measured)."""
    x = np.asarray(table, dtype=np.float64)
    if not is_measured(x):  # legacy mean grey
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(x[..., 1] >= MIN_LIVER_GREY, x[..., 0] / x[..., 1], np.nan)
    return x[:, : len(protocol.slot_names)]


def washout_scores(table: np.ndarray, protocol: Protocol, reader: str) -> np.ndarray:
    """float64 [N] washout score: the largest 1 − lesion/liver over the reader's slots, NaN without any."""
    wash = 1.0 - slot_ratios(table, protocol)[:, reader_slots(protocol, reader)]
    out = np.full(len(wash), np.nan)
    ok = np.isfinite(wash).any(axis=1)
    out[ok] = np.nanmax(wash[ok], axis=1)
    return out


def rule_calls(table: np.ndarray, protocol: Protocol, reader: str) -> np.ndarray:
    """float64 [N]: the app's rule (:data:`RULES`) as 1 malignant / 0 benign; NaN where nothing was
    measured (or the table is a legacy one, which holds no evidence)."""
    n = len(table)
    if not is_measured(table):
        return np.full(n, np.nan)
    r = slot_ratios(table, protocol)
    out = np.full(n, np.nan)
    if reader == "full":
        measured = np.isfinite(r).any(axis=1)
        onset = np.isfinite(case_field(table, protocol, "washout_onset_s"))
        defect = case_field(table, protocol, "kupffer_defect") == 1.0
        out[measured] = (onset | defect)[measured].astype(np.float64)
        return out
    early = r[:, reader_slots(protocol, "early")]  # protocol (time) order: the last finite is the latest
    for i, row in enumerate(early):
        seen = row[np.isfinite(row)]
        if len(seen):
            out[i] = float(seen[-1] < HYPO_RATIO)
    return out


def settings_used(table: np.ndarray, protocol: Protocol) -> str:
    """The evidence's frame budget the table's cases were measured with, in words."""
    if not is_measured(table) or not len(table):
        return "unknown"
    def values(key: str) -> str:
        v = case_field(table, protocol, key)
        return "/".join(str(x) for x in sorted({int(x) for x in v[np.isfinite(v)]})) or "?"

    return (f"evidence version {values('evidence_version')}, up to {values('per_clip')} frames per later "
            f"clip, up to {values('max_arterial')} arterial frames")


def source(table: np.ndarray, protocol: Protocol) -> str:
    """What the reader's score was computed from (the ``source`` of evaluate's washout block)."""
    if not is_measured(table):
        return ("rendered ROI mean grey: 1 - lesion/liver, max over the reader's slots (a run cached before "
                "the measured evidence; refit to score the app's evidence)")
    return ("the app's measured evidence (ceusdesk.evidence: linearized intensities, segmented lesion, "
            "automatic liver ROI at the lesion's depth; each later clip one lesion sum / liver sum point; "
            f"{settings_used(table, protocol)}): 1 - lesion/liver, max over the reader's slots "
            "(trainer.reader)")
