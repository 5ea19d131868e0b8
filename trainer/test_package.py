"""``python -m trainer test-package PACKAGE --cases DIR [--roi-jitter F] [--write] --json``.

Runs a model package on an independent labelled cohort through the app's own code: ``ceusdesk.study.assemble``
opens each study, ``ceusdesk.inference`` loads and verifies the package (int8), ``ceusdesk.inference.inputs``
builds the input, ``ceusdesk.inference.analyze`` classifies it at the manifest's threshold for the
phase set the study has. Nothing is tuned on these cases: every row uses the manifest's thresholds.

Refuses (exit 2, one line) when the cohort could overlap the training data: its ``synth.json`` seed or
case seeds intersect the training seeds the manifest records (or either record is missing, unless
``--no-seed-check``, which test.json then records). Exit 5 when the app refuses the package.

The document (``test.json``): ``rows`` as in ``evaluate --json`` (``as_analyzed``: what the app said for
each study; then one row per phase combination, slots outside it masked, called at that set's
threshold), ``washout_score`` (the washout reader from the app's measured evidence, trainer.reader, at
the model's sensitivity, and the app's readout rule), provenance and the seed check.
``--write`` stores it as PACKAGE/test.json and lists it in the manifest's ``files`` as ``test``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import multiprocessing
import sys
import zlib
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ceusdesk.base.atomicio import write_json_atomic
from ceusdesk.base.errors import CeusdeskError, ModelRefused
from ceusdesk.base.roi import Roi
from ceusdesk.model_package import manifest as mf

from . import metrics
from .cache import SlotFrames, measured_evidence
from .data import CLASSES, CasesError, phase_combinations, read_cases, slot_keep, threshold_set
from .evaluate import reader_rows
from .reader import reader_row

log = logging.getLogger(__name__)

TEST_FILE = "test.json"
SYNTH_FILE = "synth.json"


class NotIndependent(ValueError):
    """The test cannot be trusted as independent, or cannot run; the message says why and what to do."""


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser("python -m trainer test-package", add_help=add_help,
                                description="Run a model package on an independent labelled cohort "
                                            "through the app's code and write test.json")
    p.add_argument("package", help="model package folder (or its manifest.json)")
    p.add_argument("--cases", required=True, help="labelled cohort (cases.jsonl + synth.json)")
    p.add_argument("--roi-jitter", type=float, default=0.0, metavar="F",
                   help="move each ROI's centre by up to F x its side and scale its side by 1±F "
                        "(seeded per case); default 0: the ROIs as given")
    p.add_argument("--write", action="store_true",
                   help="store test.json in the package and list it in the manifest (files.test)")
    p.add_argument("--out", help="also write the document to this file")
    p.add_argument("--json", action="store_true", help="print the document on stdout")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the 95 %% intervals")
    p.add_argument("--seed", type=int, default=0, help="seed for the bootstrap and the ROI jitter")
    p.add_argument("--max-cases", type=int, default=None, help="only the first N cases (a quick look)")
    p.add_argument("--workers", type=int, default=1,
                   help="processes, each with its own verified model session (one ORT thread each)")
    p.add_argument("--no-seed-check", action="store_true",
                   help="run although seed disjointness cannot be checked (recorded in test.json)")
    return p


# ---------------------------------------------------------------- independence


def seed_check(manifest: mf.Manifest, cases_dir: Path, skip: bool) -> dict:
    """Compare the cohort's synth.json with the training seeds in the manifest; raise when they meet."""
    train = (manifest.training.get("data") or {}).get("seeds") or {}
    path = cases_dir / SYNTH_FILE
    cohort: dict = {}
    if path.is_file():
        try:
            cohort = json.loads(path.read_text(encoding="utf-8"))
            cohort_seeds = {int(v) for v in cohort.get("case_seeds", [])}
            cohort_seed = int(cohort["seed"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise NotIndependent(f"{path}: malformed ({err}); it must hold seed and case_seeds") from err
    if not train.get("available") or not cohort:
        what = (f"{path} is missing" if not cohort else
                "the package's manifest records no training seeds (training.data.seeds)")
        if not skip:
            raise NotIndependent(f"cannot check that {cases_dir} is independent of the training data: "
                                 f"{what}; pass --no-seed-check to run anyway (test.json records it)")
        return {"checked": False, "reason": what}
    train_cases = {int(v) for v in train.get("case_seeds", [])}
    shared = sorted(train_cases & cohort_seeds)
    if cohort_seed == int(train["seed"]) or shared:
        raise NotIndependent(f"{cases_dir} is not independent of the training data: cohort seed "
                             f"{cohort_seed} vs training seed {train['seed']}, {len(shared)} shared case "
                             "seed(s); make the test cohort with another --seed")
    return {"checked": True, "disjoint": True, "cohort_seed": cohort_seed,
            "training_seed": int(train["seed"]),
            "cohort_phantom_version": cohort.get("phantom_version"),
            "training_phantom_version": train.get("phantom_version"),
            "n_cohort_case_seeds": len(cohort_seeds)}


# ---------------------------------------------------------------- one case through the app


def jitter_roi(roi: Roi, f: float, rng: np.random.Generator) -> Roi:
    """The ROI's centre moved by up to f x its side per axis, its side scaled by 1 ± f."""
    x, y, w, h = roi
    if f <= 0:
        return roi
    side = max(w, h)
    cx = x + w / 2 + rng.uniform(-f, f) * side
    cy = y + h / 2 + rng.uniform(-f, f) * side
    scale = rng.uniform(1 - f, 1 + f)
    nw, nh = max(2, round(w * scale)), max(2, round(h * scale))
    return int(round(cx - nw / 2)), int(round(cy - nh / 2)), int(nw), int(nh)


@dataclasses.dataclass
class CaseResult:
    label: int
    phase_set: str  # what the app decided: early | full
    analyzed: np.ndarray  # [3] probabilities of analyze() (the app's own call)
    combos: np.ndarray  # [n_combos, 3] the same input with the slots outside each combination masked
    reader: np.ndarray  # trainer.reader's row of the measured evidence
    evidence_error: str | None = None  # why the evidence measured nothing (the reader's score is NaN)


def run_case(model, cases_dir: Path, rec: dict, combos: dict, jitter: float, seed: int) -> CaseResult:
    """One labelled case through ceusdesk: open, then the app's own analysis (ceusdesk.analysis), and
    the model on every phase-set combination of the same inputs."""
    from ceusdesk.analysis import AnalysisRequest, analyze_study
    from ceusdesk.inference import run_model
    from ceusdesk.inference.inputs import case_inputs
    from ceusdesk.study import open_study

    protocol = model.protocol
    study = open_study(cases_dir / str(rec["study"]), injection_time=rec.get("injection_time"),
                       contrast_panel=rec.get("contrast_panel"), slot_overrides=rec.get("slot_overrides"),
                       protocol=protocol)
    rng = np.random.default_rng([seed, zlib.crc32(str(rec["case_id"]).encode())])  # stable per case
    roi = jitter_roi(tuple(int(v) for v in rec["roi"]), jitter, rng)
    slot_rois = {k: tuple(int(v) for v in r) for k, r in (rec.get("slot_rois") or {}).items()} or None
    frames = SlotFrames(study, protocol.slot_names)  # decoded once, for the model and the evidence
    # the app would ask an unsure contrast side; like the CLI this refuses (ContrastPanelUnsure, exit 6).
    # The evidence is measured below with the reader's frame budget, as the trainer's cache measures it.
    result = analyze_study(study, model, AnalysisRequest(roi=roi, rois=slot_rois or {}), importance=False,
                           evidence=False, panels=frames.panels)
    ci = case_inputs(study, roi, model.spec, protocol=protocol, rois=slot_rois, panels=frames.panels)
    keeps = np.stack([slot_keep(protocol, slots) for slots in combos.values()])  # [n_combos, n_slots]
    mask = ci.mask[None] * keeps
    probs = run_model(model, ci.images[None] * mask[:, :, None, None], mask)
    # the washout reader sees every slot the study has (as in the trainer's cache), whatever set the app ran
    used = [n for n, m in zip(protocol.slot_names, ci.mask, strict=True) if m > 0]
    evidence = measured_evidence(study, used, ci.rois, roi, reader=frames.read)
    analyzed = np.array([result["probabilities"][c] for c in CLASSES])
    return CaseResult(CLASSES.index(rec["label"]), result["phase_set"], analyzed, probs.astype(np.float64),
                      reader_row(evidence, protocol), evidence.get("error"))


_WORKER: dict = {}  # per worker process: its own verified model session


def _init_worker(manifest_path: str) -> None:
    from ceusdesk.inference import load_model

    logging.getLogger("ceusdesk").setLevel(logging.WARNING)
    _WORKER["model"] = load_model(manifest_path, threads=1)


def _case_job(cases_dir: str, rec: dict, jitter: float, seed: int) -> tuple[CaseResult | None, str | None]:
    """One case in a worker: (result, None) or (None, why the app would not classify it)."""
    model = _WORKER["model"]
    try:
        return run_case(model, Path(cases_dir), rec, phase_combinations(model.protocol), jitter, seed), None
    except (CeusdeskError, OSError, ValueError) as err:  # the app would refuse or ask: listed
        return None, f"{type(err).__name__}: {err}"


def classify_cases(model, cases_dir: Path, records: list[dict], jitter: float, seed: int,
                   workers: int) -> tuple[list[CaseResult], list[dict]]:
    """Every case through the app's code, in file order; the ones it would not classify, with why."""
    from tqdm import tqdm

    args = [(str(cases_dir), rec, jitter, seed) for rec in records]
    bar = tqdm(total=len(records), desc="test cases", unit="case", leave=False, file=sys.stderr)
    if workers <= 1:
        _WORKER["model"] = model
        outcomes = map(lambda a: _case_job(*a), args)
    else:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_init_worker, initargs=(str(model.manifest_path),))
        outcomes = pool.map(_case_job, *zip(*args, strict=True))
    results, not_classified = [], []
    try:
        for rec, (res, why) in zip(records, outcomes, strict=True):
            bar.update()
            if res is None:
                not_classified.append({"case_id": rec["case_id"], "reason": why})
                continue
            if res.evidence_error:
                log.warning("case %s: the evidence measured nothing (%s): its washout reader score is NaN",
                            rec["case_id"], res.evidence_error)
            results.append(res)
    finally:
        bar.close()
        if workers > 1:
            pool.shutdown()
        _WORKER.clear()
    return results, not_classified


# ---------------------------------------------------------------- the document


def build_document(model, cases_dir: Path, records: list[dict], jitter: float, n_boot: int, seed: int,
                   check: dict, workers: int = 1) -> dict:
    protocol, manifest = model.protocol, model.manifest
    combos = phase_combinations(protocol)
    results, not_classified = classify_cases(model, cases_dir, records, jitter, seed, workers)
    if len(results) < 2:
        raise NotIndependent(f"{cases_dir}: only {len(results)} case(s) could be classified "
                             f"(first reason: {not_classified[0]['reason'] if not_classified else '?'})")
    labels = np.array([r.label for r in results])
    phase_sets = [r.phase_set for r in results]
    thr = {s: manifest.threshold_for(s)[0] for s in ("early", "full")}
    analyzed = np.stack([r.analyzed for r in results])
    case_thr = np.array([thr[s] for s in phase_sets])
    rows = [{"name": "as_analyzed", "model": "package (int8)", "phases": "as each study has them",
             "threshold_set": "per study",
             "by_phase_set": {s: phase_sets.count(s) for s in ("early", "full")},
             **metrics.evaluate_probs(labels, analyzed, case_thr, n_boot, seed)}]
    probs = np.stack([r.combos for r in results], axis=1)  # [n_combos, n, 3]
    for c, (name, slots) in enumerate(combos.items()):
        tset = threshold_set(protocol, slots)
        rows.append({"name": name, "model": "package (int8)", "phases": list(slots), "threshold_set": tset,
                     "threshold": thr[tset],
                     **metrics.evaluate_probs(labels, probs[c], thr[tset], n_boot, seed)})
    names = list(combos)
    reader = np.stack([r.reader for r in results])
    sets = ("early", "full")
    washout = reader_rows(reader, labels, {s: probs[names.index(s)] for s in sets},
                          {s: np.full(len(labels), thr[s]) for s in sets}, {}, protocol, n_boot, seed)
    return {
        "kind": "independent test",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "package": {"name": manifest.name, "version": manifest.version, "uid": manifest.uid,
                    "manifest_sha256": model.manifest_sha256, "int8_sha256": model.sha256,
                    "variant": model.variant},
        "cases_dir": cases_dir.name,
        "thresholds": thr,
        "threshold_rule": "the manifest's thresholds, per phase set; nothing tuned on these cases",
        "roi_jitter": jitter,
        "seed_check": check,
        "n_cases": len(records),
        "n_classified": len(results),
        "not_classified": not_classified,
        "by_class": {c: int((labels == i).sum()) for i, c in enumerate(CLASSES)},
        "rows": rows,
        "washout_score": washout,
        "phantom": all(str(r.get("source", "phantom")) == "phantom" for r in records),
        "bootstrap": n_boot,
    }


def write_into_package(manifest_path: Path, doc: dict) -> Path:
    """PACKAGE/test.json and the manifest's files.test entry (through ceusdesk's manifest writer)."""
    folder = manifest_path.parent
    write_json_atomic(folder / TEST_FILE, doc)
    manifest = mf.read_manifest(manifest_path)
    files = {**manifest.files, "test": mf.FileEntry.for_file(folder, TEST_FILE)}
    mf.write_manifest(dataclasses.replace(manifest, files=files), manifest_path)
    return folder / TEST_FILE


def main(args: argparse.Namespace) -> int:
    from ceusdesk.inference import load_model

    cases_dir = Path(args.cases)
    manifest_path = mf.manifest_path_of(args.package)
    try:
        if not 0.0 <= args.roi_jitter < 1.0:
            raise NotIndependent(f"--roi-jitter {args.roi_jitter}: must be at least 0 and below 1")
        records = read_cases(cases_dir)[: args.max_cases]
        model = load_model(manifest_path)
        check = seed_check(model.manifest, cases_dir, args.no_seed_check)
        doc = build_document(model, cases_dir, records, args.roi_jitter, args.bootstrap, args.seed, check,
                             max(1, args.workers))
    except (NotIndependent, CasesError) as err:
        log.error("%s", err)
        return 2
    except ModelRefused as err:
        log.error("%s", err)
        return ModelRefused.exit_code
    if args.out:
        write_json_atomic(Path(args.out), doc)
    if args.write:
        log.info("written: %s (manifest files.test updated)", write_into_package(manifest_path, doc))
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2, allow_nan=False) + "\n")
    return 0
