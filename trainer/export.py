"""``python -m trainer export RUN --out exports/NAME``: fp32 ONNX, static int8, and the model package.

Steps: load RUN/final/checkpoint.pt (the best fold's model, see docs/trainer.md); export
``WithSoftmax(model)`` to ONNX (TorchScript exporter, opset 17, inputs ``images``/``mask`` float32 with
fixed H, W and a dynamic batch, output ``probabilities``); onnx.checker; torch vs ORT fp32 on held-out
cases (max |Δ|); int8 (``trainer.quantize``) calibrated on training cases through the app's
preprocessing (``trainer.data``'s cache), in chunks; int8 vs fp32 on the held-out cases (the final
model's own validation fold), full and early-set inputs: top-1 agreement and mean |Δ malignant|.
Below 99 % agreement no package is written unless ``--force`` (recorded as ``quantization.forced``).
The package is built in a staging folder and moved into place only when complete.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import tempfile
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from ceusdesk.base.atomicio import write_atomic, write_json_atomic
from ceusdesk.base.protocol import Protocol
from ceusdesk.inference.preprocess import InputSpec
from ceusdesk.inference.runtime import has_vnni, make_session
from ceusdesk.model_package import manifest as mf

from . import predictions
from .model import CLASSES, WithSoftmax, build_model
from .quantize import KEEP_FLOAT_GROUPS, Chunk, quantize_int8

log = logging.getLogger(__name__)

OPSET = 17
MIN_AGREEMENT = 0.99
MIN_CALIBRATION_CASES = 100
FP32_IN_REPO_MAX_BYTES = 95 * 2**20  # git hosts refuse files over 100 MB
INT8_FILE, FP32_FILE = "model.int8.onnx", "model.fp32.onnx"
METRICS_FILE = "metrics.json"  # the run's cross-validation document (evaluate --json), shipped as is
SYNTH_FILE = "synth.json"  # written by the phantom beside cases.jsonl: generator, seed, case seeds
REPO_EXPORTS = Path(__file__).resolve().parents[1] / "exports"


class ExportError(RuntimeError):
    """The export cannot produce a trustworthy package; the message says why and what to do."""


# ---------------------------------------------------------------- the run directory


@dataclass
class Run:
    """What the export needs from a fit run (RUN/config.json, final/checkpoint.pt, oof.npz, metrics)."""

    path: Path
    config: dict
    protocol: Protocol
    spec: InputSpec
    state_dict: dict
    threshold: float
    thresholds: dict[str, float]  # per phase set {early, full}; empty for runs before nested selection
    metrics_doc: dict  # RUN/metrics.json (evaluate --json)
    train_ids: list[str]  # cases the final model was trained on: calibration comes from these
    heldout_ids: list[str]  # the final model's validation fold: comparisons run on these
    cases_dir: Path
    selected_from: str = ""
    fusion: dict | None = None  # the fused variant (trainer.fusion), as the manifest's ``fusion`` block

    def build_model(self) -> nn.Module:
        model = build_model(self.config.get("arch", "triple"), self.protocol)
        model.load_state_dict(self.state_dict)
        return model.eval()


def load_run(run_dir: str | Path, cases_dir: str | Path | None = None) -> Run:
    """Read a finished fit run; raises :class:`ExportError` naming the missing or malformed file."""
    run = Path(run_dir)
    config_path, ck_path = run / "config.json", run / "final" / "checkpoint.pt"
    for p in (config_path, ck_path, run / "oof.npz"):
        if not p.is_file():
            raise ExportError(f"{p}: missing - is {run} a finished `python -m trainer fit` run?")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
        protocol, spec = Protocol.from_dict(config["protocol"]), InputSpec.from_dict(config["input"])
    except (json.JSONDecodeError, KeyError, ValueError) as err:
        raise ExportError(f"{config_path}: malformed run config ({err})") from err
    ck = torch.load(ck_path, map_location="cpu", weights_only=False)
    if not isinstance(ck, dict) or "model" not in ck:
        raise ExportError(f"{ck_path}: not a checkpoint dict with a 'model' state dict")
    threshold, thresholds = ck.get("threshold"), ck.get("thresholds")
    if threshold is None:
        saved = json.loads((run / "threshold.json").read_text(encoding="utf-8"))
        threshold, thresholds = saved["threshold"], thresholds or saved.get("thresholds")
    thresholds = thresholds or {}  # a run before per-phase-set thresholds: only the single one
    selected = str(ck.get("selected_from", ""))
    oof = np.load(run / "oof.npz", allow_pickle=False)
    ids, fold = [str(i) for i in oof["ids"]], oof["fold"]
    k = int(selected[4:]) if selected.startswith("fold") and selected[4:].isdigit() else -1
    heldout = [i for i, f in zip(ids, fold, strict=True) if f == k]
    train = [i for i, f in zip(ids, fold, strict=True) if f != k]
    if not heldout:  # the final model saw every case, or an old run without a record of its fold
        cut = max(1, len(ids) // 5)
        train, heldout = ids[:-cut], ids[-cut:]
        if selected == "final":
            log.info("the shipped model trained on every case: int8 agreement is checked on the last %d "
                     "(calibration draws from the others)", cut)
        else:
            log.warning("run does not say which fold the final model came from: held out the last %d cases",
                        cut)
    return Run(path=run, config=config, protocol=protocol, spec=spec, state_dict=ck["model"],
               threshold=float(threshold), thresholds={str(k): float(v) for k, v in thresholds.items()},
               metrics_doc=_metrics_doc(run), train_ids=train, heldout_ids=heldout,
               cases_dir=Path(cases_dir) if cases_dir else Path(config["data"]["cases_dir"]),
               selected_from=selected, fusion=manifest_fusion(ck.get("fusion")))


def oof_predictions_csv(run: Run) -> str | None:
    """The run's out-of-fold predictions as ``oof_predictions.csv`` (trainer.predictions); None (with a
    warning) for a run whose oof.npz lacks the per-case arrays."""
    from .reader import washout_scores

    with np.load(run.path / "oof.npz", allow_pickle=False) as z:
        oof = {k: z[k] for k in z.files}
    missing = {"ids", "labels", "combos", "probs", "fold"} - set(oof)
    if missing:
        log.warning("%s/oof.npz lacks %s: no oof_predictions.csv in the package", run.path, sorted(missing))
        return None
    scores = ({name: washout_scores(oof["reader"], run.protocol, name) for name in ("full", "early")}
              if "reader" in oof else {})  # a run without the evidence table: reader_score stays empty
    fused_default = bool((run.fusion or {}).get("default", False))
    return predictions.write_csv(predictions.oof_rows(oof, scores, fused_default))


def manifest_fusion(doc: dict | None) -> dict | None:
    """The run's fusion document (trainer.fusion.fit_run) as the manifest carries it: the shipped
    per-set fits, the default and its rule, the evidence budget; the per-fold fits stay in the run."""
    if not doc:
        return None
    return {k: v for k, v in doc.items() if k != "folds"}


def _metrics_doc(run: Path) -> dict:
    path = run / METRICS_FILE
    if not path.is_file():
        from .evaluate import evaluate_run  # cheap: bootstrap over the stored OOF predictions

        log.info("%s missing: evaluating the run's out-of-fold predictions now", path.name)
        return evaluate_run(run)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ExportError(f"{path}: not JSON ({err.msg}); re-run `python -m trainer evaluate {run}`") from err


def training_seeds(cases_dir: Path) -> dict:
    """What made the training cohort (CASES/synth.json), for test-package's seed-disjointness check.

    A cohort without synth.json (older phantom, cases saved from the app) records only its folder name.
    """
    path = Path(cases_dir) / SYNTH_FILE
    if not path.is_file():
        return {"available": False, "cases_dir": Path(cases_dir).name,
                "note": f"{SYNTH_FILE} absent: the training seeds are not known"}
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return {"available": True, "phantom_version": doc.get("phantom_version"), "seed": int(doc["seed"]),
                "case_seeds": [int(v) for v in doc.get("case_seeds", [])], "cases_dir": Path(cases_dir).name}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
        raise ExportError(f"{path}: malformed ({err}); it must hold seed and case_seeds") from err


def _rows_without_nan(rows: list[dict]) -> list[dict]:
    """The manifest is standard JSON: any non-finite number becomes null."""
    def clean(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v
    return [clean(r) for r in rows]


def case_chunks(cases_dir: Path, ids: Sequence[str], spec: InputSpec, protocol: Protocol, chunk: int,
                cache_dir: str | Path | None = None) -> Iterator[Chunk]:
    """(images, mask) batches of ``chunk`` cases through the app's preprocessing (trainer.data's cache)."""
    from . import data as tdata

    for start in range(0, len(ids), chunk):
        ca = tdata.load_cached_cases(cases_dir, spec, protocol=protocol, cache_dir=cache_dir,
                                     case_ids=ids[start:start + chunk])
        yield ca.images, ca.mask


# ---------------------------------------------------------------- ONNX export and checks


def export_fp32(model: nn.Module, n_slots: int, size: int, path: str | Path) -> None:
    """``WithSoftmax(model)`` → ONNX. The TorchScript exporter (``dynamo=False``): one self-contained
    file, ~3x faster than dynamo here, and the dynamo path's down-conversion to opset 17 fails on
    this graph in torch 2.14 (it stays at 18 with external data)."""
    wrapped = WithSoftmax(model).eval()
    images, mask = torch.zeros(2, n_slots, size, size), torch.ones(2, n_slots)
    batch = {0: "batch"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the legacy exporter is chosen on purpose
        torch.onnx.export(wrapped, (images, mask), str(path), input_names=list(mf.INPUT_NAMES.values()),
                          output_names=[mf.OUTPUT_NAME], opset_version=OPSET, dynamo=False,
                          dynamic_axes={"images": batch, "mask": batch, mf.OUTPUT_NAME: batch})
    onnx.checker.check_model(str(path), full_check=True)


def run_probs(session, chunks: Iterable[Chunk]) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(images, mask, probabilities) per chunk."""
    for images, mask in chunks:
        yield images, mask, session.run([mf.OUTPUT_NAME], {"images": images, "mask": mask})[0]


def torch_max_delta(model: nn.Module, session, chunks: Iterable[Chunk]) -> tuple[float, int]:
    """Max |Δ probability| between torch eager and the ORT fp32 session, and the number of cases."""
    wrapped, worst, n = WithSoftmax(model).eval(), 0.0, 0
    with torch.no_grad():
        for images, mask, ort_p in run_probs(session, chunks):
            ref = wrapped(torch.from_numpy(images), torch.from_numpy(mask)).numpy()
            worst, n = max(worst, float(np.abs(ref - ort_p).max())), n + len(images)
    return worst, n


def early_variant(chunks: Iterable[Chunk], protocol: Protocol) -> Iterator[Chunk]:
    """The same cases as the app sees an early set: slots after the early set zeroed, mask 0."""
    keep = np.array([n in protocol.set_slots("early") for n in protocol.slot_names], dtype=np.float32)
    for images, mask in chunks:
        yield images * keep[None, :, None, None], mask * keep[None, :]


@dataclass
class Agreement:
    n: int = 0
    same_top1: int = 0
    sum_abs_delta_malignant: float = 0.0
    max_abs_delta: float = 0.0
    max_sum_error: float = 0.0  # |Σp − 1| of the int8 probabilities
    per_input: dict = field(default_factory=dict)

    @property
    def top1(self) -> float:
        return self.same_top1 / self.n if self.n else 0.0

    @property
    def mean_abs_delta_malignant(self) -> float:
        return self.sum_abs_delta_malignant / self.n if self.n else 0.0

    def add(self, p32: np.ndarray, p8: np.ndarray) -> None:
        self.n += len(p32)
        self.same_top1 += int((p32.argmax(1) == p8.argmax(1)).sum())
        self.sum_abs_delta_malignant += float(np.abs(p32[:, 1:].sum(1) - p8[:, 1:].sum(1)).sum())
        self.max_abs_delta = max(self.max_abs_delta, float(np.abs(p32 - p8).max()))
        self.max_sum_error = max(self.max_sum_error, float(np.abs(p8.sum(1) - 1.0).max()))


def compare_int8(fp32, int8, chunks: Callable[[], Iterable[Chunk]], protocol: Protocol) -> Agreement:
    """int8 vs fp32 on the held-out cases, as full inputs and as early-set inputs."""
    total = Agreement()
    for label, source in (("full", chunks()), ("early", early_variant(chunks(), protocol))):
        part = Agreement()
        for images, mask, p32 in run_probs(fp32, source):
            p8 = int8.run([mf.OUTPUT_NAME], {"images": images, "mask": mask})[0]
            part.add(p32, p8)
            total.add(p32, p8)
        total.per_input[label] = {"n": part.n, "top1": part.top1,
                                  "mean_abs_delta_malignant": part.mean_abs_delta_malignant}
    return total


# ---------------------------------------------------------------- the package


@dataclass
class PackageInfo:
    """What the manifest records besides the model itself."""

    name: str
    version: str
    protocol: Protocol
    spec: InputSpec
    threshold: float
    training: dict
    metrics: list[dict]
    calibration_source: str
    thresholds: dict[str, float] = field(default_factory=dict)  # per phase set {early, full}
    fusion: dict | None = None  # manifest ``fusion`` block (ceusdesk.model_package.fusion)
    oof_csv: str | None = None  # oof_predictions.csv (trainer.predictions), listed under files
    metrics_doc: dict | None = None  # written as metrics.json and listed under files.metrics


def make_package(model: nn.Module, info: PackageInfo, out_dir: str | Path, *,
                 calibration: Callable[[], Iterable[Chunk]], heldout: Callable[[], Iterable[Chunk]],
                 n_calibration_wanted: int, torch_check: Callable[[], Iterable[Chunk]] | None = None,
                 force: bool = False, reduce_range: bool | None = None, fp32_in_repo: bool | None = None,
                 git_commit: str | None = None, calibrate_method: str = "minmax",
                 keep_float: Sequence[str] = ()) -> mf.Manifest:
    """Export, quantize, compare and write the package to ``out_dir``; returns its manifest.

    ``calibration`` / ``heldout`` / ``torch_check`` return fresh iterables of (images, mask) chunks.
    ``reduce_range`` None: on when this CPU lacks VNNI (ORT's documented remedy for U8S8 saturation).
    ``fp32_in_repo`` None: the fp32 file is marked for git only when under 95 MiB.
    Raises :class:`ExportError` (and writes nothing) below 99 % agreement unless ``force``.
    """
    out_dir = Path(out_dir)
    if force and _inside(out_dir, REPO_EXPORTS):
        raise ExportError(f"{out_dir}: a --force package must not be written under exports/ "
                          "(it would be committed); choose another --out")
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / mf.MANIFEST_NAME).is_file():
        raise ExportError(f"{out_dir}: exists and is not a model package; choose an empty or new --out")
    if reduce_range is None:
        reduce_range = has_vnni() is False
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".tmp-{out_dir.name}-", dir=out_dir.parent))
    try:
        fp32_path, int8_path = stage / FP32_FILE, stage / INT8_FILE
        n_slots = len(info.protocol.slot_names)
        export_fp32(model, n_slots, info.spec.size, fp32_path)
        fp32 = make_session(fp32_path)
        _check_io(fp32, n_slots, info.spec.size)
        torch_delta, n_torch = torch_max_delta(model, fp32, torch_check() if torch_check else heldout())
        log.info("torch vs ORT fp32: max |Δp| = %.2e on %d held-out cases", torch_delta, n_torch)
        if torch_delta > 1e-3:
            raise ExportError(f"ONNX fp32 output differs from torch by {torch_delta:.2e} (> 1e-3): "
                              "the export is not faithful; report this with the run")
        n_cal = quantize_int8(fp32_path, int8_path, calibration(), reduce_range=reduce_range, work_dir=stage,
                              calibrate_method=calibrate_method, keep_float=keep_float)
        onnx.checker.check_model(str(int8_path))
        int8 = make_session(int8_path)
        _check_io(int8, n_slots, info.spec.size)
        agree = compare_int8(fp32, int8, heldout, info.protocol)
        del fp32, int8
        log.info("int8 vs fp32 on %d held-out inputs: top-1 agreement %.4f, mean |Δ malignant| %.4f",
                 agree.n, agree.top1, agree.mean_abs_delta_malignant)
        if agree.max_sum_error > 1e-5:
            raise ExportError(f"int8 probabilities sum to 1 only within {agree.max_sum_error:.1e} (> 1e-5)")
        if agree.top1 < MIN_AGREEMENT and not force:
            raise ExportError(f"int8 agrees with fp32 on only {agree.top1:.1%} of {agree.n} held-out inputs "
                              f"(< {MIN_AGREEMENT:.0%}): no package written; check the calibration set or "
                              "pass --force (the manifest then records it)")
        calib = {"n_cases": n_cal, "source": info.calibration_source, "method": calibrate_method,
                 "kept_float": ["logits", *keep_float]}
        if n_cal < n_calibration_wanted:
            calib["note"] = f"fewer than {n_calibration_wanted}: the run has only {n_cal} training cases"
        if fp32_in_repo is None:
            fp32_in_repo = fp32_path.stat().st_size <= FP32_IN_REPO_MAX_BYTES
        if not fp32_in_repo:  # keep the large fp32 file out of git; the manifest says so (in_repo: false)
            (stage / ".gitignore").write_text(FP32_FILE + "\n", encoding="utf-8")
        files = {"int8": mf.FileEntry.for_file(stage, INT8_FILE),
                 "fp32": mf.FileEntry.for_file(stage, FP32_FILE, in_repo=fp32_in_repo)}
        if info.metrics_doc is not None:
            write_json_atomic(stage / METRICS_FILE, info.metrics_doc)
            files["metrics"] = mf.FileEntry.for_file(stage, METRICS_FILE)
        if info.oof_csv is not None:
            write_atomic(stage / predictions.OOF_FILE, info.oof_csv)
            files["oof_predictions"] = mf.FileEntry.for_file(stage, predictions.OOF_FILE)
        manifest = mf.Manifest(
            name=info.name, version=info.version, uid=str(uuid.uuid4()),
            created=datetime.now(UTC).isoformat(timespec="seconds"), git_commit=git_commit or "",
            protocol=info.protocol.to_dict(),
            input={"names": dict(mf.INPUT_NAMES), "shape": {"images": ["N", n_slots, info.spec.size,
                                                                       info.spec.size],
                                                            "mask": ["N", n_slots]},
                   "dtype": "float32", "normalization": {"mean": info.spec.mean, "std": info.spec.std},
                   "size": info.spec.size, "preprocess_version": info.spec.preprocess_version},
            output={"name": mf.OUTPUT_NAME, "shape": ["N", len(CLASSES)], "classes": list(CLASSES)},
            classes=tuple(CLASSES), threshold=info.threshold, thresholds=dict(info.thresholds),
            training=info.training, metrics=_rows_without_nan(info.metrics),
            quantization=mf.Quantization(
                reduce_range=reduce_range, calibration=calib, agreement_with_fp32=agree.top1,
                mean_abs_delta_malignant=agree.mean_abs_delta_malignant, max_abs_delta=agree.max_abs_delta,
                n_compared=agree.n, forced=bool(force),
                comparison={"heldout": agree.per_input, "torch_vs_ort_fp32_max_abs_delta": torch_delta,
                            "torch_cases": n_torch, "cpu_vnni": has_vnni()}),
            files=files, fusion=info.fusion,
        )
        manifest.check_values()  # a malformed fusion block fails here, not in the app
        mf.write_manifest(manifest, stage)
        _replace_dir(stage, out_dir)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    log.info("package written: %s (uid %s)", out_dir, manifest.uid)
    return manifest


def _check_io(session, n_slots: int, size: int) -> None:
    """Inputs images [batch, slots, S, S] and mask [batch, slots] float32; output probabilities."""
    shapes = {i.name: (i.type, list(i.shape)) for i in session.get_inputs()}
    want = {"images": ("tensor(float)", [n_slots, size, size]), "mask": ("tensor(float)", [n_slots])}
    for name, (dtype, fixed) in want.items():
        got = shapes.get(name)
        if got is None or got[0] != dtype or got[1][1:] != fixed or isinstance(got[1][0], int):
            raise ExportError(f"ONNX input {name}: expected {dtype} [batch, {fixed}], got {got}")
    if session.get_outputs()[0].name != mf.OUTPUT_NAME:
        raise ExportError(f"ONNX first output is {session.get_outputs()[0].name!r}, not {mf.OUTPUT_NAME!r}")


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _replace_dir(stage: Path, out_dir: Path) -> None:
    """Move the finished staging folder to ``out_dir``, replacing a previous package there."""
    if out_dir.exists():
        old = out_dir.with_name(f".old-{out_dir.name}-{uuid.uuid4().hex[:8]}")
        os.replace(out_dir, old)
        os.replace(stage, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(stage, out_dir)


def describe_training(run: Run, device: str | None) -> dict:
    """The manifest's ``training``: data summary, preset, a one-line 'how', device."""
    cfg, preset = run.config, run.config.get("preset", {})
    data = {k: v for k, v in cfg.get("data", {}).items() if k != "skipped"}
    data["n_skipped"] = len(cfg.get("data", {}).get("skipped", []))
    data["seeds"] = training_seeds(run.cases_dir)
    dev = device or str(cfg.get("device", "?"))
    kind = "GPU run" if dev.startswith("cuda") else "reduced CPU run"
    how = (f"{kind} ({preset.get('name', '?')} preset): {run.spec.size}², {data.get('n', '?')} cases, "
           f"{preset.get('folds', '?')}-fold CV, up to {preset.get('epochs', '?')} epochs; "
           f"model from {run.selected_from or 'the final checkpoint'}")
    if cfg.get("selection"):
        inner = cfg["selection"].get("inner_folds")
        how += (f" (nested: epoch and per-set thresholds from a 1/{inner} inner validation; "
                + ("then trained on every case to the folds' median best epoch, thresholds from their pooled "
                   "inner validations)" if run.selected_from == "final"
                   else "the fold with the lowest inner-validation loss)"))
    if cfg.get("class_weighting"):
        how += (f"; class weighting {cfg['class_weighting']}, {cfg.get('precision', 'fp32')}"
                + (" channels-last" if cfg.get("channels_last") else ""))
    return {"how": how, "device": dev, "preset": preset, "arch": cfg.get("arch"), "data": data,
            "pretrained": cfg.get("pretrained"), "early_drop": cfg.get("early_drop"),
            "gapped_drop": cfg.get("gapped_drop"), "roi_jitter": cfg.get("roi_jitter"),
            "selection": cfg.get("selection"),
            "run_created": cfg.get("created"), "run_git_commit": cfg.get("git_commit"),
            "torch": cfg.get("torch")}


# ---------------------------------------------------------------- CLI


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser("python -m trainer export", add_help=add_help,
                                description="Export a fit run as an int8 ONNX model package for the app.")
    p.add_argument("run", help="run directory of `python -m trainer fit`")
    p.add_argument("--out", required=True, help="package folder, e.g. exports/NAME")
    p.add_argument("--name", help="package name (default: the --out folder's name)")
    p.add_argument("--version", default="1", help="package version (default: 1)")
    p.add_argument("--cases", help="cases folder (default: the run's; for a run made elsewhere)")
    p.add_argument("--cache", help="preprocessed-case cache (default: CASES/.ceusdesk-cache)")
    p.add_argument("--calibration-cases", type=int, default=MIN_CALIBRATION_CASES,
                   help=f"training cases for int8 calibration (default {MIN_CALIBRATION_CASES})")
    p.add_argument("--chunk", type=int, default=8, help="cases per calibration/comparison batch")
    p.add_argument("--torch-cases", type=int, default=8, help="held-out cases for the torch vs ORT check")
    p.add_argument("--calibrate-method", choices=("minmax", "percentile", "entropy"), default="minmax",
                   help="int8 activation ranges: minmax (every value in range) or percentile (99.999 %%) / "
                        "entropy (tighter ranges, more resolution where the data lies)")
    p.add_argument("--keep-float", nargs="*", default=[], choices=sorted(KEEP_FLOAT_GROUPS),
                   help="also keep these layer groups in float (stem: each branch's first conv; head: the "
                        "fusion layers); recorded in the manifest")
    p.add_argument("--reduce-range", choices=("auto", "on", "off"), default="auto",
                   help="7-bit weights (auto: on when this CPU lacks VNNI)")
    p.add_argument("--fp32-in-repo", choices=("auto", "yes", "no"), default="auto",
                   help="mark the fp32 file for git (auto: only when under 95 MiB)")
    p.add_argument("--force", action="store_true",
                   help="write the package even below 99%% int8/fp32 agreement (recorded in the manifest)")
    p.add_argument("--seed", type=int, default=0, help="seed for choosing calibration cases")
    return p


def main(args: argparse.Namespace) -> int:
    from .fit import git_commit

    try:
        run = load_run(args.run, args.cases)
        rng = np.random.default_rng(args.seed)
        calib_ids = [run.train_ids[i] for i in sorted(rng.permutation(len(run.train_ids))
                                                      [:args.calibration_cases])]
        if args.calibrate_method != "minmax" and len(calib_ids) % args.chunk:
            # ORT's histogram collectors stack every batch's outputs: a short last chunk breaks them
            raise ExportError(f"--calibrate-method {args.calibrate_method} needs equal calibration chunks: "
                              f"choose --chunk dividing {len(calib_ids)} (e.g. 10)")
        held = run.heldout_ids

        def chunks(ids: Sequence[str]) -> Callable[[], Iterator[Chunk]]:
            return lambda: case_chunks(run.cases_dir, ids, run.spec, run.protocol, args.chunk, args.cache)

        info = PackageInfo(
            name=args.name or Path(args.out).name, version=args.version, protocol=run.protocol, spec=run.spec,
            threshold=run.threshold, thresholds=run.thresholds, training=describe_training(run, None),
            fusion=run.fusion, oof_csv=oof_predictions_csv(run),
            metrics=list(run.metrics_doc.get("rows", [])), metrics_doc=run.metrics_doc,
            calibration_source=(f"{len(calib_ids)} training cases of {run.cases_dir.name} "
                                f"(seed {args.seed}), "
                                "through ceusdesk.inference.inputs + ceusdesk.inference.preprocess "
                                "(trainer.data cache)"))
        make_package(
            run.build_model(), info, args.out, calibration=chunks(calib_ids), heldout=chunks(held),
            torch_check=chunks(held[:args.torch_cases]), n_calibration_wanted=args.calibration_cases,
            force=args.force, reduce_range={"auto": None, "on": True, "off": False}[args.reduce_range],
            fp32_in_repo={"auto": None, "yes": True, "no": False}[args.fp32_in_repo], git_commit=git_commit(),
            calibrate_method=args.calibrate_method, keep_float=args.keep_float)
    except ExportError as err:
        log.error("%s", err)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(get_args_parser().parse_args()))
