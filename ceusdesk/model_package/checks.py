"""Range checks of a model manifest's values, and of its ONNX graph against them.

A manifest is data a person or a tool can get wrong: a NaN threshold silently turns every result
"benign", a std of 0 turns every image into infinities, a file path with ``..`` reads a file outside
the package. Each check raises :class:`ManifestValueError` naming the field; the reader turns it into
a one-line :class:`~ceusdesk.base.errors.ModelRefused` naming the manifest (docs/export.md lists the checks).
"""
from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from ceusdesk.base.classes import CLASSES
from ceusdesk.base.errors import ModelRefused

MAX_INPUT_SIZE = 1024
"""Largest model input side accepted: 9 slots × 1024² float32 is 38 MB per case; beyond is a typo."""
PHASE_SETS = ("early", "full")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class ManifestValueError(ModelRefused, ValueError):
    """A manifest value out of range; ``field`` is its dotted name (e.g. ``thresholds.early``). The
    loader names the manifest in front of it; one that escapes is still a refusal (exit 5)."""

    def __init__(self, field: str, problem: str):
        self.field = field
        super().__init__(f"field '{field}' {problem}")


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ManifestValueError(field, f"is {value!r}, not a number")
    x = float(value)
    if not math.isfinite(x):
        raise ManifestValueError(field, f"is {value!r}; it must be a finite number")
    return x


def check_threshold(value: Any, field: str) -> float:
    """An operating threshold on the malignant probability: finite, strictly between 0 and 1."""
    t = _number(value, field)
    if not 0.0 < t < 1.0:
        raise ManifestValueError(field, f"is {t!r}; a threshold must lie strictly between 0 and 1")
    return t


def check_thresholds(threshold: Any, thresholds: Mapping[str, Any] | None) -> None:
    """``thresholds`` {early, full} (current packages) and/or ``threshold`` (older ones), in range."""
    if thresholds:
        if set(thresholds) != set(PHASE_SETS):
            raise ManifestValueError("thresholds", f"has keys {sorted(thresholds)}; expected exactly "
                                                   f"{list(PHASE_SETS)}")
        for name in PHASE_SETS:
            check_threshold(thresholds[name], f"thresholds.{name}")
    elif threshold is None:
        raise ManifestValueError("thresholds", "is missing (and so is the older single 'threshold')")
    if threshold is not None:
        check_threshold(threshold, "threshold")


def check_normalization(mean: Any, std: Any) -> None:
    """Normalization applied to [0, 1] pixels: mean finite, std finite and positive."""
    _number(mean, "input.normalization.mean")
    s = _number(std, "input.normalization.std")
    if s <= 0.0:
        raise ManifestValueError("input.normalization.std", f"is {s!r}; it must be positive")


def _dims(value: Any, field: str, n: int) -> list[Any]:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != n:
        raise ManifestValueError(field, f"is {value!r}; expected {n} dimensions")
    for d in value:
        if isinstance(d, bool) or not (isinstance(d, str) or (isinstance(d, int) and d > 0)):
            raise ManifestValueError(field, f"has dimension {d!r}; each must be a positive integer "
                                            "(or a name for the batch)")
    return list(value)


def check_input(inp: Mapping[str, Any], n_slots: int) -> None:
    """``input``: size 1…MAX_INPUT_SIZE, float32, normalization, shapes [N, slots, S, S] / [N, slots]."""
    size = inp.get("size")
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size <= MAX_INPUT_SIZE:
        raise ManifestValueError("input.size", f"is {size!r}; expected an integer 1…{MAX_INPUT_SIZE}")
    if inp.get("dtype") != "float32":
        raise ManifestValueError("input.dtype", f"is {inp.get('dtype')!r}; ceusdesk feeds float32")
    norm = inp.get("normalization")
    if not isinstance(norm, Mapping):
        raise ManifestValueError("input.normalization", "must be an object {mean, std}")
    check_normalization(inp.get("mean", norm.get("mean")), inp.get("std", norm.get("std")))
    shape = inp.get("shape")
    if not isinstance(shape, Mapping):
        raise ManifestValueError("input.shape", "must be an object {images, mask}")
    images = _dims(shape.get("images"), "input.shape.images", 4)
    mask = _dims(shape.get("mask"), "input.shape.mask", 2)
    if images[1:] != [n_slots, size, size]:
        raise ManifestValueError("input.shape.images", f"is {images}; expected [N, {n_slots}, {size}, "
                                                       f"{size}] (the protocol's slots, input.size)")
    if mask[1:] != [n_slots]:
        raise ManifestValueError("input.shape.mask", f"is {mask}; expected [N, {n_slots}]")


def check_classes(classes: Iterable[str], field: str = "classes") -> None:
    if list(classes) != list(CLASSES):
        raise ManifestValueError(field, f"is {list(classes)}; expected exactly {list(CLASSES)}, in order")


def check_relative_path(path: str, field: str) -> None:
    """A package file: a relative POSIX path below the manifest's folder (no absolute path, no ``..``)."""
    if not path or "\\" in path or PureWindowsPath(path).drive or PurePosixPath(path).is_absolute():
        raise ManifestValueError(field, f"is {path!r}; package files must be relative paths inside it")
    if any(part in ("", ".", "..") for part in path.split("/")):
        raise ManifestValueError(field, f"is {path!r}; '..', '.' and empty parts are not allowed")


def check_sha256(value: str, field: str) -> None:
    if not _SHA256.fullmatch(value):
        raise ManifestValueError(field, f"is {value!r}; expected 64 hexadecimal digits")


def check_graph_inputs(inputs: Sequence[Any], outputs: Sequence[Any], names: Mapping[str, str],
                       output: str, size: int, n_slots: int) -> None:
    """The ONNX graph's own input/output shapes against the manifest (``inputs``/``outputs``: ORT NodeArgs).

    Every fixed dimension must equal the manifest's; a named (dynamic) one may be anything except for
    height and width, which design.md fixes.
    """
    by_name = {i.name: i for i in inputs}
    want = {names["images"]: [None, n_slots, size, size], names["mask"]: [None, n_slots]}
    for name, dims in want.items():
        arg = by_name[name]
        have = list(arg.shape)
        if arg.type != "tensor(float)":
            raise ManifestValueError("input.dtype", f"is float32 but the ONNX input {name!r} is {arg.type}")
        if len(have) != len(dims):
            raise ManifestValueError("input.shape", f"says {len(dims)} dimensions for {name!r}; the ONNX "
                                                    f"graph has {have}")
        for k, (h, w) in enumerate(zip(have, dims, strict=True)):
            if w is None:
                continue
            if not isinstance(h, int) or h != w:
                what = "input.size" if k >= 2 else "input.shape"
                raise ManifestValueError(what, f"says {dims[1:]} for {name!r} but the ONNX graph takes "
                                               f"{have[1:]}; the manifest does not describe this model")
    out = next((o for o in outputs if o.name == output), None)
    if out is None:
        raise ManifestValueError("output.name", f"is {output!r}; the ONNX graph's outputs are "
                                                f"{[o.name for o in outputs]}")
    last = list(out.shape)[-1] if out.shape else None
    if len(out.shape) != 2 or (isinstance(last, int) and last != len(CLASSES)):
        raise ManifestValueError("output.shape",
                                 f"is the graph's {list(out.shape)}; expected [N, {len(CLASSES)}]")
