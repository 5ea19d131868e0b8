"""The app says which call it shows: the model's, or the model's with the measured evidence."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui

BASE = {"phase_set": "full", "slots_used": ["B", "0:30"], "threshold": 0.5, "phase_importance": {},
        "evidence": None, "model": {"name": "m", "version": "1", "uid": "u", "sha256": "0" * 64,
                                    "threshold_phase_set": "full"}}


def test_the_call_line_names_its_source(qtbot):
    from ceusdesk.gui.result_panel import ResultPanel

    panel = ResultPanel()
    qtbot.addWidget(panel)
    cnn = {**BASE, "probabilities": {"benign": 0.3, "hcc": 0.5, "non_hcc_malignant": 0.2},
           "malignant_probability": 0.7, "call": "malignant",
           "model": {**BASE["model"], "call_source": "cnn"}}
    panel.show_result(cnn)
    assert "from the model</small>" in panel.call.text()
    fused = {**BASE, "probabilities": {"benign": 0.8, "hcc": 0.14, "non_hcc_malignant": 0.06},
             "malignant_probability": 0.2, "call": "benign",
             "model": {**BASE["model"], "call_source": "cnn+evidence"},
             "cnn": {"probabilities": cnn["probabilities"], "malignant_probability": 0.7, "call": "malignant",
                     "threshold": 0.45}}
    panel.show_result(fused)
    assert "model + measured evidence" in panel.call.text()
    # the explanation keeps the model's own call in view
    assert "the model alone: 0.70" in panel.explain.text() and "malignant" in panel.explain.text()
