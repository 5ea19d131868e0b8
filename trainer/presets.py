"""Named training presets (the torchvision references' "presets are objects" idea).

``smoke`` exercises every code path on CPU in well under a minute; ``cpu`` is the documented reduced
run that produces the bundled demo model without a GPU (docs/trainer.md); ``paper`` is the study's
setting and wants a GPU.
Command-line flags override single fields (:meth:`Preset.override`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace


@dataclass(frozen=True)
class Preset:
    name: str
    size: int  # input side in pixels (InputSpec.size)
    folds: int  # k of the k-fold CV; 1 = one stratified hold-out split (a quarter of the cases)
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float = 0.05
    warmup_epochs: float = 0.5
    patience: int = 5  # early stopping: epochs without a better validation loss
    max_cases: int | None = None  # a seeded random subset of the cohort; None = all cases
    referential: bool = True  # also train the single-ResNet50 "referential standard" model per fold
    early_drop: float = 0.25  # share of training cases shown only their early-set slots (B … 2:00)
    gapped_drop: float = 0.25  # share shown early + 10:00 with some 3-6 min slots missing
    roi_jitter: bool = True  # re-place the ROI per sample (centre ±20 % of the side, side 0.75-1.56x)
    inner_folds: int = 5  # the inner validation split is 1/inner_folds of each outer fold's training part
    workers: int = 2  # processes that build the preprocessing cache (first pass only)
    # "auto": bf16 autocast where the device runs it natively (CUDA; CPUs with AVX512-BF16 or AMX),
    # else fp32. benchmarks/results-train-step.json: bf16 1.33x fp32 steps/s on the 2-core CPU.
    precision: str = "auto"
    channels_last: bool | None = None  # None: on CUDA (on this CPU it measured no faster)
    # "inverse-corrected": train with n / (k · n_c), then subtract log w_c from the logits (the model's
    # posteriors are the cohort's again); "inverse": weights left in (v2: pushed HCC to benign); "none".
    # benchmarks/loss_weighting.py measured all three on one fold (docs/trainer.md).
    class_weighting: str = "inverse-corrected"
    # after the cross-validation, train the shipped model on every case, for the epoch the folds chose
    final: bool = True

    def to_dict(self) -> dict:
        return asdict(self)

    def override(self, **changes) -> Preset:
        """Replace the fields given (None values are ignored)."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown preset fields {sorted(unknown)}")
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


PRESETS: dict[str, Preset] = {
    "smoke": Preset(
        "smoke", size=64, folds=1, epochs=2, batch_size=8, lr=3e-4, patience=2, max_cases=32, workers=1
    ),
    # The documented reduced CPU run (docs/trainer.md): phantom ROIs are ~30-100 panel pixels, so 64²
    # keeps about their native detail. An inner validation of a quarter of each training part picks epoch
    # and thresholds. v3 (issue 20): 2 outer folds x 24 epochs, then the shipped model on all cases to the
    # folds' median best epoch (at most 3,216 steps of 12 on 1,600 cases; the v3 run: 2,948, ~10x v2's
    # at most 300); patience = epochs: the cosine schedule runs out and the inner validation picks the
    # epoch. 84 min on the 2-core CPU with bf16, tests running beside it (docs/results.md).
    "cpu": Preset("cpu", size=64, folds=2, epochs=24, batch_size=12, lr=1e-3, patience=24, inner_folds=4),
    "paper": Preset("paper", size=224, folds=5, epochs=40, batch_size=32, lr=2e-4, patience=8, workers=8),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}") from None
