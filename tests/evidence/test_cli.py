"""``analyze`` carries ``result.evidence`` and takes ``--liver-roi``; bad liver ROIs are refused (exit 2)."""
from __future__ import annotations

import json

import pytest

from ceusdesk.evidence import FIELDS
from ceusdesk.phantom import PhantomOptions, synthesize_case
from tests.inference import test_cli as analyze_tests

# the analyze tests' tiny model package, environment guard and runner
package, no_env_model, run = analyze_tests.package, analyze_tests.no_env_model, analyze_tests.run


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    options = PhantomOptions(panel_size=(160, 128), frames_per_clip=2)
    rec = synthesize_case(root, seed=3, case_id="s", options=options)
    return str(root / rec["study"]), rec["roi"]


def no_nan(text: str) -> dict:
    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")
    return json.loads(text, parse_constant=refuse)


def test_json_carries_every_evidence_field_as_standard_json(capsys, study, package):
    path, roi = study
    x, y, w, h = roi
    liver = f"{max(0, x - w)},{y},{w // 2},{h // 2}"
    code, out, _ = run(capsys, "analyze", path, "--roi", ",".join(map(str, roi)), "--model", package,
                       "--liver-roi", liver, "--json")
    assert code == 0
    ev = no_nan(out)["result"]["evidence"]
    assert set(FIELDS) <= set(ev)
    assert ev["liver_roi"] == [int(v) for v in liver.split(",")]
    assert all(set(p) == {"t_s", "lesion", "liver"} for p in ev["tic"])
    assert ev["readout"][0].startswith("Derived measurements") and "not a diagnosis" in ev["readout"][0]


def test_summary_shows_the_evidence(capsys, study, package):
    path, roi = study
    code, out, _ = run(capsys, "analyze", path, "--roi", ",".join(map(str, roi)), "--model", package)
    assert code == 0
    assert "evidence   Derived measurements" in out and "Washout:" in out and "Kupffer phase" in out


@pytest.mark.parametrize("bad,words", [("1,2,3", "four finite integers"), ("9000,10,20,20", "outside")])
def test_a_bad_liver_roi_is_refused_in_one_line(capsys, study, package, bad, words):
    path, roi = study
    code, out, err = run(capsys, "analyze", path, "--roi", ",".join(map(str, roi)), "--model", package,
                         "--liver-roi", bad, "--json")
    assert code == 2 and out == ""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "--liver-roi" in lines[0] and words in lines[0] and "Traceback" not in err
