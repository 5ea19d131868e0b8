"""``python -m trainer fit``: nested cross-validated training of the triple-ResNet50 (and the referential).

Selection is nested: each outer fold's training part is split again (patient-grouped, stratified) into
inner-train and inner-validation cases. Early stopping, the best epoch and the per-phase-set thresholds
(early, full) come from the inner validation only; the outer fold is only predicted. The shipped model
is the fold whose *inner*-validation loss is lowest, with that fold's thresholds: no outer-fold data
enters any choice.

Run directory (stable; trainer.export and trainer.evaluate read it, see docs/trainer.md)::

    RUN/config.json            protocol, input spec, preset, arch, folds, seed, class weights, data summary
    RUN/fold{k}/checkpoint.pt  last epoch (--resume): {model, optimizer, scheduler, epoch, best_metric, args…}
    RUN/fold{k}/best.pt        the epoch with the lowest inner-validation loss, without optimizer/scheduler
    RUN/fold{k}/selection.json inner split (case ids), best epoch, inner loss, thresholds {early, full}
    RUN/fold{k}/log.csv        one row per epoch
    RUN/fold{k}/oof.npz        outer-fold probabilities, inner-validation probabilities, thresholds
    RUN/referential/fold{k}/   the same for the single-ResNet50 referential model (preset.referential)
    RUN/oof.npz, RUN/oof.csv   out-of-fold probabilities per case and phase combination (+ inner ones)
    RUN/threshold.json         the shipped thresholds {early, full} and every fold's
    RUN/final/checkpoint.pt    the model the package ships (see docs/trainer.md)
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import logging
import math
import os
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ceusdesk.base.atomicio import write_atomic, write_json_atomic
from ceusdesk.base.protocol import Protocol, default_protocol
from ceusdesk.inference.preprocess import InputSpec
from ceusdesk.model_package.manifest import sha256_file

from . import data as tdata
from . import fusion, metrics
from .augment import AugmentConfig, synchronized_augment
from .cache import EVIDENCE_MAX_ARTERIAL, EVIDENCE_PER_CLIP
from .distributed import DistInfo, barrier, init_distributed, shard_indices, shutdown
from .model import CLASSES, build_model, correct_prior
from .presets import PRESETS, Preset, get_preset
from .reader import is_measured

log = logging.getLogger(__name__)

RUN_FORMAT = 2  # 2: nested selection, per-phase-set thresholds
THRESHOLD_SETS = ("early", "full")
REFERENTIAL_DIR = "referential"
FINAL_TRAIN_DIR = "final_train"  # the shipped model's training (checkpoints, log); RUN/final holds the result


class RunError(ValueError):
    """The run directory or the arguments do not fit together; the message says what to do."""


def get_args_parser(add_help: bool = True) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Cross-validated training of the triple-ResNet50", add_help=add_help
    )
    p.add_argument("--cases", required=True, help="folder with cases.jsonl (python -m trainer synth)")
    p.add_argument("--out", required=True, help="run directory to create (or continue with --resume)")
    p.add_argument("--preset", default="smoke", choices=sorted(PRESETS))
    p.add_argument(
        "--pretrained", default=None, help="torchvision ResNet50 ImageNet state dict (sha256-checked)"
    )
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument(
        "--arch",
        default="triple",
        choices=["triple", "single"],
        help="main model; 'single' trains only the referential model",
    )
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--folds", type=int, default=None)
    p.add_argument("--size", type=int, default=None, help="input side in pixels")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--max-cases", type=int, default=None, help="seeded random subset of the cohort")
    p.add_argument("--workers", type=int, default=None, help="processes building the preprocessing cache")
    ref = p.add_mutually_exclusive_group()
    ref.add_argument("--no-referential", action="store_true", help="skip the referential single-ResNet50")
    ref.add_argument("--referential", action="store_true",
                     help="also train the referential single-ResNet50 when the preset does not")
    p.add_argument("--precision", default=None, choices=["auto", "fp32", "bf16"],
                   help="autocast dtype (default: the preset's; auto: bf16 where native)")
    cl = p.add_mutually_exclusive_group()
    cl.add_argument("--channels-last", dest="channels_last", action="store_const", const=True, default=None,
                    help="channels-last memory format (default: on CUDA)")
    cl.add_argument("--no-channels-last", dest="channels_last", action="store_const", const=False)
    p.add_argument("--class-weighting", default=None, choices=list(WEIGHTINGS),
                   help="cross-entropy class weights (default: the preset's; ablation in docs/trainer.md)")
    p.add_argument("--no-final", action="store_true",
                   help="skip the shipped model on all cases; ship the fold with the lowest inner loss")
    p.add_argument("--only-fold", type=int, default=None, metavar="K",
                   help="train only outer fold K of the main model and stop (ablations); no run summary")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda when available)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", default=None, help="preprocessing cache (default: CASES/.ceusdesk-cache)")
    return p


# ---------------------------------------------------------------- small helpers


def save_atomic(obj, path: Path) -> None:
    """torch.save through a temp file and rename (never a torn checkpoint)."""
    write_atomic(path, lambda fh: torch.save(obj, fh))


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def make_splits(
    labels: np.ndarray, groups: list[str], folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified, patient-grouped folds. ``folds == 1``: the first split of a 4-fold scheme (25 % out)."""
    from sklearn.model_selection import StratifiedGroupKFold

    k = max(folds, 2) if folds > 1 else 4
    min_class = int(np.bincount(labels, minlength=len(CLASSES))[np.bincount(labels) > 0].min())
    if min_class < k:
        raise RunError(f"the smallest class has {min_class} cases: too few for {k} stratified folds")
    sgkf = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    splits = [(tr, va) for tr, va in sgkf.split(np.zeros(len(labels)), labels, groups)]
    return splits[:1] if folds == 1 else splits


def inner_split(
    labels: np.ndarray, groups: list[str], train_idx: np.ndarray, inner_folds: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split an outer fold's training part into (inner train, inner validation) indices into the cohort.

    Patient-grouped and stratified by label; the validation part is about 1/inner_folds of it
    (fewer folds when the smallest class is too small). Depends only on the training part's labels,
    so the outer fold's labels cannot move it.
    """
    from sklearn.model_selection import StratifiedGroupKFold

    y = labels[train_idx]
    counts = np.bincount(y)
    k = int(min(inner_folds, counts[counts > 0].min()))
    if k < 2:
        raise RunError(f"a class has {int(counts[counts > 0].min())} training case(s) in a fold: "
                       "too few for an inner validation split; use more cases or fewer --folds")
    sgkf = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    tr, va = next(sgkf.split(np.zeros(len(y)), y, [groups[i] for i in train_idx]))
    return train_idx[tr], train_idx[va]


WEIGHTINGS = ("inverse-corrected", "inverse", "none")


def class_weights(labels: np.ndarray, mode: str = "inverse") -> np.ndarray:
    """Cross-entropy class weights: ``inverse`` and ``inverse-corrected`` n / (k · n_c) (1.0 for classes
    absent from the training set), ``none`` all 1. ``inverse-corrected`` trains with them and then takes
    them out of the model's outputs (:func:`trainer.model.correct_prior`)."""
    if mode == "none":
        return np.ones(len(CLASSES), dtype=np.float32)
    if mode not in WEIGHTINGS:
        raise RunError(f"unknown class weighting {mode!r}: use one of {', '.join(WEIGHTINGS)}")
    counts = np.bincount(labels, minlength=len(CLASSES)).astype(np.float64)
    w = np.where(counts > 0, len(labels) / (len(CLASSES) * np.maximum(counts, 1)), 1.0)
    return w.astype(np.float32)


@dataclass
class Env:
    device: torch.device
    amp_dtype: torch.dtype | None  # autocast dtype (CUDA: bf16/fp16, CPU: bf16), None: fp32
    channels_last: bool
    dist: DistInfo


def cpu_bf16_native() -> bool:
    """True when oneDNN runs bf16 natively here (AVX512-BF16 or AMX); emulated bf16 is slower than fp32."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def make_env(device: torch.device, preset: Preset, info: DistInfo) -> Env:
    """Precision and memory format from the preset ('auto': bf16 where native; channels-last on CUDA)."""
    cuda = device.type == "cuda"
    if preset.precision not in ("auto", "fp32", "bf16"):
        raise RunError(f"unknown precision {preset.precision!r}: use auto, fp32 or bf16")
    amp: torch.dtype | None = None
    if cuda and preset.precision != "fp32":
        amp = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    elif not cuda and (preset.precision == "bf16" or (preset.precision == "auto" and cpu_bf16_native())):
        amp = torch.bfloat16
    # channels-last measured no faster on this CPU (benchmarks/results-train-step.json): CUDA only by default
    cl = preset.channels_last if preset.channels_last is not None else cuda
    return Env(device=device, amp_dtype=amp, channels_last=cl, dist=info)


def resolve_device(name: str | None, info_local_rank: int = 0) -> str:
    if name:
        return name
    return f"cuda:{info_local_rank}" if torch.cuda.is_available() else "cpu"


# ---------------------------------------------------------------- one fold


@dataclass
class FoldJob:
    arch: str
    fold: int
    folder: Path
    train_idx: np.ndarray  # inner train
    val_idx: np.ndarray  # inner validation: early stopping, best epoch, thresholds (empty: the final model)
    test_idx: np.ndarray  # the outer fold: only predicted (empty: the final model)
    last_epoch: int | None = None  # stop after this epoch (the final model: the epoch the folds chose)


@dataclass
class FoldResult:
    probs: np.ndarray  # [n_combos, n_test, 3] outer-fold probabilities
    inner_probs: np.ndarray  # [len(THRESHOLD_SETS), n_val, 3] inner-validation probabilities
    thresholds: dict[str, float]  # phase set → threshold, chosen on the inner validation
    best_metric: float  # inner-validation loss at the best epoch
    best_epoch: int


def _autocast(env: Env):
    if env.amp_dtype is None:
        return torch.autocast("cpu", enabled=False)
    return torch.autocast(env.device.type, dtype=env.amp_dtype)


@torch.no_grad()
def predict(
    model: nn.Module, images: torch.Tensor, mask: torch.Tensor, keep: torch.Tensor, env: Env, batch_size: int
) -> np.ndarray:
    """Softmax probabilities [N, 3] with the slots outside ``keep`` zeroed (as the app masks them)."""
    model.eval()
    out = []
    for s in range(0, len(images), batch_size):
        m = mask[s : s + batch_size].to(env.device) * keep
        x = images[s : s + batch_size].to(env.device) * m[:, :, None, None]
        if env.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with _autocast(env):
            logits = model(x, m)
        out.append(torch.softmax(logits.float(), 1).cpu())
    return torch.cat(out).double().numpy()


def _val_loss(model, images, mask, labels, keep, weights, env, batch_size) -> tuple[float, float]:
    probs = predict(model, images, mask, keep, env, batch_size)
    y = labels.numpy()
    p = np.clip(probs[np.arange(len(y)), y], 1e-7, 1.0)
    w = weights.cpu().numpy()[y]
    return float((-np.log(p) * w).sum() / w.sum()), float((probs.argmax(1) == y).mean())


def _lr_lambda(total_steps: int, warmup_steps: int):
    def f(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))

    return f


def _write_log(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write_atomic(path, buf.getvalue())


def choose_thresholds(labels: np.ndarray, set_probs: np.ndarray) -> dict[str, float]:
    """One threshold per phase set from that set's predictions [len(THRESHOLD_SETS), n, 3]."""
    y = metrics.malignant(labels)
    return {name: metrics.choose_threshold(y, metrics.malignant_probability(set_probs[i]))
            for i, name in enumerate(THRESHOLD_SETS)}


def _read_log(path: Path, upto_epoch: int) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [r for r in csv.DictReader(f) if int(r["epoch"]) <= upto_epoch]


def _load_finished(job: FoldJob) -> FoldResult:
    with np.load(job.folder / "oof.npz") as z:
        if not np.array_equal(z["test_idx"], job.test_idx) or not np.array_equal(z["val_idx"], job.val_idx):
            raise RunError(f"{job.folder}: its saved split differs from this run's; the cohort changed? "
                           "start a new --out")
        return FoldResult(probs=z["probs"], inner_probs=z["inner_probs"],
                          thresholds=dict(zip(THRESHOLD_SETS, map(float, z["thresholds"]), strict=True)),
                          best_metric=float(z["best_metric"]), best_epoch=int(z["best_epoch"]))


def _combo_probs(model, x, m, combos: list[tuple[str, ...]], protocol, env, batch_size) -> np.ndarray:
    return np.stack([
        predict(model, x, m, torch.from_numpy(tdata.slot_keep(protocol, slots)).to(env.device), env,
                batch_size)
        for slots in combos
    ])


def train_fold(
    job: FoldJob,
    arrays: dict[str, torch.Tensor],
    preset: Preset,
    spec: InputSpec,
    protocol: Protocol,
    env: Env,
    args: argparse.Namespace,
    combos: dict[str, tuple[str, ...]],
    ca_ids: list[str] | None = None,
) -> FoldResult:
    """Train one outer fold (or continue it) on its inner-train cases; select on its inner validation.

    Returns the outer fold's probabilities per combination, the inner-validation probabilities of the
    phase sets, the thresholds chosen on them, and the best inner-validation loss and epoch.
    """
    from tqdm import tqdm

    info, device = env.dist, env.device
    ckpt_path, best_path = job.folder / "checkpoint.pt", job.folder / "best.pt"
    if args.resume and (job.folder / "oof.npz").is_file():
        log.info("%s fold %d: already finished, skipping", job.arch, job.fold)
        return _load_finished(job)

    torch.manual_seed(args.seed + 1000 * job.fold)
    model = build_model(job.arch, protocol, args.pretrained).to(device)
    if env.channels_last:
        model = model.to(memory_format=torch.channels_last)
    train_model = model
    if info.enabled:
        train_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    labels_all = arrays["labels"]
    weights = class_weights(labels_all[job.train_idx].numpy(), preset.class_weighting)
    weights = torch.from_numpy(weights).to(device)
    criterion = nn.CrossEntropyLoss(weight=weights)
    opt = torch.optim.AdamW(
        model.parameters(), lr=preset.lr, weight_decay=preset.weight_decay, fused=True
    )  # one kernel over 72 M parameters: ~5x faster steps on CPU
    per_rank = -(-len(job.train_idx) // info.world_size)
    steps_per_epoch = max(1, -(-per_rank // preset.batch_size))
    total = steps_per_epoch * preset.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, _lr_lambda(total, max(1, int(preset.warmup_epochs * steps_per_epoch)))
    )
    scaler = torch.amp.GradScaler("cuda", enabled=env.amp_dtype == torch.float16)

    start, best_metric, best_epoch, bad = 0, math.inf, -1, 0
    if args.resume and ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        start, best_metric = ck["epoch"] + 1, ck["best_metric"]
        best_epoch, bad = ck.get("best_epoch", -1), ck.get("bad_epochs", 0)
        log.info("%s fold %d: resuming at epoch %d", job.arch, job.fold, start)
    rows = _read_log(job.folder / "log.csv", start - 1)

    tr = torch.from_numpy(job.train_idx)
    va = torch.from_numpy(job.val_idx)
    images, mask = arrays["images"], arrays["mask"]
    context, ctx_scale = arrays.get("context"), arrays.get("ctx_scale")
    aug = AugmentConfig(early_drop=preset.early_drop, gapped_drop=preset.gapped_drop)
    early_keep = torch.from_numpy(tdata.slot_keep(protocol, combos["early"])).bool().to(device)
    gap = torch.from_numpy(tdata.slot_keep(protocol, tdata.gap_slots(protocol))).bool().to(device)
    keep_full = torch.ones(len(protocol.slot_names), device=device)
    keep_early = early_keep.float()
    gen = torch.Generator(device=device).manual_seed(args.seed * 7919 + job.fold * 31 + info.rank)
    val_x, val_m, val_y = images[va], mask[va], labels_all[va]

    stopped = False
    validate = len(job.val_idx) > 0
    end = preset.epochs if job.last_epoch is None else min(preset.epochs, job.last_epoch + 1)
    for epoch in range(start, end):
        train_model.train()
        order = tr[shard_indices(len(tr), epoch, args.seed + job.fold, info)]
        t0, seen, loss_sum = time.perf_counter(), 0, 0.0
        bar = tqdm(
            range(0, len(order), preset.batch_size),
            disable=not info.is_main,
            leave=False,
            desc=f"{job.arch} fold {job.fold} epoch {epoch + 1}/{preset.epochs}",
            unit="batch",
        )
        for s in bar:
            idx = order[s : s + preset.batch_size]
            x = images[idx].to(device, non_blocking=True)
            m = mask[idx].to(device, non_blocking=True)
            y = labels_all[idx].to(device, non_blocking=True)
            x, m = synchronized_augment(
                x, m, spec, aug, early_keep=early_keep, gen=gen, gap=gap,
                context=None if context is None else context[idx],
                ctx_scale=None if ctx_scale is None else ctx_scale[idx],
            )
            if env.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with _autocast(env):
                loss = criterion(train_model(x, m).float(), y)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            sched.step()
            seen += len(idx)
            loss_sum += float(loss.detach()) * len(idx)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}")
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        train_s = time.perf_counter() - t0
        if validate:
            vl_full, acc_full = _val_loss(model, val_x, val_m, val_y, keep_full, weights, env,
                                          preset.batch_size)
            vl_early, acc_early = _val_loss(
                model, val_x, val_m, val_y, keep_early, weights, env, preset.batch_size
            )
            metric = (vl_full + vl_early) / 2  # the model serves both sets
            improved = metric < best_metric
        else:  # the final model: no validation cases; its last epoch is the one the folds chose
            vl_full = vl_early = acc_full = acc_early = math.nan
            metric, improved = loss_sum / max(seen, 1), True
        if improved:
            best_metric, best_epoch, bad = metric, epoch, 0
        else:
            bad += 1
        rows.append(
            {
                "epoch": epoch,
                "lr": f"{sched.get_last_lr()[0]:.3e}",
                "train_loss": f"{loss_sum / max(seen, 1):.5f}",
                "val_loss_full": f"{vl_full:.5f}",
                "val_loss_early": f"{vl_early:.5f}",
                "val_acc_full": f"{acc_full:.4f}",
                "val_acc_early": f"{acc_early:.4f}",
                "train_cases_per_s": f"{seen * info.world_size / train_s:.2f}",
                "best": int(improved),
            }
        )
        stopped = bad >= preset.patience
        ck = {
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "epoch": epoch,
            "best_metric": best_metric,
            "best_epoch": best_epoch,
            "bad_epochs": bad,
            "args": vars(args),
            "arch": job.arch,
            "fold": job.fold,
            "preset": preset.to_dict(),
            "input": spec.to_dict(),
            "protocol": protocol.to_dict(),
            "classes": list(CLASSES),
            "class_weights": weights.cpu().tolist(),
            "finished": stopped or epoch == end - 1,
        }
        if info.is_main:
            if improved:  # weights only: the best epoch is for predicting and export, not for resuming
                save_atomic({k: v for k, v in ck.items() if k not in ("optimizer", "scheduler")}, best_path)
            save_atomic(ck, ckpt_path)
            _write_log(job.folder / "log.csv", rows)
        log.info(
            "%s fold %d epoch %d: train %.3f, inner val full %.3f early %.3f, %.1f cases/s%s",
            job.arch,
            job.fold,
            epoch,
            loss_sum / max(seen, 1),
            vl_full,
            vl_early,
            seen * info.world_size / train_s,
            " (best)" if improved else "",
        )
        if stopped:
            log.info("%s fold %d: early stop after %d epochs without improvement", job.arch, job.fold, bad)
            break
    barrier(info)
    best = torch.load(best_path, map_location=device, weights_only=False)
    model.load_state_dict(best["model"])
    if preset.class_weighting == "inverse-corrected" and not best.get("prior_corrected"):
        # the loss's class weights out of the outputs: every prediction below, and the exported model
        correct_prior(model, best["class_weights"])
        best.update(model=model.state_dict(), prior_corrected=True)
        if info.is_main:
            save_atomic(best, best_path)
    set_slots = [combos[name] for name in THRESHOLD_SETS]
    n_classes = len(CLASSES)
    if validate:
        inner = _combo_probs(model, val_x, val_m, set_slots, protocol, env, preset.batch_size)
        thresholds = choose_thresholds(val_y.cpu().numpy(), inner)
    else:
        inner, thresholds = np.zeros((len(set_slots), 0, n_classes)), {}
    te = torch.from_numpy(job.test_idx)
    probs = (_combo_probs(model, images[te], mask[te], list(combos.values()), protocol, env,
                          preset.batch_size) if len(te) else np.zeros((len(combos), 0, n_classes)))
    result = FoldResult(probs=probs, inner_probs=inner, thresholds=thresholds,
                        best_metric=float(best["best_metric"]), best_epoch=int(best["best_epoch"]))
    if info.is_main:
        ids = ca_ids or []
        write_json_atomic(job.folder / "selection.json", {
            "fold": job.fold, "arch": job.arch, "best_epoch": result.best_epoch,
            "inner_val_loss": result.best_metric, "thresholds": thresholds,
            "threshold_rule": threshold_rule(), "n_inner_train": len(job.train_idx),
            "n_inner_val": len(job.val_idx), "n_outer": len(job.test_idx),
            "inner_val_ids": [ids[i] for i in job.val_idx] if ids else [],
        })
        write_atomic(job.folder / "oof.npz", lambda fh: np.savez(
            fh, probs=probs, test_idx=job.test_idx, val_idx=job.val_idx, inner_probs=inner,
            thresholds=np.array([thresholds.get(n, math.nan) for n in THRESHOLD_SETS]),
            best_metric=result.best_metric, best_epoch=result.best_epoch))
    return result


def threshold_rule() -> str:
    return (f"per phase set, the highest threshold with sensitivity >= "
            f"{metrics.THRESHOLD_MIN_SENSITIVITY:.0%} on the fold's inner-validation predictions of that set "
            "(call malignant if p >= t)")


# ---------------------------------------------------------------- the run


def _prepare_run(out: Path, args, preset: Preset, overrides: dict) -> Preset:
    cfg_path = out / "config.json"
    if cfg_path.is_file() and not args.resume:
        raise RunError(f"{out}: a run is already there; continue it with --resume or choose another --out")
    if args.resume:
        if not cfg_path.is_file():
            raise RunError(f"{out}: nothing to resume (no config.json)")
        saved = json.loads(cfg_path.read_text(encoding="utf-8"))
        if saved.get("format") != RUN_FORMAT:
            raise RunError(f"{out}: made by an older trainer (run format {saved.get('format')}, this one "
                           f"writes {RUN_FORMAT}); it cannot be resumed - start a new --out")
        own = Preset(**saved["preset"])  # the run's own settings win over the flags
        ignored = sorted(k for k, v in overrides.items() if v is not None and getattr(own, k) != v)
        if ignored:
            log.warning("--resume continues with the run's own settings; ignored: %s", ", ".join(ignored))
        return own
    return preset


def main(args: argparse.Namespace) -> int:
    out = Path(args.out)
    overrides = dict(
        epochs=args.epochs,
        folds=args.folds,
        size=args.size,
        batch_size=args.batch_size,
        lr=args.lr,
        max_cases=args.max_cases,
        workers=args.workers,
        referential=False if args.no_referential else (True if getattr(args, "referential", False) else None),
        precision=args.precision,
        channels_last=args.channels_last,
        class_weighting=args.class_weighting,
        final=False if (args.no_final or args.only_fold is not None) else None,
    )
    preset = get_preset(args.preset).override(**overrides)
    protocol = default_protocol()
    try:
        preset = _prepare_run(out, args, preset, overrides)
    except RunError as err:
        log.error("%s", err)
        return 2
    spec = InputSpec(size=preset.size)
    info = init_distributed(resolve_device(args.device, int(os.environ.get("LOCAL_RANK", 0))))
    try:
        return _run(out, args, preset, spec, protocol, info)
    except (RunError, tdata.CasesError) as err:
        log.error("%s", err)
        return 2
    finally:
        shutdown(info)


def _run(out: Path, args, preset: Preset, spec: InputSpec, protocol: Protocol, info: DistInfo) -> int:
    device = torch.device(resolve_device(args.device, info.local_rank))
    cuda = device.type == "cuda"
    env = make_env(device, preset, info)
    log.info("device %s, autocast %s, channels-last %s, class weighting %s", device, env.amp_dtype,
             env.channels_last, preset.class_weighting)
    if cuda:
        torch.backends.cudnn.benchmark = True
    cases_dir = Path(args.cases).resolve()
    load = dict(cache_dir=args.cache, max_cases=preset.max_cases, seed=args.seed, protocol=protocol,
                with_context=preset.roi_jitter)
    if info.enabled and info.is_main:  # rank 0 builds the cache; the others then only read it
        tdata.load_cached_cases(cases_dir, spec, workers=preset.workers, **load)
    barrier(info)
    ca = tdata.load_cached_cases(cases_dir, spec, workers=preset.workers if info.is_main else 1, **load)
    log.info("%d cases (%s), %d skipped", len(ca), ca.summary()["by_class"], len(ca.skipped))
    splits = make_splits(ca.labels, ca.patients, preset.folds, args.seed)
    archs = [args.arch] + (["single"] if preset.referential and args.arch == "triple" else [])
    combos = tdata.phase_combinations(protocol)
    if preset.roi_jitter and ca.context is None:
        log.warning("ROI jitter is off: the preprocessing cache holds no context crops")
    if info.is_main:
        write_json_atomic(
            out / "config.json",
            {
                "format": RUN_FORMAT,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "git_commit": git_commit(),
                "protocol": protocol.to_dict(),
                "input": spec.to_dict(),
                "preset": preset.to_dict(),
                "arch": args.arch,
                "archs": archs,
                "folds": preset.folds,
                "seed": args.seed,
                "classes": list(CLASSES),
                "class_weights": class_weights(ca.labels, preset.class_weighting).tolist(),
                "class_weighting": preset.class_weighting,
                "precision": str(env.amp_dtype or "fp32").replace("torch.", ""),
                "channels_last": env.channels_last,
                "early_drop": preset.early_drop,
                "gapped_drop": preset.gapped_drop,
                "roi_jitter": preset.roi_jitter and ca.context is not None,
                "selection": {
                    "inner_folds": preset.inner_folds,
                    "final": "the outer fold whose inner-validation loss is lowest, with its thresholds",
                    "threshold_rule": threshold_rule(),
                },
                "phase_combinations": {k: list(v) for k, v in combos.items()},
                "pretrained": (
                    {"path": str(args.pretrained), "sha256": sha256_file(Path(args.pretrained))}
                    if args.pretrained
                    else None
                ),
                "data": {"cases_dir": str(cases_dir), **ca.summary()},
                "world_size": info.world_size,
                "device": str(device),
                "torch": torch.__version__,
            },
        )
    arrays = {
        "images": torch.from_numpy(ca.images),
        "mask": torch.from_numpy(ca.mask),
        "labels": torch.from_numpy(ca.labels),
    }
    if preset.roi_jitter and ca.context is not None:
        arrays["context"] = torch.from_numpy(ca.context)
        arrays["ctx_scale"] = torch.from_numpy(ca.ctx_scale)
    if cuda:  # the whole cohort fits on the GPU: the data pipeline is then never the bottleneck
        arrays = {k: v.to(device) for k, v in arrays.items()}
    if args.only_fold is not None and not 0 <= args.only_fold < len(splits):
        raise RunError(f"--only-fold {args.only_fold}: the run has folds 0-{len(splits) - 1}")
    oof = {}
    for arch in archs:
        results: list[tuple[FoldJob, FoldResult]] = []
        for k, (tr, te) in enumerate(splits):
            if args.only_fold is not None and (k != args.only_fold or arch != args.arch):
                continue
            itr, iva = inner_split(ca.labels, ca.patients, tr, preset.inner_folds, args.seed + 1 + k)
            folder = out / (f"fold{k}" if arch == args.arch else f"{REFERENTIAL_DIR}/fold{k}")
            job = FoldJob(arch, k, folder, itr, iva, te)
            results.append((job, train_fold(job, arrays, preset, spec, protocol, env, args, combos, ca.ids)))
        oof[arch] = results
    if args.only_fold is not None:
        log.info("fold %d trained (--only-fold): no run summary, no final model", args.only_fold)
        return 0
    final = None
    if preset.final:
        # the shipped model: every case, the same recipe, stopped at the epoch the folds chose
        last = int(np.median([res.best_epoch for _, res in oof[args.arch]]))
        job = FoldJob(args.arch, len(splits), out / FINAL_TRAIN_DIR, np.arange(len(ca)),
                      np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), last_epoch=last)
        log.info("final model: all %d cases, epochs 0-%d (the folds' median best epoch)", len(ca), last)
        final = (job, train_fold(job, arrays, preset, spec, protocol, env, args, combos, ca.ids))
    if info.is_main:
        _finish(out, ca, combos, oof, args.arch, final, protocol)
    barrier(info)
    return 0


def _stack(ca: tdata.CaseArrays, n_combos: int, results: list[tuple[FoldJob, FoldResult]]) -> dict:
    """Per-case outer probabilities and fold, and the inner-validation predictions of every fold."""
    probs = np.full((n_combos, len(ca), len(CLASSES)), np.nan)
    fold_of = np.full(len(ca), -1, dtype=np.int64)
    for job, res in results:
        probs[:, job.test_idx] = res.probs
        fold_of[job.test_idx] = job.fold
    return {
        "probs": probs,
        "fold": fold_of,
        "inner_case": np.concatenate([job.val_idx for job, _ in results]),
        "inner_fold": np.concatenate([np.full(len(job.val_idx), job.fold) for job, _ in results]),
        "inner_probs": np.concatenate([res.inner_probs for _, res in results], axis=1),
        "fold_thresholds": np.array([[res.thresholds[n] for n in THRESHOLD_SETS] for _, res in results]),
        "fold_ids": np.array([job.fold for job, _ in results]),
    }


def pooled_thresholds(ca_labels: np.ndarray, results: list[tuple[FoldJob, FoldResult]]) -> dict[str, float]:
    """Per phase set, the threshold chosen on every fold's inner-validation predictions pooled (each case
    predicted by the fold model that did not train on it): the final model's thresholds."""
    cases = np.concatenate([job.val_idx for job, _ in results])
    probs = np.concatenate([res.inner_probs for _, res in results], axis=1)
    return choose_thresholds(ca_labels[cases], probs)


def _finish(out: Path, ca: tdata.CaseArrays, combos: dict, oof: dict, main_arch: str,
            final: tuple[FoldJob, FoldResult] | None = None, protocol: Protocol | None = None) -> None:
    names = list(combos)
    main = _stack(ca, len(names), oof[main_arch])
    payload = {
        "ids": np.array(ca.ids),
        "labels": ca.labels,
        "washout": ca.washout,
        "reader": ca.reader if ca.reader is not None else np.full((*ca.mask.shape, 2), np.nan),
        "combos": np.array(names),
        "threshold_sets": np.array(THRESHOLD_SETS),
        **main,
    }
    if "single" in oof and main_arch != "single":
        ref = _stack(ca, len(names), oof["single"])
        payload.update({f"referential_{k}": v for k, v in ref.items() if k != "fold"})
    fusion_doc = None
    if ca.reader is not None and is_measured(ca.reader) and set(THRESHOLD_SETS) <= set(names):
        arrays, fusion_doc = fusion.fit_run(
            ca.labels, ca.reader, protocol or default_protocol(), names, oof[main_arch], THRESHOLD_SETS,
            {"per_clip": EVIDENCE_PER_CLIP, "max_arterial": EVIDENCE_MAX_ARTERIAL})
        payload.update(arrays)
        write_json_atomic(out / "fusion.json", fusion_doc)
        log.info("fusion fitted (%s); default call: %s", fusion_doc["decided_on"],
                 "cnn+evidence" if fusion_doc["default"] else "cnn")
    else:
        log.warning("no measured evidence in the cache: no fused variant")
    write_atomic(out / "oof.npz", lambda fh: np.savez(fh, **payload))
    probs, fold_of = main["probs"], main["fold"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["case_id", "label", "fold", "combination", *[f"p_{c}" for c in CLASSES]])
    for i in np.flatnonzero(fold_of >= 0):
        for c, name in enumerate(names):
            p = [f"{v:.6f}" for v in probs[c, i]]
            w.writerow([ca.ids[i], CLASSES[ca.labels[i]], fold_of[i], name, *p])
    write_atomic(out / "oof.csv", buf.getvalue())
    if final is not None:  # trained on every case; thresholds from the pooled inner validations
        job, res = final
        thresholds = pooled_thresholds(ca.labels, oof[main_arch])
        selected, selection = "final", (
            f"trained on all {len(job.train_idx)} cases with the folds' recipe, stopped after epoch "
            f"{job.last_epoch} (the folds' median best epoch); thresholds chosen on the folds' pooled "
            "inner-validation predictions")
    else:  # the fold with the lowest inner-validation loss (no outer-fold data in this choice)
        job, res = min(oof[main_arch], key=lambda jr: (jr[1].best_metric, jr[0].fold))
        thresholds = res.thresholds
        selected, selection = f"fold{job.fold}", "the outer fold whose inner-validation loss is lowest"
    doc = {
        "thresholds": thresholds,
        "threshold": thresholds["full"],  # older readers: the full set's
        "probability": "malignant = p_hcc + p_non_hcc_malignant",
        "rule": threshold_rule(),
        "selected_from": selected,
        "selection": selection,
        "folds": [{"fold": j.fold, "thresholds": r.thresholds, "inner_val_loss": r.best_metric,
                   "best_epoch": r.best_epoch, "n_inner_val": len(j.val_idx)} for j, r in oof[main_arch]],
    }
    write_json_atomic(out / "threshold.json", doc)
    ck = torch.load(job.folder / "best.pt", map_location="cpu", weights_only=False)
    ck.update(selected_from=selected, threshold=thresholds["full"], thresholds=thresholds, fusion=fusion_doc)
    save_atomic(ck, out / "final" / "checkpoint.pt")
    write_json_atomic(out / "final" / "threshold.json", doc)
    log.info("run finished: %s (shipped model: %s, thresholds early %.3f full %.3f)", out, selected,
             thresholds["early"], thresholds["full"])
