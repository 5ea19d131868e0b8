"""build.sh --check must check the bundle offline: its self-test, then the app's own checks (the GUI only
offscreen: a build machine has no display)."""
import re
from pathlib import Path

BUILD = Path(__file__).resolve().parents[2] / "packaging" / "build.sh"


def test_check_runs_the_selftest_and_the_app_checks_offline():
    text = BUILD.read_text()
    calls = [line.strip() for line in text.splitlines() if "offline_selftest.sh" in line and not
             line.lstrip().startswith("#")]
    assert calls, "build.sh --check does not run packaging/offline_selftest.sh"
    bundle_checked = re.compile(r"frozen_app_check\.py\s+\"?\$ROOT/dist/ceusdesk/ceusdesk\b")
    assert all(bundle_checked.search(c) for c in calls), calls


def test_build_stops_before_freezing_an_unpinned_model_package():
    text = BUILD.read_text()
    guard = text.find("-m ceusdesk.model_package.pins --check")
    assert guard != -1, "build.sh does not check the model pins"
    assert guard < text.find("-m PyInstaller"), "the pin check must run before PyInstaller"
