"""Local classification: model input (inputs, preprocess), model package verification, one ONNX Runtime
session, the early/full decision.

Typical use (what ``ceusdesk analyze`` does)::

    model = get_model(resolve_model(args.model))   # verified once, session reused
    study = open_study(path)
    result = analyze(study, roi, model)            # AnalysisResult; .to_json() is analyze's ``result``

The names below load on first use: importing ``ceusdesk.inference.inputs`` (the evidence and the
trainer do) must not start onnxruntime, which the app loads only when it analyzes. See docs/analyze.md.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ceusdesk.inference.engine import AnalysisResult, analyze, classify, decide_phase_set, run_model
    from ceusdesk.inference.loader import LoadedModel, check_manifest, get_model, load_model

_WHERE = {
    "AnalysisResult": "engine", "analyze": "engine", "classify": "engine", "decide_phase_set": "engine",
    "run_model": "engine", "LoadedModel": "loader", "check_manifest": "loader", "get_model": "loader",
    "load_model": "loader",
}
__all__ = [
    "AnalysisResult", "LoadedModel", "analyze", "check_manifest", "classify", "decide_phase_set",
    "get_model", "load_model", "run_model",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"ceusdesk.inference.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'ceusdesk.inference' has no attribute {name!r}")
