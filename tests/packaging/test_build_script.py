"""build.sh --check must run the bundle's self-test (not open the GUI, which needs a display)."""
import re
from pathlib import Path

BUILD = Path(__file__).resolve().parents[2] / "packaging" / "build.sh"


def test_check_runs_the_selftest_subcommand_offline():
    text = BUILD.read_text()
    calls = [line.strip() for line in text.splitlines() if "offline_selftest.sh" in line and not
             line.lstrip().startswith("#")]
    assert calls, "build.sh --check does not run packaging/offline_selftest.sh"
    assert all(re.search(r"ceusdesk/ceusdesk\"?\s+selftest\b", c) for c in calls), calls


def test_build_stops_before_freezing_an_unpinned_model_package():
    text = BUILD.read_text()
    guard = text.find("-m ceusdesk.model_pins --check")
    assert guard != -1, "build.sh does not check the model pins"
    assert guard < text.find("-m PyInstaller"), "the pin check must run before PyInstaller"
