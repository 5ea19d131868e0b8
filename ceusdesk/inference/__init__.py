"""Local classification: model package verification, one ONNX Runtime session, the early/full decision.

Typical use (what ``ceusdesk analyze`` does)::

    model = get_model(resolve_model(args.model))   # verified once, session reused
    study = open_study(path)
    result = analyze(study, roi, model)            # AnalysisResult; .to_json() is analyze's ``result``

See docs/analyze.md.
"""
from .engine import AnalysisResult, analyze, classify, decide_phase_set, run_model
from .loader import LoadedModel, check_manifest, get_model, load_model

__all__ = [
    "AnalysisResult", "LoadedModel", "analyze", "check_manifest", "classify", "decide_phase_set",
    "get_model", "load_model", "run_model",
]
