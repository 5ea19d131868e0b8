"""The manifest's ``fusion`` block: a logistic late fusion of the CNN's P(malignant) with the measured
evidence, per phase set (how its inputs are measured: :mod:`ceusdesk.evidence.fusion`; how it is fitted:
``trainer/fusion.py``). Parsed and range-checked when the package loads, so a malformed block refuses
the package like a wrong hash does.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ceusdesk.base.errors import ModelRefused

# the inputs each phase set's fusion may use (their meaning: ceusdesk.evidence.fusion.fusion_inputs)
INPUTS: dict[str, tuple[str, ...]] = {
    "early": ("cnn_logit", "log_ratio_60s", "log_ratio_120s", "log_peak_ratio", "aphe"),
    "full": ("cnn_logit", "log_ratio_60s", "log_ratio_120s", "log_ratio_late_min", "log_kupffer_ratio",
             "log_peak_ratio", "aphe"),
}
KIND = "logistic"
CALL_SOURCES = ("cnn", "cnn+evidence")  # result.model.call_source


def as_three_class(p_fused: np.ndarray, cnn_probs: np.ndarray) -> np.ndarray:
    """[N, 3] with benign = 1 − p_fused and the malignant share split as the CNN splits it (HCC vs
    non-HCC): the fused call's class bars stay coherent with its P(malignant)."""
    p = np.asarray(p_fused, dtype=np.float64)
    cnn = np.atleast_2d(np.asarray(cnn_probs, dtype=np.float64))
    mal = cnn[:, 1:].sum(1, keepdims=True)
    split = np.where(mal > 0, cnn[:, 1:] / np.maximum(mal, 1e-12), 0.5)
    return np.concatenate([1.0 - p.reshape(-1, 1), p.reshape(-1, 1) * split], axis=1)


@dataclass(frozen=True)
class SetFusion:
    """One phase set's logistic fusion: standardize, NaN → 0, linear, sigmoid."""

    inputs: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    threshold: float

    def probability(self, values: Mapping[str, float]) -> float:
        x = np.array([values.get(k, math.nan) for k in self.inputs], dtype=np.float64)
        z = (x - np.array(self.mean)) / np.array(self.scale)
        z = np.where(np.isfinite(z), z, 0.0)
        s = float(z @ np.array(self.coef) + self.intercept)
        return 1.0 / (1.0 + math.exp(-s)) if s > -700 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"inputs": list(self.inputs), "mean": list(self.mean), "scale": list(self.scale),
                "coef": list(self.coef), "intercept": self.intercept, "threshold": self.threshold}


@dataclass(frozen=True)
class Fusion:
    """The manifest's ``fusion`` block: per phase set a :class:`SetFusion`, whether it is the default
    call, and how the evidence must be measured for it (the budget it was fitted with)."""

    sets: Mapping[str, SetFusion]
    default: bool
    evidence: Mapping[str, int]  # {"per_clip": n, "max_arterial": n}
    fitted_on: str
    default_rule: str = ""

    def for_set(self, phase_set: str) -> SetFusion | None:
        return self.sets.get(phase_set)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": KIND, "inputs": sorted({k for s in self.sets.values() for k in s.inputs}),
                "sets": {k: v.to_dict() for k, v in self.sets.items()}, "default": self.default,
                "evidence": dict(self.evidence), "fitted_on": self.fitted_on,
                "default_rule": self.default_rule}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "fusion") -> Fusion:
        """Parse and range-check; a malformed block refuses the package (one line naming the field)."""
        def bad(field: str, why: str) -> ModelRefused:
            return ModelRefused(f"model manifest {where}.{field} {why}; re-export the package")

        if d.get("kind") != KIND:
            raise bad("kind", f"is {d.get('kind')!r}, this ceusdesk applies only {KIND!r}")
        sets: dict[str, SetFusion] = {}
        for name, s in (d.get("sets") or {}).items():
            if name not in INPUTS:
                raise bad(f"sets.{name}", f"names no phase set ({', '.join(INPUTS)})")
            try:
                inputs = tuple(str(k) for k in s["inputs"])
                nums = {k: tuple(float(v) for v in s[k]) for k in ("mean", "scale", "coef")}
                intercept, threshold = float(s["intercept"]), float(s["threshold"])
            except (KeyError, TypeError, ValueError) as err:
                raise bad(f"sets.{name}", f"is malformed ({err})") from err
            unknown = set(inputs) - set(INPUTS[name])
            if unknown:
                raise bad(f"sets.{name}.inputs", f"has unknown inputs {sorted(unknown)}")
            if any(len(v) != len(inputs) for v in nums.values()):
                raise bad(f"sets.{name}", "has mean/scale/coef of another length than inputs")
            values = [*nums["mean"], *nums["scale"], *nums["coef"], intercept, threshold]
            if not all(math.isfinite(v) for v in values) or min(nums["scale"], default=1.0) <= 0:
                raise bad(f"sets.{name}", "holds a non-finite number or a scale <= 0")
            if not 0.0 <= threshold <= 1.0:
                raise bad(f"sets.{name}.threshold", f"is {threshold}, not within 0..1")
            sets[name] = SetFusion(inputs, nums["mean"], nums["scale"], nums["coef"], intercept, threshold)
        ev = d.get("evidence") or {}
        try:
            budget = {"per_clip": int(ev["per_clip"]), "max_arterial": int(ev["max_arterial"])}
        except (KeyError, TypeError, ValueError) as err:
            raise bad("evidence", "must give per_clip and max_arterial (its fitting budget)") from err
        return cls(sets=sets, default=bool(d.get("default", False)), evidence=budget,
                   fitted_on=str(d.get("fitted_on", "")), default_rule=str(d.get("default_rule", "")))
