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

from ceusdesk.base.atomicio import write_atomic, write_json_atomic
from ceusdesk.base.errors import CeusdeskError, ModelRefused
from ceusdesk.base.roi import Roi
from ceusdesk.model_package import manifest as mf
from ceusdesk.model_package.fusion import as_three_class

from . import fusion as tfusion
from . import metrics, predictions
from .cache import SlotFrames, measured_evidence
from .data import CLASSES, CasesError, phase_combinations, read_cases, slot_keep, threshold_set
from .evaluate import reader_rows
from .reader import reader_row, washout_scores

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
    p.add_argument("--robustness", action="store_true",
                   help="also analyze the cohort with the ROI jittered ±20 %% and the injection time ±10 s "
                        "(test.json robustness; three more passes)")
    p.add_argument("--robustness-cases", type=int, default=None, metavar="N",
                   help="the robustness passes on the first N cases only (default: all)")
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
    cnn_analyzed: np.ndarray | None = None  # [3] the CNN's own probabilities when the app's call is fused
    fused: dict[str, float] = dataclasses.field(default_factory=dict)  # set → fused P(malignant)


@dataclasses.dataclass(frozen=True)
class Perturb:
    """How sloppy the inputs are: the ROI jittered by up to ``jitter`` (centre and size), the injection
    time off by ``injection_offset_s`` (the slots then hold the frames a mistimed study gives)."""

    jitter: float = 0.0
    injection_offset_s: float = 0.0


def shifted_time(text: str | None, offset_s: float) -> str | None:
    """HH:MM:SS moved by ``offset_s`` seconds (None stays None: the study's own time is used)."""
    if not text or not offset_s:
        return text
    h, m, sec = (int(v) for v in str(text).split(":"))
    total = (h * 3600 + m * 60 + sec + int(round(offset_s))) % 86400
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def run_case(model, cases_dir: Path, rec: dict, combos: dict, perturb: Perturb, seed: int) -> CaseResult:
    """One labelled case through ceusdesk: open, then the app's own analysis (ceusdesk.analysis), and
    the model on every phase-set combination of the same inputs."""
    from ceusdesk.analysis import AnalysisRequest, analyze_study
    from ceusdesk.inference import run_model
    from ceusdesk.inference.inputs import case_inputs
    from ceusdesk.study import open_study

    protocol = model.protocol
    study = open_study(cases_dir / str(rec["study"]),
                       injection_time=shifted_time(rec.get("injection_time"), perturb.injection_offset_s),
                       contrast_panel=rec.get("contrast_panel"), slot_overrides=rec.get("slot_overrides"),
                       protocol=protocol)
    rng = np.random.default_rng([seed, zlib.crc32(str(rec["case_id"]).encode())])  # stable per case
    roi = jitter_roi(tuple(int(v) for v in rec["roi"]), perturb.jitter, rng)
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
    cnn = result.get("cnn")
    cnn_analyzed = None if cnn is None else np.array([cnn["probabilities"][c] for c in CLASSES])
    row = reader_row(evidence, protocol)
    fused = {}
    fusion = model.manifest.fusion_model()
    if fusion is not None:  # the fused P(malignant) of each set, from the same inputs as the CNN rows
        names = list(combos)
        for s, sf in fusion.sets.items():
            if s in names:
                x = tfusion.input_matrix(metrics.malignant_probability(probs[names.index(s)][None]),
                                         row[None], protocol, s)
                fused[s] = float(tfusion.apply_set(sf, x)[0])
    return CaseResult(CLASSES.index(rec["label"]), result["phase_set"], analyzed, probs.astype(np.float64),
                      row, evidence.get("error"), cnn_analyzed, fused)


_WORKER: dict = {}  # per worker process: its own verified model session


def _init_worker(manifest_path: str) -> None:
    from ceusdesk.inference import load_model

    logging.getLogger("ceusdesk").setLevel(logging.WARNING)
    _WORKER["model"] = load_model(manifest_path, threads=1)


def _case_job(cases_dir: str, rec: dict, perturb: Perturb,
              seed: int) -> tuple[CaseResult | None, str | None]:
    """One case in a worker: (result, None) or (None, why the app would not classify it)."""
    model = _WORKER["model"]
    try:
        return run_case(model, Path(cases_dir), rec, phase_combinations(model.protocol), perturb, seed), None
    except (CeusdeskError, OSError, ValueError) as err:  # the app would refuse or ask: listed
        return None, f"{type(err).__name__}: {err}"


def classify_cases(model, cases_dir: Path, records: list[dict], perturb: Perturb, seed: int,
                   workers: int) -> tuple[list[CaseResult], list[dict]]:
    """Every case through the app's code, in file order; the ones it would not classify, with why."""
    from tqdm import tqdm

    args = [(str(cases_dir), rec, perturb, seed) for rec in records]
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


ROBUSTNESS = (("roi_jitter_20", Perturb(jitter=0.2)),
              ("injection_plus_10s", Perturb(injection_offset_s=10.0)),
              ("injection_minus_10s", Perturb(injection_offset_s=-10.0)))
"""--robustness: the same cohort with a sloppy ROI (±20 % position and size) or the injection time off."""


def robustness_rows(model, cases_dir: Path, records: list[dict], n_boot: int, seed: int,
                    workers: int) -> list[dict]:
    """The shipped call ("as analyzed") on the cohort once per :data:`ROBUSTNESS` perturbation."""
    out = []
    for name, perturb in ROBUSTNESS:
        results, not_classified = classify_cases(model, cases_dir, records, perturb, seed, workers)
        labels = np.array([r.label for r in results])
        thr = np.array([_shipped_threshold(model.manifest, r.phase_set) for r in results])
        analyzed = np.stack([r.analyzed for r in results])
        out.append({"name": name, "roi_jitter": perturb.jitter,
                    "injection_offset_s": perturb.injection_offset_s, "n_not_classified": len(not_classified),
                    **metrics.evaluate_probs(labels, analyzed, thr, n_boot, seed)})
    return out


def _shipped_threshold(manifest, phase_set: str) -> float:
    fusion = manifest.fusion_model()
    if fusion is not None and fusion.default and fusion.for_set(phase_set) is not None:
        return float(fusion.sets[phase_set].threshold)
    return float(manifest.threshold_for(phase_set)[0])


def build_document(model, cases_dir: Path, records: list[dict], jitter: float, n_boot: int, seed: int,
                   check: dict, workers: int = 1, robustness: bool = False,
                   robustness_cases: int | None = None) -> tuple[dict, str]:
    """(test.json document, test_predictions.csv text)."""
    protocol, manifest = model.protocol, model.manifest
    combos = phase_combinations(protocol)
    results, not_classified = classify_cases(model, cases_dir, records, Perturb(jitter=jitter), seed, workers)
    if len(results) < 2:
        raise NotIndependent(f"{cases_dir}: only {len(results)} case(s) could be classified "
                             f"(first reason: {not_classified[0]['reason'] if not_classified else '?'})")
    labels = np.array([r.label for r in results])
    phase_sets = [r.phase_set for r in results]
    thr = {s: manifest.threshold_for(s)[0] for s in ("early", "full")}
    analyzed = np.stack([r.analyzed for r in results])
    case_thr = np.array([_shipped_threshold(manifest, s) for s in phase_sets])
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
    fusion = manifest.fusion_model()
    shipped_probs = {s: probs[names.index(s)] for s in sets}
    shipped_thr = {s: np.full(len(labels), thr[s]) for s in sets}
    fused_p: dict[str, np.ndarray] = {}
    if fusion is not None:
        for s, sf in fusion.sets.items():
            fused_p[s] = np.array([r.fused.get(s, np.nan) for r in results])
            three = as_three_class(fused_p[s], probs[names.index(s)])
            rows.append({"name": f"fused_{s}", "model": "package (int8) + measured evidence",
                         "phases": list(combos[s]), "threshold_set": s, "threshold": sf.threshold,
                         **metrics.evaluate_probs(labels, three, sf.threshold, n_boot, seed)})
            if fusion.default:  # the shipped call is the fused one: the reader is compared with it
                shipped_probs[s], shipped_thr[s] = three, np.full(len(labels), sf.threshold)
    washout = reader_rows(reader, labels, shipped_probs, shipped_thr, {}, protocol, n_boot, seed)
    washout["model_call"] = "cnn+evidence" if fusion is not None and fusion.default else "cnn"
    csv_text = test_predictions_csv(results, records_ids(records, results, not_classified), names, reader,
                                    protocol, fused_p, bool(fusion is not None and fusion.default))
    doc = {
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
        "call_source": washout["model_call"],
    }
    if robustness:
        subset = records[:robustness_cases]
        ids = records_ids(records, results, not_classified)
        keep = {str(r["case_id"]) for r in subset}
        idx = [i for i, cid in enumerate(ids) if cid in keep]  # the same cases, inputs as given
        base = {"name": "as_given", "roi_jitter": jitter, "injection_offset_s": 0.0,
                "n_not_classified": len(subset) - len(idx),
                **metrics.evaluate_probs(labels[idx], analyzed[idx], case_thr[idx], n_boot, seed)}
        doc["robustness"] = [base, *robustness_rows(model, cases_dir, subset, n_boot, seed, workers)]
    return doc, csv_text


def records_ids(records: list[dict], results: list[CaseResult], not_classified: list[dict]) -> list[str]:
    """The case ids of ``results`` (classify_cases keeps file order and lists the cases it skipped)."""
    skipped = {d["case_id"] for d in not_classified}
    ids = [str(r["case_id"]) for r in records if r["case_id"] not in skipped]
    if len(ids) != len(results):
        raise NotIndependent(f"internal: {len(ids)} ids for {len(results)} results")
    return ids


def test_predictions_csv(results: list[CaseResult], ids: list[str], names: list[str], reader: np.ndarray,
                         protocol, fused: dict[str, np.ndarray], fused_default: bool) -> str:
    """test_predictions.csv (trainer.predictions): as_analyzed (the app's call), every combination."""
    scores = {n: washout_scores(reader, protocol, n) for n in ("full", "early")}
    rows = []
    for i, (r, case_id) in enumerate(zip(results, ids, strict=True)):
        label = CLASSES[r.label]

        def reader_at(name: str, i: int = i) -> float:
            return float(scores["early" if name in predictions.EARLY_READER_SETS else "full"][i])

        cnn = r.cnn_analyzed if r.cnn_analyzed is not None else r.analyzed
        p_app = float(r.analyzed[1] + r.analyzed[2])
        rows.append(predictions.row(case_id, label, "as_analyzed", cnn,
                                    p_fused=p_app if r.cnn_analyzed is not None else None,
                                    shipped_fused=r.cnn_analyzed is not None,
                                    reader=reader_at(r.phase_set)))
        for c, name in enumerate(names):
            p_f = float(fused[name][i]) if name in fused else None
            rows.append(predictions.row(case_id, label, name, r.combos[c], p_fused=p_f,
                                        shipped_fused=fused_default, reader=reader_at(name)))
    return predictions.write_csv(rows)


def write_into_package(manifest_path: Path, doc: dict, csv_text: str | None = None) -> Path:
    """PACKAGE/test.json (+ test_predictions.csv) and the manifest's files entries (through ceusdesk's
    manifest writer)."""
    folder = manifest_path.parent
    write_json_atomic(folder / TEST_FILE, doc)
    manifest = mf.read_manifest(manifest_path)
    files = {**manifest.files, "test": mf.FileEntry.for_file(folder, TEST_FILE)}
    if csv_text is not None:
        write_atomic(folder / predictions.TEST_FILE, csv_text)
        files["test_predictions"] = mf.FileEntry.for_file(folder, predictions.TEST_FILE)
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
        doc, csv_text = build_document(model, cases_dir, records, args.roi_jitter, args.bootstrap,
                                       args.seed, check, max(1, args.workers), args.robustness,
                                       args.robustness_cases)
    except (NotIndependent, CasesError) as err:
        log.error("%s", err)
        return 2
    except ModelRefused as err:
        log.error("%s", err)
        return ModelRefused.exit_code
    if args.out:
        write_json_atomic(Path(args.out), doc)
    if args.write:
        log.info("written: %s (manifest files.test and files.test_predictions updated)",
                 write_into_package(manifest_path, doc, csv_text))
    if args.json:
        sys.stdout.write(json.dumps(doc, indent=2, allow_nan=False) + "\n")
    return 0
