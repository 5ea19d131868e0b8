"""A tiny but valid int8 model package, built WITHOUT torch (the app's tests must not need torch).

The fp32 graph has the real package's interface (``images`` [N, 9, S, S], ``mask`` [N, 9] float32 →
``probabilities`` [N, 3]): a per-slot 1×1 Conv, global average pooling, × mask, the mask concatenated,
two linear layers and Softmax — so every slot and the mask change the output. It is quantized by the
same code as real exports (:func:`trainer.quantize.quantize_int8`: QDQ, U8S8 per channel, logits and
Softmax float) and described by a manifest written with
:func:`ceusdesk.model_package.manifest.write_manifest`.

Usage::

    from tests.tiny_package import make_tiny_package
    manifest_path = make_tiny_package(tmp_path / "pkg")
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ceusdesk.base.protocol import default_protocol
from ceusdesk.inference.preprocess import PREPROCESS_VERSION, InputSpec
from ceusdesk.model_package import manifest as mf
from trainer.quantize import quantize_int8

N_SLOTS = 9


def tiny_fp32_model(path: Path, size: int = 32, seed: int = 0, n_slots: int = N_SLOTS) -> Path:
    """Write the tiny fp32 ONNX graph to ``path``."""
    rng = np.random.default_rng(seed)
    init = {
        "conv_w": rng.normal(1.0, 0.2, (n_slots, 1, 1, 1)),
        "conv_b": rng.normal(0.0, 0.1, n_slots),
        "w1": rng.normal(0.0, 1.0, (2 * n_slots, 8)),
        "b1": rng.normal(0.0, 0.1, 8),
        "w2": rng.normal(0.0, 1.0, (8, 3)),
        "b2": np.array([0.2, -0.1, 0.0]),
    }
    nodes = [
        helper.make_node("Conv", ["images", "conv_w", "conv_b"], ["c"], group=n_slots, name="conv"),
        helper.make_node("GlobalAveragePool", ["c"], ["g"], name="pool"),
        helper.make_node("Flatten", ["g"], ["m"], name="flatten"),
        helper.make_node("Mul", ["m", "mask"], ["mm"], name="masked"),
        helper.make_node("Concat", ["mm", "mask"], ["f"], axis=1, name="concat"),
        helper.make_node("Gemm", ["f", "w1", "b1"], ["h0"], name="fc1"),
        helper.make_node("Relu", ["h0"], ["h"], name="relu"),
        helper.make_node("Gemm", ["h", "w2", "b2"], ["logits"], name="fc2"),
        helper.make_node("Softmax", ["logits"], [mf.OUTPUT_NAME], axis=1, name="softmax"),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", n_slots, size, size]),
         helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["N", n_slots])],
        [helper.make_tensor_value_info(mf.OUTPUT_NAME, TensorProto.FLOAT, ["N", 3])],
        initializer=[numpy_helper.from_array(v.astype(np.float32), k) for k, v in init.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _calibration(size: int, seed: int, n: int = 16, chunk: int = 4):
    rng = np.random.default_rng(seed + 1)
    for _ in range(n // chunk):
        mask = (rng.random((chunk, N_SLOTS)) < 0.8).astype(np.float32)
        images = rng.normal(0.0, 1.0, (chunk, N_SLOTS, size, size)).astype(np.float32)
        images *= mask[:, :, None, None]
        yield images, mask


def make_tiny_package(folder: str | Path, *, size: int = 32, threshold: float = 0.5, seed: int = 0,
                      preprocess_version: str | None = None, protocol: dict | None = None,
                      with_fp32: bool = True, name: str = "tiny-test",
                      thresholds: dict[str, float] | None = None, fusion: dict | None = None) -> Path:
    """Write model.int8.onnx (+ model.fp32.onnx) and manifest.json into ``folder``; returns the
    manifest's path. ``preprocess_version`` / ``protocol`` let tests build mismatching packages;
    ``thresholds`` {early, full} makes a current package (``threshold`` None: only those); ``fusion``
    is written as the manifest's fusion block as given."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fp32 = tiny_fp32_model(folder / "model.fp32.onnx", size=size, seed=seed)
    n_cal = quantize_int8(fp32, folder / "model.int8.onnx", _calibration(size, seed), symbolic_shapes=False)
    files = {"int8": mf.FileEntry.for_file(folder, "model.int8.onnx")}
    if with_fp32:
        files["fp32"] = mf.FileEntry.for_file(folder, "model.fp32.onnx", in_repo=False)
    else:
        fp32.unlink()
    spec = InputSpec(size=size)
    manifest = mf.Manifest(
        name=name, version="0.0.1", uid=str(uuid.uuid4()),
        created=datetime.now(UTC).isoformat(timespec="seconds"), git_commit="",
        protocol=protocol or default_protocol().to_dict(),
        input={"names": dict(mf.INPUT_NAMES), "shape": {"images": ["N", N_SLOTS, size, size],
                                                        "mask": ["N", N_SLOTS]},
               "dtype": "float32", "normalization": {"mean": spec.mean, "std": spec.std}, "size": size,
               "preprocess_version": preprocess_version or PREPROCESS_VERSION},
        output={"name": mf.OUTPUT_NAME, "shape": ["N", 3], "classes": list(mf.CLASSES)},
        classes=mf.CLASSES, threshold=None if thresholds else threshold, thresholds=dict(thresholds or {}),
        training={"how": "test package: random weights, not trained", "device": "none"}, metrics=[],
        quantization=mf.Quantization(calibration={"n_cases": n_cal, "source": "random normal test inputs"},
                                     agreement_with_fp32=1.0),
        files=files, fusion=fusion,
    )
    return mf.write_manifest(manifest, folder / mf.MANIFEST_NAME)
