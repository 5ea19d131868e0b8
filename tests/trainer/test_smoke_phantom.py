"""The smoke preset end to end on a real (tiny) phantom cohort: synth → fit → evaluate --json."""

import json
import os
import subprocess
import sys

ENV_CMD = [sys.executable, "-m", "trainer"]


def _run(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
    }  # shared test cores: no OpenMP threads spinning on each other
    return subprocess.run([*ENV_CMD, *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_synth_fit_evaluate_smoke(tmp_path):
    cases, run = tmp_path / "cases", tmp_path / "run"
    done = _run(
        "synth",
        "--out",
        str(cases),
        "--cases",
        "16",
        "--seed",
        "1",
        "--size",
        "160x128",
        "--frames",
        "2",
        "--workers",
        "2",
        "--no-progress",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    done = _run(
        "fit",
        "--cases",
        str(cases),
        "--out",
        str(run),
        "--preset",
        "smoke",
        "--epochs",
        "1",
        "--no-referential",
        "--device",
        "cpu",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    done = _run("evaluate", str(run), "--json", "--bootstrap", "100")
    assert done.returncode == 0, done.stderr[-2000:]
    doc = json.loads(done.stdout)
    rows = {r["name"]: r for r in doc["rows"]}
    assert rows["full"]["n"] == rows["early"]["n"] == doc["n_cases"] > 0
    assert doc["washout_score"]["generator_score"]["threshold"] == 3.0  # docs/phantom.md: score ≥ 3
    assert doc["washout_score"]["full"]["available"]  # the reader read the rendered intensities
    assert doc["phantom"] is True and (run / "report.md").is_file()
    config = json.loads((run / "config.json").read_text())
    assert config["input"]["size"] == 64 and config["data"]["n"] == 16
