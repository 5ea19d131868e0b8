"""A tiny model package built with onnx.helper (no torch), for inference tests.

Stand-in until ``tests/tiny_package.py`` (issue 5) lands. The graph: per-slot mean brightness × mask
and the mask itself → a 18×3 linear layer → Softmax, so every slot and the mask change the output.
"""
from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from ceusdesk.manifest import (
    CLASSES,
    INPUT_NAMES,
    OUTPUT_NAME,
    FileEntry,
    Manifest,
    Quantization,
    write_manifest,
)
from ceusdesk.preprocess import PREPROCESS_VERSION, InputSpec
from ceusdesk.protocol import default_protocol


def tiny_onnx(path: Path, n_slots: int = 9, size: int = 32, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 1.0, size=(2 * n_slots, 3)).astype(np.float32)
    b = np.array([0.2, -0.1, 0.0], dtype=np.float32)
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["m"], axes=[2, 3], keepdims=0),
        helper.make_node("Mul", ["m", "mask"], ["mm"]),
        helper.make_node("Concat", ["mm", "mask"], ["f"], axis=1),
        helper.make_node("MatMul", ["f", "W"], ["z"]),
        helper.make_node("Add", ["z", "b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], [OUTPUT_NAME], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["N", n_slots, size, size]),
         helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["N", n_slots])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N", 3])],
        initializer=[helper.make_tensor("W", TensorProto.FLOAT, w.shape, w.flatten()),
                     helper.make_tensor("b", TensorProto.FLOAT, b.shape, b)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def make_package(folder: Path, size: int = 32, threshold: float = 0.5, preprocess_version: str | None = None,
                 protocol: dict | None = None) -> Path:
    """Write a package (model.int8.onnx + manifest.json) into ``folder``; returns the manifest path."""
    folder.mkdir(parents=True, exist_ok=True)
    tiny_onnx(folder / "model.int8.onnx", size=size)
    spec = InputSpec(size=size)
    manifest = Manifest(
        name="tiny-test", version="0.0.1", uid=str(uuid.uuid4()), created="2025-01-01T00:00:00Z",
        git_commit="", protocol=protocol or default_protocol().to_dict(),
        input={"names": dict(INPUT_NAMES), "shape": [None, 9, size, size], "dtype": "float32",
               "normalization": {"mean": spec.mean, "std": spec.std}, "size": size, "mean": spec.mean,
               "std": spec.std, "preprocess_version": preprocess_version or PREPROCESS_VERSION},
        output={"name": OUTPUT_NAME, "shape": [None, 3]}, classes=CLASSES, threshold=threshold,
        training={"note": "test package, not trained"}, metrics=[], quantization=Quantization(),
        files={"int8": FileEntry.for_file(folder, "model.int8.onnx")},
    )
    return write_manifest(manifest, folder / "manifest.json")
