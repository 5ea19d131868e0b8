"""The contrast side of dual displays: decided from physical cues, refused (exit 6) when unsure.

Studies come from ``side_studies.py``: phantom studies whose contrast panel is brighter than the dimmed
B-mode reference once the agent has arrived (the case a brightness rule got wrong), on either side.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from ceusdesk.cli import main
from ceusdesk.ingest import sidecues as cues
from ceusdesk.ingest.sidecues import Cue
from ceusdesk.ingest.sidedecision import combine
from ceusdesk.model_package import resolve as models
from ceusdesk.study import open_study
from tests.tiny_package import make_tiny_package

from .conftest import write_study
from .side_studies import SideVariant, make_side_study

BRIGHT = {"contrast_gain": 2.2, "reference_gain": 0.45}


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    root = tmp_path_factory.mktemp("side")
    return {
        "right": make_side_study(root, 11, SideVariant("right", **BRIGHT)),
        # mirrored, no pre-injection clip, contrast shown in grey: the tint cannot help
        "left": make_side_study(root, 12, SideVariant("left", tint="grey", pre_clip=False, **BRIGHT)),
        "ambiguous": make_side_study(root, 13, SideVariant("right", ambiguous=True, pre_clip=False)),
    }


@pytest.fixture(autouse=True)
def no_env_model(monkeypatch):
    monkeypatch.delenv(models.ENV_MODEL, raising=False)
    monkeypatch.delenv(models.ENV_DEFAULT, raising=False)


@pytest.mark.parametrize("side", ["right", "left"])
def test_bright_contrast_panel_is_found_on_either_side(studies, side):
    study = open_study(studies[side])
    assert study.contrast_panel == side
    assert study.contrast_panel_sure and study.contrast_panel_source == "evidence"
    slot = study.slots["1:00"]
    assert (slot.panel[0] > slot.clip.cols // 2) == (side == "right")  # the contrast slots crop that side
    favour = {c["cue"]: c["favours"] for c in study.contrast_panel_evidence}
    assert favour["wash_in"] == side and favour["decorrelation"] == side
    assert not any("contrast panel" in w.message for w in study.warnings)


def test_identical_panels_are_unsure_and_inspect_says_so(studies, capsys):
    code = main(["inspect", str(studies["ambiguous"]), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["contrast_panel_sure"] is False and doc["contrast_panel_source"] == "evidence"
    evidence = doc["contrast_panel_evidence"]
    assert {c["cue"] for c in evidence} >= {"wash_in", "bmode_match", "decorrelation"}
    for c in evidence:
        assert c["favours"] in ("left", "right", "none") and 0.0 <= c["strength"] <= 1.0
    assert any("contrast panel unsure" in w["message"] for w in doc["warnings"])


def test_analyze_refuses_an_unsure_side_with_exit_6_and_accepts_the_users_side(studies, tmp_path, capsys):
    package = str(make_tiny_package(tmp_path / "pkg", size=32))
    argv = ["analyze", str(studies["ambiguous"]), "--roi", "20,20,30,30", "--model", package, "--json"]
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 6 and out == ""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "--contrast-panel left|right" in lines[0] and "Traceback" not in err
    code = main(argv + ["--contrast-panel", "left"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["contrast_panel"] == "left" and doc["contrast_panel_source"] == "user"
    assert doc["result"]["contrast_panel"] == {"side": "left", "source": "user"}


def test_users_side_against_sure_evidence_is_warned(studies):
    study = open_study(studies["right"], contrast_panel="left")
    assert study.contrast_panel == "left" and study.contrast_panel_source == "user"
    assert study.contrast_panel_sure
    assert any("images suggest right" in w.message for w in study.warnings)


def test_single_panel_study_has_no_side_question(tmp_path):
    write_study(tmp_path / "s", layout="bmode")
    study = open_study(tmp_path / "s")
    assert study.contrast_panel is None and study.contrast_panel_sure
    assert study.contrast_panel_evidence == [] and study.contrast_panel_source is None


@pytest.mark.parametrize(("cues", "side", "sure"), [
    ([("wash_in", "left", 1.0), ("decorrelation", "left", 0.9)], "left", True),
    # physical cues disagree: never sure, however strong the majority
    ([("wash_in", "left", 1.0), ("decorrelation", "left", 1.0), ("bmode_match", "right", 0.5)],
     "left", False),
    # weak physical evidence plus a display convention is not enough
    ([("decorrelation", "right", 0.3), ("display_tint", "right", 1.0)], "right", False),
    # the display convention may disagree with strong physics, not with a single moderate cue
    ([("wash_in", "right", 1.0), ("bmode_match", "right", 1.0), ("display_tint", "left", 1.0)],
     "right", True),
    ([("wash_in", "right", 0.7), ("display_tint", "left", 1.0)], "right", False),
    ([("wash_in", "none", 0.0), ("brightness_change", "left", 1.0)], "left", False),
    ([], "right", False),
])
def test_combination_rule(cues, side, sure):
    decision = combine([Cue(n, f, s, "") for n, f, s in cues])
    assert (decision.side, decision.sure) == (side, sure)
    assert bool(decision.reason) != sure


def test_a_contrast_only_clip_before_the_dual_clips_is_not_taken_for_the_reference(tmp_path):
    # no injection tag, the arterial clip starts after arrival, and the single-panel clip just before it
    # shows contrast: matching it would point at the contrast panel as the "reference"
    variant = SideVariant("left", single_is_contrast=True, late_arterial=True, **BRIGHT)
    study = open_study(make_side_study(tmp_path, 21, variant))
    match = next(c for c in study.contrast_panel_evidence if c["cue"] == "bmode_match")
    assert match["favours"] == "none" and "not B-mode" in match["detail"]
    assert study.contrast_panel == "left" and study.contrast_panel_sure


def test_cue_physics_on_synthetic_panels():
    rng = np.random.default_rng(0)
    tissue = rng.normal(100, 20, (80, 80))
    a = np.zeros((80, 170), np.uint8)
    b = np.zeros_like(a)
    a[:, :80] = np.clip(tissue, 0, 255)
    b[:, :80] = np.clip(np.roll(tissue, (2, -1), axis=(0, 1)), 0, 255)  # tissue moved a little
    a[:, 90:] = np.clip(rng.normal(120, 30, (80, 80)), 0, 255)  # fresh bubble echoes in each frame
    b[:, 90:] = np.clip(rng.normal(120, 30, (80, 80)), 0, 255)
    left, right = (cues.frame_stability(a, b, box) for box in ((0, 0, 80, 80), (90, 0, 170, 80)))
    assert left > 0.8 and right < 0.3
    assert cues.decorrelation([(left, right)]).favours == "right"
    rise = cues.wash_in(([100, 101, 99, 100], [2, 3, 60, 90]))
    assert rise.favours == "right" and rise.strength == 1.0
    assert cues.wash_in(([100, 101], [2, 90])).favours == "none"  # too few frames to see a wash-in
    broken = cues.brightness_change([(float("nan"), 1.0), (float("nan"), 2.0)])
    assert broken.favours == "none" and broken.strength == 0.0  # never NaN in the JSON


@pytest.mark.slow
def test_never_sure_and_wrong_on_varied_studies(tmp_path):
    """The benchmark's mix (brightness ratios, tints, persistence, motion, missing cues), 16 studies."""
    from benchmarks.contrast_side import evaluate

    doc = evaluate(16, seed=77, workdir=tmp_path)
    assert doc["totals"].get("wrong", 0) == 0, [r for r in doc["rows"] if r["outcome"] == "wrong"]
    assert doc["totals"].get("right", 0) >= 12
