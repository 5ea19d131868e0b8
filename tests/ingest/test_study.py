"""Study logic: one patient, injection time, contrast side, slot filling, assignment."""
from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest

from ceusdesk.base.errors import BadStudyOption
from ceusdesk.study import open_study
from ceusdesk.study.frames import panel_image, slot_panels

from .conftest import INJECTION, LEFT, RIGHT, ClipSpec, make_frame, write_clip, write_study

ALL = ["B", "0:30", "1:00", "2:00", "3:00", "4:00", "5:00", "6:00", "10:00"]


def test_jittered_clips_fill_all_nine_slots(study_dir):
    study = open_study(study_dir)
    assert study.injection_source == "dicom" and study.injection_time == INJECTION
    assert study.phase_set == "full" and study.missing == []
    assert [n for n, sf in study.slots.items() if sf is not None] == ALL
    targets = {"0:30": 30, "1:00": 60, "2:00": 120, "4:00": 240, "6:00": 360, "10:00": 600}
    for name, target in targets.items():
        assert study.slots[name].t_s == pytest.approx(target, abs=0.5), name  # nearest frame to target
    assert study.slots["3:00"].t_s == pytest.approx(183)  # clip starts late: its first frame is nearest
    assert study.slots["B"].t_s < 0 and study.slots["B"].panel == LEFT  # B-mode panel of the dual display
    assert all(study.slots[n].panel == RIGHT for n in ALL[1:])
    # the 8-minute clip is outside every window: listed, no slot
    eight = next(e for e in study.clips if e.clip.path.name == "IM000008")
    assert eight.slot is None and eight.excluded is None and eight.start_s == pytest.approx(482)
    assert not study.warnings


@pytest.mark.parametrize("side, contrast_box, bmode_box", [("left", LEFT, RIGHT), ("right", RIGHT, LEFT)])
def test_contrast_panel_found_on_either_side(tmp_path, side, contrast_box, bmode_box):
    write_study(tmp_path / "s", layout=side)
    study = open_study(tmp_path / "s")
    assert study.contrast_panel == side
    assert study.slots["2:00"].panel == contrast_box and study.slots["B"].panel == bmode_box
    # what the slot shows really is the contrast panel: bright at 2 min, unlike the B-mode texture
    img = panel_image(study.slots["0:30"])
    assert img.shape == (80, 68, 3)
    assert abs(float(img.mean()) - make_frame(30, side)[8:88, contrast_box[0]:contrast_box[2]].mean()) < 1


def test_contrast_panel_override(tmp_path):
    write_study(tmp_path / "s", layout="right")
    study = open_study(tmp_path / "s", contrast_panel="left")
    assert study.contrast_panel == "left" and study.slots["1:00"].panel == LEFT


def test_panels_detected_when_regions_are_missing(tmp_path):
    write_study(tmp_path / "s", layout="left", regions=False, clips=[(-30.0, 3), (5.0, 30), (60.0, 4)])
    study = open_study(tmp_path / "s")
    x0, y0, x1, y1 = study.slots["0:30"].panel
    assert abs(x0 - LEFT[0]) <= 2 and abs(x1 - LEFT[2]) <= 2 and abs(y0 - 8) <= 2 and abs(y1 - 88) <= 2
    assert any("no ultrasound regions" in w.message for w in study.warnings)


def test_foreign_patient_is_listed_excluded_and_warned(study_dir):
    write_clip(study_dir / "OTHER1", ClipSpec(start_s=30, n_frames=5, patient_id="P9999",
                                              study_uid="1.2.3.999", contrast_start=True))
    write_clip(study_dir / "OTHER2", ClipSpec(start_s=60, n_frames=5, patient_id="P9999",
                                              study_uid="1.2.3.999", contrast_start=True))
    study = open_study(study_dir)
    other = [e for e in study.clips if e.clip.path.name.startswith("OTHER")]
    assert [e.excluded for e in other] == ["other patient"] * 2
    assert all(e.slot is None for e in other)
    assert all(e.start_s is None and e.end_s is None for e in other)  # no time in this patient's exam
    assert all(sf.clip.patient_id == "P0001" for sf in study.slots.values() if sf)
    warned = {w.path.split("/")[-1] for w in study.warnings if "another patient" in w.message}
    assert warned == {"OTHER1", "OTHER2"}
    assert not any("P9999" in w.message or "Test^Patient" in w.message for w in study.warnings)
    picked = open_study(study_dir, patient="P9999")
    assert picked.patient_id == "P9999" and picked.slots["0:30"].clip.path.name == "OTHER1"
    with pytest.raises(BadStudyOption, match="no clips of patient"):
        open_study(study_dir, patient="nobody")


def test_other_study_of_same_patient_is_excluded(study_dir):
    write_clip(study_dir / "LATER", ClipSpec(start_s=30, n_frames=3, study_uid="1.2.3.4.5"))
    study = open_study(study_dir)
    assert next(e for e in study.clips if e.clip.path.name == "LATER").excluded == "other study"


def test_user_injection_time_wins_and_shifts_slots(study_dir):
    study = open_study(study_dir, injection_time="10:01:00")
    assert study.injection_source == "user"
    assert study.injection_time == INJECTION + timedelta(minutes=1)
    # every clip is a minute earlier relative to injection: nothing falls in 10-50 s any more
    assert study.slots["0:30"] is None
    assert study.slots["1:00"].clip.path.name == "IM000003"
    assert study.slots["B"].clip.path.name == "IM000002" and study.slots["B"].t_s == pytest.approx(-1)
    with pytest.raises(BadStudyOption, match="HH:MM:SS"):
        open_study(study_dir, injection_time="ten past")


def test_injection_estimated_from_contrast_arrival(tmp_path):
    write_study(tmp_path / "s", contrast_start=False, layout="left")
    study = open_study(tmp_path / "s")
    assert study.injection_source == "estimated"
    # true injection 10:00:00; arrival at 12 s, estimated arrival + 15 s delay: within a few seconds
    assert abs((study.injection_time - INJECTION).total_seconds()) <= 5
    assert any("estimated" in w.message and "--injection-time" in w.message for w in study.warnings)
    assert study.phase_set == "full"
    assert study.frames_decoded <= 80  # sampled frames only, never whole clips


def test_no_injection_time_leaves_contrast_slots_empty(tmp_path):
    # contrast already present in the first clip: no dark baseline, nothing to time arrival by
    write_study(tmp_path / "s", contrast_start=False, clips=[(60.0, 4), (120.0, 4)])
    study = open_study(tmp_path / "s")
    assert study.injection_time is None and study.injection_source is None
    assert all(sf is None for sf in study.slots.values())
    assert study.phase_set == "incomplete"
    assert any("--injection-time" in w.message for w in study.warnings)


def test_truncated_clip_fills_no_slot(study_dir):
    victim = study_dir / "IM000003"  # the 2:00 clip
    victim.write_bytes(victim.read_bytes()[:-50_000])
    study = open_study(study_dir)
    entry = next(e for e in study.clips if e.clip.path == victim)
    assert entry.excluded == "truncated" and entry.slot is None
    assert study.slots["2:00"] is None and study.phase_set == "incomplete" and "2:00" in study.missing


def test_untimed_clip_is_listed_and_can_be_assigned(study_dir):
    (study_dir / "IM000006").unlink()  # 5:00 is missing...
    write_clip(study_dir / "NOTIME", ClipSpec(start_s=300, n_frames=5, timing=False))  # ...and comes untimed
    study = open_study(study_dir)
    entry = next(e for e in study.clips if e.clip.path.name == "NOTIME")
    assert entry.slot is None and entry.start_s is None and study.slots["5:00"] is None
    assert any(w.path.endswith("NOTIME") and "--assign" in w.message for w in study.warnings)
    assigned = open_study(study_dir, assign={"NOTIME": "5:00"})
    sf = assigned.slots["5:00"]
    assert sf.clip.path.name == "NOTIME" and sf.source == "assigned" and sf.frame_index == 2
    assert sf.t_s is None and sf.panel == RIGHT and assigned.phase_set == "full"
    with pytest.raises(BadStudyOption, match="unknown slot"):
        open_study(study_dir, assign={"NOTIME": "7:00"})
    with pytest.raises(BadStudyOption, match="not a readable clip"):
        open_study(study_dir, assign={"missing.dcm": "5:00"})


def test_video_and_still_are_assignable(study_dir, tmp_path):
    import cv2

    img = make_frame(200, "right")
    cv2.imwrite(str(study_dir / "late.png"), cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    study = open_study(study_dir, assign={str(study_dir / "late.png"): "3:00"})
    sf = study.slots["3:00"]
    assert sf.clip.kind == "still" and sf.source == "assigned"
    assert np.array_equal(panel_image(sf), img[8:88, 84:152])


def test_slot_overrides_pick_exact_frames(study_dir):
    study = open_study(study_dir, slot_overrides={"1:00": {"path": "IM000002", "frame_index": 7}})
    sf = study.slots["1:00"]
    assert (sf.frame_index, sf.source) == (7, "override") and sf.t_s == pytest.approx(63)


def test_slot_panels_decode_each_slot_once(study_dir, monkeypatch):
    import ceusdesk.study.frames as frames

    calls = []
    real = frames.read_frame
    monkeypatch.setattr(frames, "read_frame", lambda c, i: calls.append((c.path.name, i)) or real(c, i))
    study = open_study(study_dir)
    panels = slot_panels(study)
    assert sorted(panels) == sorted(ALL) and len(calls) == 9
    assert all(p.shape == (80, 68, 3) for p in panels.values())


def test_single_panel_clips_bmode_then_contrast(tmp_path):
    folder = tmp_path / "s"
    write_clip(folder / "b.dcm", ClipSpec(start_s=-40, n_frames=3, layout="bmode"))
    write_clip(folder / "c1.dcm", ClipSpec(start_s=0, n_frames=70, layout="contrast"), seed=1)
    write_clip(folder / "c2.dcm", ClipSpec(start_s=100, n_frames=30, layout="contrast"), seed=2)
    study = open_study(folder, injection_time="10:00:00")
    assert study.contrast_panel is None
    assert study.slots["B"].clip.path.name == "b.dcm" and study.slots["B"].panel == (8, 8, 152, 88)
    assert study.slots["0:30"].clip.path.name == "c1.dcm" and study.slots["2:00"].t_s == pytest.approx(120)
    assert study.phase_set == "early" and study.missing == ["3:00", "4:00", "5:00", "6:00", "10:00"]


def test_nothing_readable_raises(tmp_path):
    from ceusdesk.base.errors import NothingReadable

    (tmp_path / "x.dcm").write_bytes(b"junk")
    with pytest.raises(NothingReadable, match="no readable"):
        open_study(tmp_path)
