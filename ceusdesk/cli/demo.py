"""``ceusdesk demo``: synthesize one phantom study, analyze it with the bundled model, show the truth.

The README's first command. The study is written to a temporary folder and removed afterwards.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from ceusdesk.base.classes import CLASSES
from ceusdesk.base.errors import ModelRefused
from ceusdesk.cli import print_document
from ceusdesk.cli.analyze import format_summary
from ceusdesk.model_package.resolve import HOW_TO_GET, resolve_model
from ceusdesk.outputs.wording import CLASS_LABELS

DEMO_OPTIONS: dict = {}  # extra PhantomOptions for the demo study (tests shrink it)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="make a synthetic study and analyze it with the bundled model",
        description="Synthesize one phantom Sonazoid CEUS study (DICOM, as a scanner exports it) into a "
                    "temporary folder, analyze it with the bundled model package and print the result "
                    "beside the lesion's true class. Research use only.",
    )
    p.add_argument("--seed", type=int, default=7, help="phantom seed (another seed, another lesion)")
    p.add_argument("--label", choices=CLASSES, help="lesion class to synthesize (default: drawn)")
    p.add_argument("--realistic", action="store_true", help="scanner-length clips (~130 MB, slower)")
    p.add_argument("--model", metavar="MANIFEST", help="model package manifest.json (default: bundled)")
    p.add_argument("--json", action="store_true", help="print only the JSON document on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ceusdesk.analysis import analysis_document
    from ceusdesk.cli.analyze import analyze_from_args
    from ceusdesk.phantom import PhantomOptions, synthesize_case

    manifest = resolve_model(args.model)
    if not manifest.is_file():
        raise ModelRefused(f"the model package is missing: no {manifest} - {HOW_TO_GET}")
    with tempfile.TemporaryDirectory(prefix="ceusdesk-demo-") as tmp:
        print("synthesizing a phantom study…", file=sys.stderr)
        record = synthesize_case(Path(tmp), seed=args.seed, label=args.label, textbook=True,
                                 options=PhantomOptions(realistic=args.realistic, **DEMO_OPTIONS))
        study_args = argparse.Namespace(
            study=str(Path(tmp) / record["study"]), injection_time=None, patient=None, contrast_panel=None,
            assign=[], roi=",".join(str(v) for v in record["roi"]), model=str(manifest), track_roi=False,
        )
        study, _model, result, roi = analyze_from_args(study_args)
        doc = analysis_document(study, result, roi)
        doc["truth"] = {"label": record["label"], "subtype": record["subtype"]}
    print_document(doc, args.json, format_summary)
    if not args.json:
        truth = doc["truth"]
        print(f"\ntruth      {CLASS_LABELS[truth['label']]} ({truth['subtype'].replace('_', ' ')}) - "
              "a synthetic phantom lesion")
        print("note       the bundled model was trained on phantom data: its results prove the pipeline, "
              "not the medicine")
    return 0
