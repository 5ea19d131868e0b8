"""``ceusdesk analyze`` / ``ceusdesk demo`` on small phantom studies: flags, exit codes, stdout JSON only."""
from __future__ import annotations

import json

import pytest

from ceusdesk.cli import main
from ceusdesk.model_package import resolve as models
from ceusdesk.phantom import PhantomOptions, synthesize_case
from tests.tiny_package import make_tiny_package as make_package

SMALL = {"panel_size": (128, 96), "frames_per_clip": 2}


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    root = tmp_path_factory.mktemp("studies")
    out = {}
    for name, missing in (("full", ()), ("early", ("10:00",)), ("incomplete", ("1:00",)),
                          ("gapped", ("4:00", "5:00"))):
        options = PhantomOptions(missing_slots=missing, **SMALL)
        rec = synthesize_case(root, seed=3, case_id=name, options=options)
        out[name] = (str(root / rec["study"]), ",".join(map(str, rec["roi"])))
    return out


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return str(make_package(tmp_path_factory.mktemp("pkg"), size=32))


@pytest.fixture(autouse=True)
def no_env_model(monkeypatch):
    monkeypatch.delenv(models.ENV_MODEL, raising=False)
    monkeypatch.delenv(models.ENV_DEFAULT, raising=False)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_full_study_json(capsys, studies, package):
    study, roi = studies["full"]
    code, out, _ = run(capsys, "analyze", study, "--roi", roi, "--model", package, "--json")
    assert code == 0
    doc = json.loads(out)  # stdout holds the JSON document and nothing else
    r = doc["result"]
    assert doc["phase_set"] == r["phase_set"] == "full"
    assert set(doc["slots"]) >= set(r["slots_used"])
    assert set(r["phase_importance"]) == set(r["slots_used"]) == {n for n, s in doc["slots"].items() if s}
    assert sum(r["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert r["call"] in ("benign", "malignant")
    assert {"name", "version", "uid", "sha256", "manifest_sha256", "threshold"} <= set(r["model"])
    assert r["model"]["threshold"] == r["threshold"] and r["model"]["manifest_pinned"] is False
    assert doc["roi"] == [int(v) for v in roi.split(",")]


def test_early_study_uses_only_slots_up_to_two_minutes(capsys, studies, package):
    study, roi = studies["early"]
    code, out, _ = run(capsys, "analyze", study, "--roi", roi, "--model", package, "--json")
    assert code == 0
    r = json.loads(out)["result"]
    assert r["phase_set"] == "early"
    assert r["slots_used"] == ["B", "0:30", "1:00", "2:00"]
    assert list(r["phase_importance"]) == ["B", "0:30", "1:00", "2:00"]


def test_summary_opens_with_the_phase_set(capsys, studies, package):
    for name, title in (("full", "FULL SET (to Kupffer phase)"), ("early", "EARLY SET (≤2 min)")):
        study, roi = studies[name]
        code, out, _ = run(capsys, "analyze", study, "--roi", roi, "--model", package)
        assert code == 0
        assert out.startswith(title)
        assert "Research use only" in out


def test_summary_names_the_slots_not_acquired_for_every_phase_set(capsys, studies, package):
    expected = {"full": None, "gapped": "4:00, 5:00", "early": "10:00"}
    for name, not_acquired in expected.items():
        study, roi = studies[name]
        code, out, _ = run(capsys, "analyze", study, "--roi", roi, "--model", package)
        assert code == 0
        assert out.startswith("FULL SET" if name != "early" else "EARLY SET"), out
        lines = [ln.strip() for ln in out.splitlines() if "not acquired:" in ln]
        assert lines == ([f"not acquired: {not_acquired}"] if not_acquired else []), out
        assert "missing for the full set" not in out


def test_incomplete_study_exits_4_naming_the_missing_slot(capsys, studies, package):
    study, roi = studies["incomplete"]
    code, out, err = run(capsys, "analyze", study, "--roi", roi, "--model", package, "--json")
    assert code == 4 and out == ""
    assert "missing 1:00" in one_line(err)


@pytest.mark.parametrize("roi_args, needle", [
    ((), "no ROI given"),
    (("--roi", "10,20,30"), "X,Y,W,H"),
    (("--roi", "5000,5000,20,20"), "outside the contrast panel"),
])
def test_bad_roi_exits_2(capsys, studies, package, roi_args, needle):
    code, out, err = run(capsys, "analyze", studies["full"][0], *roi_args, "--model", package, "--json")
    assert code == 2 and out == ""
    assert needle in one_line(err)


def test_nothing_readable_exits_3(capsys, tmp_path, package):
    (tmp_path / "notes.txt").write_text("not an image")
    code, out, err = run(capsys, "analyze", tmp_path, "--roi", "1,1,10,10", "--model", package)
    assert code == 3 and out == ""
    one_line(err)


def test_tampered_package_exits_5(capsys, studies, tmp_path):
    manifest = make_package(tmp_path / "pkg")
    doc = json.loads(manifest.read_text())
    doc["files"]["int8"]["sha256"] = "0" * 64
    manifest.write_text(json.dumps(doc))
    study, roi = studies["full"]
    code, out, err = run(capsys, "analyze", study, "--roi", roi, "--model", manifest, "--json")
    assert code == 5 and out == ""
    assert "sha256" in one_line(err)


def test_model_from_environment(capsys, monkeypatch, studies, package):
    monkeypatch.setenv(models.ENV_MODEL, package)
    study, roi = studies["full"]
    code, out, _ = run(capsys, "analyze", study, "--roi", roi, "--json")
    assert code == 0 and json.loads(out)["result"]["model"]["name"] == "tiny-test"


def test_demo_prints_result_and_truth(capsys, monkeypatch, package):
    monkeypatch.setattr("ceusdesk.cli.demo.DEMO_OPTIONS", SMALL)
    code, out, _ = run(capsys, "demo", "--model", package, "--json", "--label", "hcc")
    assert code == 0
    doc = json.loads(out)
    assert doc["truth"]["label"] == "hcc"
    assert doc["result"]["phase_set"] in ("full", "early")
    code, out, _ = run(capsys, "demo", "--model", package, "--label", "benign")
    assert code == 0 and "truth      benign" in out and "Research use only" in out


def test_demo_without_a_package_says_how_to_get_one(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(models, "exports_dir", lambda: tmp_path / "exports")
    code, out, err = run(capsys, "demo")
    assert code == 5 and out == ""
    line = one_line(err)
    assert "model package is missing" in line and "trainer export" in line


def test_track_roi_reports_each_used_slots_roi(capsys, studies, package):
    study, roi = studies["full"]
    code, out, _ = run(capsys, "analyze", study, "--roi", roi, "--model", package, "--track-roi", "--json")
    assert code == 0
    r = json.loads(out)["result"]
    assert set(r["rois"]) == set(r["slots_used"])
    given = [int(v) for v in roi.split(",")]
    for slot_roi in r["rois"].values():  # the shift stays within half the ROI side
        assert all(abs(a - b) <= given[2] // 2 for a, b in zip(slot_roi[:2], given[:2], strict=True))


def test_slot_roi_sets_one_slots_roi(capsys, studies, package):
    study, roi = studies["full"]
    x, y, w, h = (int(v) for v in roi.split(","))
    moved = f"{x + 6},{y + 4},{w},{h}"
    code, out, _ = run(capsys, "analyze", study, "--roi", roi, "--model", package, "--json",
                       "--slot-roi", f"3:00={moved}", "--slot-roi", f"B={roi}")
    assert code == 0
    r = json.loads(out)["result"]
    assert r["rois"]["3:00"] == [x + 6, y + 4, w, h] and r["roi_sources"]["3:00"] == "user"
    assert r["roi_sources"]["B"] == "user"
    assert r["rois"]["0:30"] == [x, y, w, h] and r["roi_sources"]["0:30"] == "given"
    code, out, _ = run(capsys, "analyze", study, "--roi", roi, "--model", package,
                       "--slot-roi", f"3:00={moved}")
    assert code == 0 and f"3:00 {moved} (user)" in out  # the summary marks the hand-set ROI


@pytest.mark.parametrize("slot_roi, needle", [
    ("3:00", "expected SLOT=X,Y,W,H"),
    ("3:00=1,2,3", "--slot-roi 3:00"),
    ("7:30=10,10,20,20", "unknown slot '7:30'"),
    ("3:00=5000,10,20,20", "slot 3:00 lies outside its panel"),
])
def test_bad_slot_roi_exits_2(capsys, studies, package, slot_roi, needle):
    study, roi = studies["full"]
    code, out, err = run(capsys, "analyze", study, "--roi", roi, "--model", package, "--json",
                         "--slot-roi", slot_roi)
    assert code == 2 and out == ""
    assert needle in one_line(err)
