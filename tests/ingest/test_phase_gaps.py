"""Every gap named: slots not acquired (any phase set), doubtful slot frames flagged, weak estimates."""
from __future__ import annotations

import json

import pytest

from ceusdesk.cli import main
from ceusdesk.study import open_study

from .conftest import ClipSpec, write_clip, write_study

B, ARTERIAL, TEN = (-70.0, 6), (1.0, 40), (596.0, 8)


def test_full_set_without_3_to_6_minutes_names_them(tmp_path, capsys):
    # 1:00 recorded late (72 s: 12 s after its target)
    write_study(tmp_path / "s", clips=[B, ARTERIAL, (72.0, 4), (117.0, 10), TEN])
    study = open_study(tmp_path / "s")
    assert study.phase_set == "full"
    assert study.missing == ["3:00", "4:00", "5:00", "6:00"]
    assert main(["inspect", str(tmp_path / "s"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["missing"] == ["3:00", "4:00", "5:00", "6:00"]
    late = doc["slots"]["1:00"]
    assert late["offset_s"] == pytest.approx(12.0) and late["flags"] == ["far_from_target"]
    assert doc["slots"]["0:30"]["offset_s"] == pytest.approx(0.0) and doc["slots"]["0:30"]["flags"] == []
    assert doc["slots"]["B"]["offset_s"] is None
    main(["inspect", str(tmp_path / "s")])
    table = capsys.readouterr().out
    assert "3:00, 4:00, 5:00, 6:00 not acquired" in table and "+12 s from target" in table


def test_one_clip_filling_two_slots_is_flagged(tmp_path):
    # one long arterial sweep (1-56 s) and no 1:00 clip: it fills 0:30 and 1:00
    write_study(tmp_path / "s", clips=[B, (1.0, 56), (117.0, 10), TEN])
    study = open_study(tmp_path / "s")
    assert study.slots["1:00"].clip is study.slots["0:30"].clip
    assert study.slot_flags("0:30") == ["clip_reused"] and study.slot_flags("1:00") == ["clip_reused"]
    assert study.slot_flags("B") == [] and study.slot_flags("3:00") == []


def test_sparse_arrival_makes_a_weak_estimate_and_says_so(tmp_path):
    folder = tmp_path / "s"
    write_clip(folder / "b.dcm", ClipSpec(start_s=-70, n_frames=4))
    # frames 8 s apart around the arrival (12 s): the arrival is known to ±4 s at best
    write_clip(folder / "a.dcm", ClipSpec(start_s=1, n_frames=6, frame_time_ms=8000.0), seed=1)
    write_clip(folder / "c.dcm", ClipSpec(start_s=117, n_frames=8), seed=2)
    study = open_study(folder)
    assert study.injection_source == "estimated" and study.injection_weak
    assert study.injection_uncertainty_s > 8
    assert any("WEAK estimate" in w.message and "--injection-time" in w.message for w in study.warnings)


def test_dense_arrival_is_an_estimate_but_not_weak(tmp_path):
    write_study(tmp_path / "s", contrast_start=False)
    study = open_study(tmp_path / "s")
    assert study.injection_source == "estimated" and not study.injection_weak
    assert 5.0 <= study.injection_uncertainty_s <= 8.0
