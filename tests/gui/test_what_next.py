"""What to do next, in the app's words: why Analyze is disabled, how to cancel, where the result goes, and
when the Kupffer phase is due on an early set."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from ceusdesk.base.errors import Cancelled
from ceusdesk.gui import backend
from ceusdesk.phantom import PhantomOptions, synthesize_case

from .conftest import open_and_wait
from .test_window import analyze_and_wait

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def incomplete_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("phantom-incomplete")
    rec = synthesize_case(out, seed=11, label="benign",
                          options=PhantomOptions(encoding="raw", early_only=True, missing_slots=("0:30",)))
    return out / rec["study"], rec["roi"]


def test_an_incomplete_set_disables_analyze_and_says_what_to_drag_where(qtbot, window, incomplete_study):
    study = open_and_wait(qtbot, window, incomplete_study[0])
    assert study.phase_set == "incomplete"
    assert not window.analyze_btn.isEnabled() and window.analyze_reason.isVisible()
    reason = window.analyze_reason.text()
    assert "drag a clip" in reason.lower() and "red 0:30 card" in reason
    assert "--" not in reason  # no CLI flags in the app


def test_analyzing_says_how_to_cancel_and_the_result_offers_export(qtbot, window, full_study):
    open_and_wait(qtbot, window, full_study[0])
    window.set_roi("0:30", tuple(full_study[1]))
    assert not window.export_btn.isEnabled() and not window.case_btn.isEnabled()
    with qtbot.waitSignal(window.analysisFinished, timeout=30000):
        window.analyze()
        assert window.result_panel.call.text() == "Analyzing… Esc to cancel."
    assert window.export_btn.isEnabled() and window.case_btn.isEnabled()
    window.set_roi("0:30", tuple(v + 2 for v in full_study[1]))  # out of date: nothing to export
    assert not window.export_btn.isEnabled() and not window.case_btn.isEnabled()


def test_the_call_is_explained_against_the_threshold_of_its_phase_set(qtbot, window, full_study):
    open_and_wait(qtbot, window, full_study[0])
    window.set_roi("0:30", tuple(full_study[1]))
    result = analyze_and_wait(qtbot, window)
    panel = window.result_panel
    text = panel.explain.text()
    p = result["probabilities"]
    assert f"HCC {p['hcc']:.2f} + non-HCC malignant {p['non_hcc_malignant']:.2f}" in text
    assert f"{result['threshold']:.2f}, the operating threshold for the full set" in text
    assert panel.call_bar.value == pytest.approx(result["malignant_probability"])
    assert panel.call_bar.threshold == pytest.approx(result["threshold"])
    assert not panel.importance.isVisible()  # folded under Details
    panel.details.toggle.click()
    assert panel.importance.isVisible() and panel.importance.values == result["phase_importance"]


def test_an_early_set_says_when_the_kupffer_phase_is_due(qtbot, window, early_study):
    study = open_and_wait(qtbot, window, early_study[0])
    inj = study.injection_time
    window._update_due(now=inj + timedelta(seconds=300))
    due = window.result_panel.due
    assert due.isVisible()
    assert due.text() == f"Kupffer phase (10:00) due at {(inj + timedelta(seconds=600)):%H:%M} (in 5:00)"
    window._update_due(now=inj + timedelta(hours=3))  # the exam is long over: nothing to wait for
    assert not due.isVisible()


def test_cancel_stops_a_model_run_in_progress():
    """The session wrapper sets ONNX Runtime's terminate flag; the run stops and Cancelled is raised."""
    started, stop = threading.Event(), threading.Event()

    class Slow:
        def run(self, _outputs, _feeds, options):
            started.set()
            while not options.terminate:  # what ORT does between its kernels
                stop.wait(0.01)
            raise RuntimeError("Exiting due to terminate flag being set to true")

    session = backend.CancellableSession(Slow(), cancel=started.is_set)
    with pytest.raises(Cancelled):
        session.run(["probabilities"], {})


def test_warnings_and_refusals_name_no_cli_flags(qtbot, window, gappy_study):
    open_and_wait(qtbot, window, gappy_study[0])
    shown = [window.clips.warnings.item(i).text() for i in range(window.clips.warnings.count())]
    assert shown and not [w for w in shown if "--" in w]
    for message in ("clip US0009: timing unknown: assign the clip with --assign FILE=SLOT",
                    "contrast panel unsure: pass --contrast-panel left|right",
                    "no model package found - pass --model PATH/manifest.json",
                    "0:30 missing - assign those clips (--assign FILE=SLOT) or check the injection time"):
        window.show_error(message)
        assert "--" not in window.error_box.text(), window.error_box.text()
    assert "drag the clip from the list onto its slot card" in window.error_box.text()
