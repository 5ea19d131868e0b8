"""`ceusdesk selftest` from the source tree: OK with timings, or one FAILED line and a non-zero exit."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ceusdesk.cli import main
from ceusdesk.model_package.manifest import read_manifest
from tests.tiny_package import make_tiny_package

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_package(tmp_path_factory.mktemp("pkg") / "tiny", with_fp32=False)


def can_cut_network() -> bool:
    return shutil.which("unshare") is not None and (
        subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0
        or subprocess.run(["unshare", "--user", "--map-root-user", "-n", "true"],
                          capture_output=True).returncode == 0)


@pytest.mark.skipif(not can_cut_network(), reason="no network namespaces on this machine")
def test_selftest_passes_with_the_network_cut(tiny):
    proc = subprocess.run(
        [str(REPO / "packaging" / "offline_selftest.sh"), sys.executable, "-m", "ceusdesk", "selftest",
         "--model", str(tiny)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("OK ceusdesk"), proc.stdout
    assert "network cut (interfaces: lo, all down)" in proc.stderr
    assert "timings ms: verify+load" in proc.stdout and "inference" in proc.stdout
    assert "evidence: liver ROI" in proc.stdout


def test_selftest_json_names_the_verified_model(tiny, capsys):
    assert main(["selftest", "--model", str(tiny), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    manifest = read_manifest(tiny)
    assert report["status"] == "OK" and report["frozen"] is False
    assert report["model"]["sha256"] == manifest.files["int8"].sha256
    assert report["model"]["uid"] == manifest.uid and report["model"]["source"] == "--model"
    assert report["result"]["phase_set"] == "full"
    assert {"verify model", "synthesize case", "analyze", "evidence", "total"} <= set(report["timings_ms"])
    # the evidence module ran end to end on the built-in textbook HCC (a bundle missing it fails here)
    assert report["evidence"]["liver_roi"] and report["evidence"]["curve_points"] >= 5
    assert report["evidence"]["aphe"] is True


def one_line_failure(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert captured.out == "" and len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


def test_tampered_model_fails_verification_in_one_line(tiny, tmp_path, capsys):
    pkg = shutil.copytree(tiny.parent, tmp_path / "tampered")
    with open(pkg / "model.int8.onnx", "ab") as f:
        f.write(b"\0")
    assert main(["selftest", "--model", str(pkg)]) == 5  # the documented code for a refused model
    line = one_line_failure(capsys)
    assert line.startswith("ceusdesk: selftest FAILED at verify model:") and "sha256" in line


def test_missing_model_fails_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CEUSDESK_MODEL", str(tmp_path / "nowhere"))
    assert main(["selftest"]) == 5
    assert "selftest FAILED at verify model" in one_line_failure(capsys)


def test_unexpected_error_names_the_step(tiny, monkeypatch, capsys):
    import ceusdesk.phantom

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ceusdesk.phantom, "synthesize_case", broken)
    assert main(["selftest", "--model", str(tiny)]) == 1
    assert one_line_failure(capsys) == "ceusdesk: selftest FAILED at synthesize case: RuntimeError: disk full"
