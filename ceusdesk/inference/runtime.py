"""ONNX Runtime session creation: THE one place session options are chosen (app, export, benchmarks).

Options (measured in docs/export.md): full graph optimization (constant folding, Conv+BN/Add/ReLU
fusion, QDQ → QLinearConv), intra-op threads = physical cores (hyper-threads share the vector units
that int8 convolutions saturate, so extra threads only add contention), sequential execution (the graph
is one chain per branch; parallel execution adds inter-op threads that fight the intra-op pool).

The int8 packages are U8S8 (activations uint8, weights int8). On x86 CPUs without VNNI, MLAS computes
U8S8 with VPMADDUBSW, whose int16 intermediate can saturate; ONNX Runtime's documented remedy is
``reduce_range`` (7-bit weights) at quantization time. :func:`has_vnni` tells the exporter which case it
is measuring, and the package records the choice (``quantization.reduce_range``).
"""
from __future__ import annotations

import logging
import os
import platform
from functools import cache
from pathlib import Path

import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as _ort_state

ORT_ERRORS: tuple[type[Exception], ...] = tuple(
    v for v in vars(_ort_state).values() if isinstance(v, type) and issubclass(v, Exception))
"""What ONNX Runtime raises when a model fails at run time (its own classes, not RuntimeError)."""

# No telemetry events from any session. This alone does not stop ORT's 1DS uploader from contacting
# *.events.data.microsoft.com: ceusdesk/__init__.py does that (tests/test_offline.py traces every socket).
ort.disable_telemetry_events()

log = logging.getLogger(__name__)

_CPUINFO = Path("/proc/cpuinfo")


@cache
def cpu_flags() -> frozenset[str]:
    """x86 feature flags from /proc/cpuinfo (Linux); empty where they cannot be read."""
    try:
        text = _CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def has_vnni() -> bool | None:
    """True when the CPU has AVX512-VNNI or AVX-VNNI (int8 dot products in one instruction);
    None when unknown (no /proc/cpuinfo, e.g. Windows)."""
    flags = cpu_flags()
    if not flags:
        return None
    return bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8"})


@cache
def physical_cores() -> int | None:
    """Number of physical cores (Linux: distinct (physical id, core id) pairs); None when unknown."""
    try:
        text = _CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    cores: set[tuple[str, str]] = set()
    phys = core = None
    for line in text.splitlines() + [""]:
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key == "physical id":
            phys = value
        elif key == "core id":
            core = value
        elif not key:
            if core is not None:
                cores.add((phys or "0", core))
            phys = core = None
    if cores:
        return len(cores)
    return os.cpu_count()


def session_options(threads: int | None = None) -> ort.SessionOptions:
    """Session options for CPU inference; ``threads`` None → physical cores.

    Where the core count is unknown (e.g. Windows) the intra-op pool is left at 0, for which ONNX
    Runtime itself picks the number of physical cores.
    """
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    n = threads if threads is not None else physical_cores()
    opts.intra_op_num_threads = int(n or 0)
    opts.inter_op_num_threads = 1
    # fatal only: ORT's warnings about unused initializers are noise here, and a run-time error is
    # raised to ceusdesk, which says it in one line (ORT would also print it, in colour, to stderr)
    opts.log_severity_level = 4
    return opts


def make_session(path: str | Path, threads: int | None = None) -> ort.InferenceSession:
    """An ONNX Runtime CPU session for the model at ``path`` with :func:`session_options`."""
    opts = session_options(threads)
    log.debug("ORT session: %s threads=%s vnni=%s machine=%s", Path(path).name, opts.intra_op_num_threads,
              has_vnni(), platform.machine())
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
