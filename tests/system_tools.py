"""Real tools the DICOM-results tests run (installed by tests/tools/install-system-tools.sh, which the
README's test command and CI run first), and a private network namespace to start servers in.

Where a tool is missing the test is skipped with the reason, except under CI (``CI`` set), where a
missing tool fails: CI installs them, so a skip there would hide a broken setup.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

INSTALL = "tests/tools/install-system-tools.sh"


def tool(name: str) -> str:
    """The tool's path, or skip (fail under CI) saying how to install it."""
    path = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}")
                                       if os.access(p, os.X_OK)), None)
    if path is None:
        message = f"{name} is not installed: run {INSTALL} (as root)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must install it")
        pytest.skip(message)
    return path


class Namespace:
    """A process in its own network namespace (``unshare -rn``: loopback only, nothing else reachable)
    and a way to run commands inside it (``nsenter``)."""

    def __init__(self, argv: Sequence[str], log: Path):
        tool("unshare"), tool("nsenter"), tool("ip")
        self.log = log.open("w")
        script = 'ip link set lo up && exec "$@"'
        self.proc = subprocess.Popen([tool("unshare"), "-rn", "sh", "-c", script, "sh", *argv],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        time.sleep(0.2)
        if self.proc.poll() is not None:
            self.log.close()
            text = log.read_text()[-500:]
            pytest.skip(f"cannot make a private network namespace here (unshare -rn): {text}")

    def run(self, argv: Sequence[str], *, text: bool = True, **kw) -> subprocess.CompletedProcess:
        enter = [tool("nsenter"), "-t", str(self.proc.pid), "-U", "-n", "--preserve-credentials"]
        return subprocess.run([*enter, *argv], capture_output=True, text=text, **kw)

    def python(self, code: str, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.run([sys.executable, "-c", code, *args], **kw)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
