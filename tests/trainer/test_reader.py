"""The washout reader scores the app's measured evidence (hand-made evidence records here)."""

import math

import numpy as np
import pytest

from ceusdesk.base.protocol import default_protocol
from ceusdesk.evidence.fusion import evidence_points
from trainer.evaluate import reader_rows
from trainer.reader import reader_table, rule_calls, source, washout_scores

PROTOCOL = default_protocol()
TARGET = {s.name: s.target_s for s in PROTOCOL.slots}
LATER = ("1:00", "2:00", "3:00", "4:00", "5:00", "6:00", "10:00")


def record(ratios: dict[str, float], onset: float | None = None, defect: bool | None = None) -> dict:
    """A measured-evidence record as trainer.cache keeps it: one point per clip."""
    points = [{"slot": s, "t_s": TARGET[s] + 3.0, "ratio": r, "n": 4} for s, r in ratios.items()]
    return {"points": points, "washout_onset_s": onset, "kupffer_defect": defect,
            "kupffer_ratio": ratios.get("10:00"), "peak_ratio": 1.5, "aphe": True, "per_clip": 8,
            "max_arterial": 30, "evidence_version": 2, "error": None}


def iso(**changed: float) -> dict[str, float]:
    """Lesion as bright as the liver on every later clip, but where ``changed`` (keys like m3 = 3:00)."""
    out = {"0:30": 1.6, **{s: 1.0 for s in LATER}}
    out.update({f"{k[1:]}:00": v for k, v in changed.items()})
    return out


def scores(records, reader):
    return washout_scores(reader_table(records, PROTOCOL), PROTOCOL, reader)


def test_washout_at_3_min_scores_above_none_and_early_reads_only_up_to_2_min():
    none, late, early_wash = record(iso()), record(iso(m3=0.5), onset=170.0), record(iso(m1=0.6, m2=0.7))
    full = scores([none, late, early_wash], "full")
    assert full[1] == pytest.approx(0.5) and full[1] > full[0]
    assert full[0] == pytest.approx(0.0)
    assert full[2] == pytest.approx(0.3)  # 2:00 counts for the full reader, 1:00 does not
    early = scores([none, late, early_wash], "early")
    assert early[1] == pytest.approx(0.0)  # the 3:00 washout is beyond 2 min
    assert early[2] == pytest.approx(0.4)  # 1:00 and 2:00 both count
    kupffer_only = record(iso(m10=0.3), defect=True)
    assert scores([kupffer_only], "full")[0] == pytest.approx(0.7)  # the Kupffer phase is read


def test_nothing_measured_is_nan():
    failed = {"points": [], "error": "FrameError: frame 3 cannot be decoded", "per_clip": 8,
              "max_arterial": 30}
    only_arterial = record({"0:30": 1.4})
    for reader in ("full", "early"):
        got = scores([None, failed, only_arterial], reader)
        assert np.isnan(got).all()
        assert np.isnan(rule_calls(reader_table([None, failed], PROTOCOL), PROTOCOL, reader)).all()


def test_rule_reader_is_the_apps_readout_rule():
    table = reader_table([
        record(iso(m3=0.5), onset=170.0),  # washout → malignant
        record(iso(m10=0.5), defect=True),  # Kupffer defect alone → malignant
        record(iso(), defect=False),  # neither → benign
        record(iso(m2=0.7)),  # hypo at 2:00, iso later: no washout onset in the full evidence
        record(iso(m1=0.6, m2=0.9, m3=0.4), onset=170.0),  # recovered by 2:00: no washout by 2:00
    ], PROTOCOL)
    assert rule_calls(table, PROTOCOL, "full").tolist() == [1, 1, 0, 0, 1]
    assert rule_calls(table, PROTOCOL, "early").tolist() == [0, 0, 0, 1, 0]


def test_tic_is_read_as_one_point_per_clip():
    spans = [(5.0, 58.0, [("0:30", (10.0, 50.0)), ("1:00", (50.0, 90.0))]),  # an arterial clip into 1:00
             (118.0, 121.0, [("2:00", (90.0, 150.0))]), (600.0, 603.0, [("10:00", (570.0, 1200.0))])]
    tic = [{"t_s": 6.0, "lesion": 0.0, "liver": 0.2}, {"t_s": 20.0, "lesion": 0.4, "liver": 0.2},
           {"t_s": 57.0, "lesion": 0.15, "liver": 0.2},
           {"t_s": 118.0, "lesion": 0.1, "liver": 0.2}, {"t_s": 121.0, "lesion": 0.3, "liver": 0.2},
           {"t_s": 601.0, "lesion": 0.05, "liver": None},  # unmeasured sample: left out
           {"t_s": 602.0, "lesion": 0.05, "liver": 0.25}]
    points = {p["slot"]: p for p in evidence_points(tic, spans)}
    assert points["2:00"]["ratio"] == pytest.approx(0.4 / 0.4) and points["2:00"]["n"] == 2
    assert points["2:00"]["t_s"] == pytest.approx(119.5)
    assert points["10:00"]["ratio"] == pytest.approx(0.2) and points["10:00"]["n"] == 1
    assert points["0:30"]["ratio"] == pytest.approx(1.0) and points["0:30"]["n"] == 2  # 6 s: before 0:30
    assert points["1:00"]["ratio"] == pytest.approx(0.75) and points["1:00"]["t_s"] == 57.0


def test_evaluate_block_names_the_source_and_reports_the_rule():
    records = [record(iso(m3=0.4), onset=170.0), record(iso(m4=0.5), onset=230.0), record(iso(m5=0.9)),
               record(iso(), defect=False), record(iso(m10=0.6), defect=True), None]
    labels = np.array([1, 2, 1, 0, 0, 0])  # hcc, non-hcc malignant, hcc, benign x3
    probs = np.tile([0.3, 0.4, 0.3], (6, 1))
    out = reader_rows(reader_table(records, PROTOCOL), labels, {"full": probs, "early": probs},
                      {"full": np.full(6, 0.5), "early": np.full(6, 0.5)}, {}, PROTOCOL, 20, 0)
    assert "ceusdesk.evidence" in out["source"] and "automatic liver ROI" in out["source"]
    assert "up to 8 frames per later clip" in out["source"] and "up to 30 arterial frames" in out["source"]
    assert "evidence version 2" in out["source"]
    rule = out["rule"]["full"]
    assert rule["n"] == 5  # the case without evidence is left out
    assert rule["sensitivity"] == pytest.approx(2 / 3) and rule["specificity"] == pytest.approx(1 / 2)
    assert out["full"]["n"] == 5 and out["full"]["auc"] is not None
    assert "Kupffer" in rule["rule"] and "2:00" in out["rule"]["early"]["rule"]


def test_tables_written_before_the_evidence_version_was_kept_still_read():
    table = reader_table([record(iso(m3=0.4), onset=170.0), record(iso())], PROTOCOL)[:, :-1]  # 7 fields
    assert washout_scores(table, PROTOCOL, "full").tolist() == pytest.approx([0.6, 0.0])
    assert rule_calls(table, PROTOCOL, "full").tolist() == [1, 0]
    assert "evidence version ?" in source(table, PROTOCOL) and "up to 8 frames" in source(table, PROTOCOL)


def test_runs_cached_before_the_evidence_are_still_scored():
    x = np.full((2, 9, 2), 100.0)  # legacy: lesion, liver mean grey per slot
    x[0, 8, 0] = 40.0  # case 0: washout at 10:00 only
    x[1, 3, 0] = 50.0  # case 1: washout at 2:00
    full, early = washout_scores(x, PROTOCOL, "full"), washout_scores(x, PROTOCOL, "early")
    assert full[0] == pytest.approx(0.6) and early[0] == 0.0
    assert full[1] == early[1] == 0.5
    out = reader_rows(x, np.array([1, 0]), {"full": np.tile([0.5, 0.5, 0.0], (2, 1))} | {
        "early": np.tile([0.5, 0.5, 0.0], (2, 1))}, {"full": np.full(2, 0.5), "early": np.full(2, 0.5)}, {},
        PROTOCOL, 10, 0)
    assert "before the measured evidence" in out["source"] and not out["rule"]["full"]["available"]
    assert math.isnan(rule_calls(x, PROTOCOL, "full")[0])
