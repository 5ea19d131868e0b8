"""Static int8 quantization of the exported fp32 ONNX graph (ONNX Runtime, QDQ format).

Activations QUInt8, weights QInt8 per channel (U8S8: the S8S8 default ran about 3x slower on these
graphs), MinMax calibration on real training cases fed in chunks. The node that produces the logits and
everything after it (Softmax) stay float, so probabilities are unrounded and sum to 1.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quant_pre_process,
    quantize_static,
)

log = logging.getLogger(__name__)

Chunk = tuple[np.ndarray, np.ndarray]  # images [n, slots, S, S] float32, mask [n, slots] float32

# ops whose compute dominates (convolutions, matrix products) plus the cheap ones between them that
# ORT fuses into its int8 kernels (residual Add, pooling); Softmax is never in this list
QUANTIZED_OPS = ("Conv", "Gemm", "MatMul", "Add", "Relu", "MaxPool", "GlobalAveragePool")


class ChunkReader(CalibrationDataReader):
    """Feeds calibration chunks to ORT one at a time, so only one chunk is in memory."""

    def __init__(self, chunks: Iterable[Chunk], input_names: tuple[str, str] = ("images", "mask")):
        self._chunks: Iterator[Chunk] = iter(chunks)
        self._names = input_names
        self.n_cases = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        chunk = next(self._chunks, None)
        if chunk is None:
            return None
        images, mask = chunk
        self.n_cases += len(images)
        return {self._names[0]: np.ascontiguousarray(images, dtype=np.float32),
                self._names[1]: np.ascontiguousarray(mask, dtype=np.float32)}


def logits_nodes(model: onnx.ModelProto, output: str = "probabilities") -> list[str]:
    """Names of the nodes from the logits producer to ``output`` (kept float in the int8 graph)."""
    producer = {o: n for n in model.graph.node for o in n.output}
    node = producer.get(output)
    if node is None:
        raise ValueError(f"the graph has no output {output!r}")
    keep = []
    while node is not None:
        keep.append(node)
        if node.op_type in ("Gemm", "MatMul"):  # the classifier's last layer produces the logits
            break
        node = producer.get(node.input[0])
    else:
        raise ValueError(f"no Gemm/MatMul found upstream of {output!r}: cannot locate the logits")
    for n in keep:
        if not n.name:
            raise ValueError(f"unnamed {n.op_type} node before {output!r}: cannot keep it float")
    return [n.name for n in keep]


# MinMax keeps every activation in range; with low-confidence models its wide ranges can flip close
# calls, and percentile (clip the rarest 0.001 %) or entropy ranges keep more resolution where data lies
CALIBRATION_METHODS = {
    "minmax": CalibrationMethod.MinMax,
    "percentile": CalibrationMethod.Percentile,
    "entropy": CalibrationMethod.Entropy,
}
PERCENTILE = 99.999


def quantize_int8(fp32_path: str | Path, int8_path: str | Path, chunks: Iterable[Chunk],
                  reduce_range: bool = False, work_dir: str | Path | None = None,
                  progress: Callable[[int], None] | None = None, symbolic_shapes: bool = True,
                  calibrate_method: str = "minmax", keep_float: Sequence[str] = ()) -> int:
    """``quant_pre_process`` then static QDQ quantization; returns the number of calibration cases.

    ``chunks`` yields (images, mask) batches, read lazily: MinMax calibration keeps only each tensor's
    ReduceMin/ReduceMax per chunk, so memory stays about one chunk deep. (Do not set
    ``CalibMaxIntermediateOutputs``: ORT 1.32 clears the collected ranges without merging them.)
    """
    fp32_path, int8_path = Path(fp32_path), Path(int8_path)
    work = Path(work_dir) if work_dir else int8_path.parent
    prep = work / (fp32_path.stem + ".prep.onnx")
    try:
        # symbolic shape inference lives in onnxruntime.tools, whose import pulls in torch when it is
        # installed; graphs with only the batch dimension symbolic do not need it (tiny test packages)
        quant_pre_process(str(fp32_path), str(prep), skip_symbolic_shape=not symbolic_shapes)
        graph = onnx.load(str(prep), load_external_data=False)
        keep_float = logits_nodes(graph) + float_by_choice(graph, keep_float)
        reader = ChunkReader(chunks if progress is None else _counting(chunks, progress))
        quantize_static(
            str(prep), str(int8_path), reader,
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=list(QUANTIZED_OPS),
            per_channel=True,
            reduce_range=reduce_range,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=keep_float,
            calibrate_method=CALIBRATION_METHODS[calibrate_method],
            # percentile: activation ranges ignore the rarest outliers (histograms merge across chunks)
            extra_options={"CalibPercentile": PERCENTILE} if calibrate_method == "percentile" else None,
        )
    finally:
        prep.unlink(missing_ok=True)
    if reader.n_cases == 0:
        raise ValueError("no calibration cases were given")
    log.info("int8 model: %s (%d calibration cases, reduce_range=%s, %s ranges, float: logits%s)",
             int8_path.name, reader.n_cases, reduce_range, calibrate_method,
             "".join(f", {g}" for g in keep_float))
    return reader.n_cases


# Named groups of layers an export may keep in float (``--keep-float``): the first convolution of each
# branch sees the raw normalized image and layer1 follows it at full resolution; the head mixes the three
# branches just before the logits. They are a small share of the compute and the most sensitive to 8-bit
# ranges when a model's calls are close (measured: docs/export.md).
KEEP_FLOAT_GROUPS = {
    "stem": r"/branches\.\d+/conv1/Conv$",
    "layer1": r"/branches\.\d+/layer1/.*Conv$",
    "head": r"/head/.*(Gemm|MatMul)$",
}


def float_by_choice(graph: onnx.ModelProto, groups: Sequence[str]) -> list[str]:
    """Names of the nodes of ``groups`` (keys of :data:`KEEP_FLOAT_GROUPS`) in ``graph``."""
    unknown = set(groups) - set(KEEP_FLOAT_GROUPS)
    if unknown:
        raise ValueError(f"unknown --keep-float group(s) {sorted(unknown)}: "
                         f"choose from {sorted(KEEP_FLOAT_GROUPS)}")
    pats = [re.compile(KEEP_FLOAT_GROUPS[g]) for g in groups]
    return [n.name for n in graph.graph.node if any(p.search(n.name) for p in pats)]


def _counting(chunks: Iterable[Chunk], progress: Callable[[int], None]) -> Iterator[Chunk]:
    done = 0
    for images, mask in chunks:
        done += len(images)
        yield images, mask
        progress(done)
