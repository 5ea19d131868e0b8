"""``ceusdesk selftest``: prove this installation works - model verified, a built-in case analyzed.

For IT after installing or replacing a model package, in the frozen bundle and the source tree alike:

1. resolve the model package as every command does (``--model`` → ``$CEUSDESK_MODEL`` → ``models/``
   beside the bundle → the bundled default) and verify every file's sha256 and the manifest's checks;
2. synthesize a small built-in phantom study (DICOM, JPEG/RLE as a scanner writes it) in a temporary
   folder - nothing is downloaded, nothing outside the temporary folder is written;
3. analyze it through the same code path as ``ceusdesk analyze`` and check the result is well formed.

Success prints a line starting with ``OK`` (then the timings) and exits 0. Any failure prints one line,
``ceusdesk: selftest FAILED at <step>: <reason>``, and exits non-zero (the documented code for a refused
model package; 1 for anything else). ``-v`` adds the traceback of an unexpected failure.
"""
from __future__ import annotations

import argparse
import logging
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

from ceusdesk import __version__
from ceusdesk.base.errors import CeusdeskError
from ceusdesk.cli import print_document

log = logging.getLogger(__name__)
T = TypeVar("T")

SELFTEST_SEED = 1  # one fixed textbook case (moderately differentiated HCC), the same everywhere
SELFTEST_LABEL = "hcc"
SELFTEST_FRAMES = 2  # two frames per clip: every slot filled, the study written in about a second


class SelftestFailed(CeusdeskError):
    """A self-test step failed; the message names the step."""

    exit_code = 1


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "selftest",
        help="verify the model package and analyze a built-in case (for IT; works offline)",
        description="Verify the model package this installation uses (every sha256), synthesize a small "
                    "built-in phantom study in a temporary folder, analyze it the way `ceusdesk analyze` "
                    "does, and print OK with timings. Exits non-zero with one line on any failure.",
    )
    p.add_argument("--model", metavar="MANIFEST",
                   help="model package to test (default: the one `analyze` would use)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON document")
    p.set_defaults(func=run)


def _step(name: str, timings: dict[str, float], fn: Callable[[], T]) -> T:
    """Run one step, timing it; an unexpected exception becomes one line naming the step."""
    t = time.perf_counter()
    try:
        return fn()
    except CeusdeskError as err:
        err.args = (f"{name}: {err}",)  # keep its exit code (e.g. 5 for a refused model package)
        raise
    except Exception as err:  # a bug or a broken install: report it in one line, traceback with -v
        log.debug("selftest step %s failed", name, exc_info=True)
        raise SelftestFailed(f"{name}: {type(err).__name__}: {err}") from err
    finally:
        timings[name] = round((time.perf_counter() - t) * 1000.0, 1)


def model_source(manifest: Path, cli: str | None = None) -> str:
    """Where the resolved package comes from, in the resolution order's words."""
    import os

    from ceusdesk.model_package.resolve import ENV_MODEL, bundle_models_dir, exports_dir

    where = manifest.resolve()
    if cli:
        return "--model"
    if os.environ.get(ENV_MODEL):
        return f"${ENV_MODEL}"
    for label, folder in (("models/ beside the bundle", bundle_models_dir()), ("bundled", exports_dir())):
        if folder is not None and folder.resolve() in where.parents:
            return label
    return str(manifest.parent)


def check_result(result: Any, model: Any) -> None:
    """The checks a well-formed result passes, whatever the model's quality."""
    probs = result["probabilities"]
    if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in probs.values()):
        raise ValueError(f"probabilities out of range: {probs}")
    if abs(sum(probs.values()) - 1.0) > 1e-4:
        raise ValueError(f"probabilities sum to {sum(probs.values()):.6f}, not 1")
    if result["phase_set"] != "full":
        raise ValueError(f"the built-in case gave phase set {result['phase_set']!r}, expected 'full'")
    if result["model"].get("sha256") != model.sha256:
        raise ValueError("the result does not name the verified model file")


def check_evidence(ev: dict[str, Any]) -> None:
    """The evidence module ran end to end: a liver reference placed, a curve measured, a readout."""
    if not ev.get("liver_roi"):
        raise ValueError("the evidence placed no liver ROI on the built-in case: "
                         + "; ".join(a for a in ev.get("assumptions") or [] if "liver" in a))
    if len(ev.get("tic") or []) < 5:
        raise ValueError(f"the evidence measured {len(ev.get('tic') or [])} curve points (expected ≥ 5)")
    if not ev.get("readout") or ev.get("aphe") is None:
        raise ValueError("the evidence gave no readout or no arterial-phase assessment")


def _imports() -> SimpleNamespace:
    """What the self-test uses, imported in a named step: a bundle missing a module fails there."""
    import onnxruntime

    from ceusdesk.analysis import analyze_study
    from ceusdesk.cli import build_parser
    from ceusdesk.cli.analyze import analyze_from_args
    from ceusdesk.inference import get_model
    from ceusdesk.model_package.resolve import resolve_model
    from ceusdesk.phantom import PhantomOptions, synthesize_case

    return SimpleNamespace(onnxruntime=onnxruntime, get_model=get_model, resolve_model=resolve_model,
                           analyze_study=analyze_study,
                           PhantomOptions=PhantomOptions, synthesize_case=synthesize_case,
                           build_parser=build_parser, analyze_from_args=analyze_from_args)


def selftest(model_arg: str | None = None) -> dict[str, Any]:
    """Run the self-test; returns the report (raises :class:`CeusdeskError` naming the failed step)."""
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    lib = _step("import", timings, _imports)
    manifest = _step("resolve model", timings, lambda: lib.resolve_model(model_arg))
    model = _step("verify model", timings, lambda: lib.get_model(manifest))  # every sha256, then the session
    with tempfile.TemporaryDirectory(prefix="ceusdesk-selftest-") as tmp:
        record = _step("synthesize case", timings, lambda: lib.synthesize_case(
            Path(tmp), seed=SELFTEST_SEED, label=SELFTEST_LABEL, textbook=True,
            options=lib.PhantomOptions(frames_per_clip=SELFTEST_FRAMES)))
        roi = ",".join(str(v) for v in record["roi"])
        args = lib.build_parser().parse_args(
            ["analyze", str(Path(tmp) / record["study"]), "--roi", roi, "--model", str(manifest)])
        _study, _model, result, _roi = _step("analyze", timings, lambda: lib.analyze_from_args(args))
    ev = result["evidence"]
    timings["evidence"] = round(result["timings_ms"].get("evidence", 0.0), 1)  # part of "analyze"
    _step("check result", timings, lambda: check_result(result, model))
    _step("check evidence", timings, lambda: check_evidence(ev))
    timings["total"] = round((time.perf_counter() - t0) * 1000.0, 1)
    m = model.manifest
    return {
        "status": "OK",
        "ceusdesk": __version__,
        "frozen": bool(getattr(sys, "frozen", False)),
        "onnxruntime": lib.onnxruntime.__version__,
        "model": {**model.provenance(), "manifest": str(manifest), "variant": model.variant,
                  "source": model_source(manifest, model_arg)},
        "case": {"seed": SELFTEST_SEED, "label": record["label"], "subtype": record["subtype"]},
        "result": {"phase_set": result["phase_set"], "call": result["call"],
                   "malignant_probability": round(result["malignant_probability"], 4)},
        "evidence": {"liver_roi": ev["liver_roi"], "curve_points": len(ev["tic"]), "aphe": ev["aphe"],
                     "washout_onset_s": ev["washout_onset_s"], "kupffer_defect": ev["kupffer_defect"],
                     "version": ev.get("version")},
        "timings_ms": {**timings, "inference": round(result["timings_ms"].get("inference", 0.0), 1)},
        "research_use_only": m.research_use_only,
    }


def format_report(report: dict[str, Any]) -> str:
    m, r, t, e = report["model"], report["result"], report["timings_ms"], report["evidence"]
    where = "bundle" if report["frozen"] else "source"
    return (
        f"OK ceusdesk {report['ceusdesk']} selftest ({where}, onnxruntime {report['onnxruntime']}): "
        f"model {m['name']} {m['version']} ({m['source']}, sha256 {m['sha256'][:12]}… verified); "
        f"built-in {report['case']['label']} case -> {r['phase_set']} set, {r['call']} "
        f"(p malignant {r['malignant_probability']:.3f})\n"
        f"timings ms: verify+load {t['verify model']:.0f}, synthesize {t['synthesize case']:.0f}, "
        f"analyze {t['analyze']:.0f} (inference {t['inference']:.0f}, evidence {t['evidence']:.0f}), "
        f"total {t['total']:.0f}\n"
        f"evidence: liver ROI {','.join(map(str, e['liver_roi']))}, {e['curve_points']} curve points\n"
    )


def run(args: argparse.Namespace) -> int:
    try:
        report = selftest(args.model)
    except CeusdeskError as err:
        # main() prints "ceusdesk: <message>"; the FAILED prefix is what scripts grep for
        err.args = (f"selftest FAILED at {err}",)
        raise
    print_document(report, args.json, format_report)
    return 0
