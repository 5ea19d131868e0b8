"""The app opens no network socket: every process of a real run is traced at the system-call level.

Python-level monkeypatching cannot see sockets opened by C++ libraries (ONNX Runtime, Qt), so the
commands run under ``strace -f`` and the test fails on any AF_INET/AF_INET6 socket, from any thread or
child process.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ceusdesk.phantom import PhantomOptions, synthesize_case
from tests.tiny_package import make_tiny_package

STRACE = shutil.which("strace")
pytestmark = pytest.mark.skipif(STRACE is None, reason="strace is not installed (apt-get install strace)")
INET = re.compile(r"socket\((AF_INET|AF_INET6|PF_INET|PF_INET6)\b")


def traced(args: list[str], tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    log = tmp_path / "strace.log"
    full_env = {**os.environ, "CEUSDESK_DATA_DIR": str(tmp_path / "data"), "QT_QPA_PLATFORM": "offscreen",
                **env}
    proc = subprocess.run([STRACE, "-f", "-qq", "-e", "trace=socket", "-o", str(log),
                           sys.executable, "-m", "ceusdesk", *args],
                          capture_output=True, text=True, env=full_env, timeout=300)
    calls = [line for line in log.read_text().splitlines() if "socket(" in line]
    return proc, calls


def test_the_trace_sees_a_socket_when_one_is_opened(tmp_path):
    """The detector itself works: a Python process that opens an INET socket is caught."""
    log = tmp_path / "strace.log"
    subprocess.run([STRACE, "-f", "-qq", "-e", "trace=socket", "-o", str(log), sys.executable, "-c",
                    "import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()"], check=True)
    assert any(INET.search(line) for line in log.read_text().splitlines())


def test_selftest_opens_no_network_socket(tmp_path):
    proc, calls = traced(["selftest", "--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout)  # it really ran the analysis
    assert not [c for c in calls if INET.search(c)], calls


@pytest.mark.gui
def test_gui_open_analyze_screenshot_opens_no_network_socket(tmp_path):
    rec = synthesize_case(tmp_path / "s", seed=2, options=PhantomOptions(frames_per_clip=2))
    manifest = make_tiny_package(tmp_path / "pkg")
    shot = tmp_path / "shot.png"
    proc, calls = traced(["gui", str(tmp_path / "s" / rec["study"]), "--roi", ",".join(map(str, rec["roi"])),
                          "--analyze", "--screenshot", str(shot)], tmp_path, CEUSDESK_MODEL=str(manifest))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.stat().st_size > 0
    assert not [c for c in calls if INET.search(c)], calls


def test_analyze_writing_dicom_results_opens_no_network_socket(tmp_path):
    """Writing the DICOM results is local; only `ceusdesk send` may connect (tests/report/test_dicom_send)."""
    rec = synthesize_case(tmp_path / "s", seed=4, options=PhantomOptions(frames_per_clip=2, encoding="raw"))
    manifest = make_tiny_package(tmp_path / "pkg")
    proc, calls = traced(["analyze", str(tmp_path / "s" / rec["study"]),
                          "--roi", ",".join(map(str, rec["roi"])), "--model", str(manifest),
                          "--dicom-out", str(tmp_path / "out"), "--json"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(list((tmp_path / "out").glob("*.dcm"))) == 4  # it really wrote them
    assert not [c for c in calls if INET.search(c)], calls


def test_the_trace_sees_send_open_its_socket(tmp_path):
    """The opt-in `send` is the one command that connects: the same trace catches it (no server needed)."""
    rec = synthesize_case(tmp_path / "s", seed=4, options=PhantomOptions(frames_per_clip=2, encoding="raw"))
    src = next((tmp_path / "s" / rec["study"]).glob("*.dcm"))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / src.name).write_bytes(src.read_bytes())
    proc, calls = traced(["send", str(tmp_path / "out"), "--to", "PACS@127.0.0.1:9", "--timeout", "2"],
                         tmp_path)
    assert proc.returncode == 8, proc.stderr
    assert [c for c in calls if INET.search(c)]
