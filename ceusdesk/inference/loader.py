"""Model package loading: verify everything, then create one ONNX Runtime session per package.

Checks, in this order, all BEFORE a session exists (a refused package never reaches ONNX Runtime):
manifest shape and value ranges → the manifest's pin (:mod:`ceusdesk.model_package.pins`) → every present
file's sha256 (files inside the package only) → preprocess version → classes → protocol. Once the
session exists, its graph's input and output shapes are compared with the manifest's. Each failure
raises :class:`~ceusdesk.base.errors.ModelRefused` whose message names the manifest and the failed check.
"""
from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as _ort_state

from ceusdesk.base.classes import CLASSES
from ceusdesk.base.errors import ModelRefused
from ceusdesk.base.protocol import Protocol, default_protocol
from ceusdesk.inference.preprocess import PREPROCESS_VERSION, InputSpec
from ceusdesk.model_package.checks import ManifestValueError, check_graph_inputs
from ceusdesk.model_package.manifest import (
    Manifest,
    file_path,
    load_manifest,
    manifest_path_of,
    read_manifest,
    verify_files,
)
from ceusdesk.model_package.pins import check_pin

log = logging.getLogger(__name__)

# what ONNX Runtime raises for a file it cannot load (its classes derive from Exception directly)
ORT_LOAD_ERRORS = (
    _ort_state.Fail, _ort_state.InvalidGraph, _ort_state.InvalidProtobuf, _ort_state.NoSuchFile,
    _ort_state.InvalidArgument, _ort_state.NotImplemented, _ort_state.RuntimeException, RuntimeError,
)


@dataclass(frozen=True)
class LoadedModel:
    """A verified model package and its session (shared: ``run`` is thread-safe in ONNX Runtime)."""

    manifest_path: Path
    manifest: Manifest
    protocol: Protocol
    spec: InputSpec
    variant: str  # "int8" (default) or "fp32"
    session: ort.InferenceSession
    images_name: str
    mask_name: str
    output_name: str
    load_ms: float
    manifest_sha256: str = ""  # canonical sha256 of the manifest's content (ceusdesk.model_package.manifest)
    manifest_pinned: bool = False  # matched this app's pinned record (ceusdesk.model_package.pins)

    @property
    def sha256(self) -> str:
        """sha256 of the ONNX file this session runs."""
        return self.manifest.files[self.variant].sha256

    def provenance(self) -> dict[str, Any]:
        m = self.manifest
        return {"name": m.name, "version": m.version, "uid": m.uid, "sha256": self.sha256,
                "manifest_sha256": self.manifest_sha256, "manifest_pinned": self.manifest_pinned}


def _protocol_shape(p: Protocol) -> dict[str, Any]:
    d = p.to_dict()
    d.pop("description", None)  # wording may differ; slots, windows, branches and sets may not
    return d


def check_manifest(manifest_path: Path, manifest: Manifest, expected: Protocol) -> tuple[Protocol, InputSpec]:
    """The non-file checks; returns the package's protocol and input spec."""
    where = manifest_path
    if manifest.preprocess_version != PREPROCESS_VERSION:
        raise ModelRefused(
            f"{where}: preprocess version check failed: the package was built with preprocess version "
            f"{manifest.preprocess_version!r}, this ceusdesk uses {PREPROCESS_VERSION!r} - use a package "
            "exported for this version"
        )
    if tuple(manifest.classes) != CLASSES:
        raise ModelRefused(f"{where}: classes check failed: {list(manifest.classes)}, "
                           f"expected {list(CLASSES)}")
    try:
        protocol = Protocol.from_dict(manifest.protocol)
    except ValueError as err:
        raise ModelRefused(f"{where}: protocol check failed: {err}") from err
    if _protocol_shape(protocol) != _protocol_shape(expected):
        raise ModelRefused(
            f"{where}: protocol check failed: the package was trained with protocol {protocol.name!r} "
            f"(slots {', '.join(protocol.slot_names)}), this study uses {expected.name!r} "
            f"(slots {', '.join(expected.slot_names)})"
        )
    try:
        spec = InputSpec(
            size=int(manifest.input["size"]),
            mean=float(manifest.input.get("mean", manifest.input["normalization"]["mean"])),
            std=float(manifest.input.get("std", manifest.input["normalization"]["std"])),
            preprocess_version=manifest.preprocess_version,
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ModelRefused(f"{where}: input spec check failed: {err!r}") from err
    return protocol, spec


def load_model(
    manifest_path: str | Path, *, protocol: Protocol | None = None, variant: str = "int8",
    threads: int | None = None,
) -> LoadedModel:
    """Verify the package at ``manifest_path`` (a manifest.json or its folder) and create its session.

    ``protocol`` is the protocol the app reads studies with (default: the bundled one); the package's
    must equal it. Use :func:`get_model` to reuse one session per process.
    """
    from ceusdesk.inference.runtime import make_session  # ORT session options live in one place

    t0 = time.perf_counter()
    path = manifest_path_of(manifest_path)
    manifest, manifest_sha256 = load_manifest(path)
    pinned = check_pin(path, manifest.name, manifest_sha256, must_be_pinned=_is_bundled(path))
    if variant not in manifest.files:
        raise ModelRefused(f"{path}: the package has no {variant!r} model file")
    verify_files(path, manifest)
    model_file = file_path(path, manifest.files[variant])
    if not model_file.is_file():
        raise ModelRefused(f"{model_file}: model file {variant!r} is not in this package")
    pkg_protocol, spec = check_manifest(path, manifest, protocol or default_protocol())

    try:
        session = make_session(model_file, threads=threads)
    except ORT_LOAD_ERRORS as err:
        raise ModelRefused(f"{model_file}: ONNX Runtime cannot load this model "
                           f"({type(err).__name__})") from err
    names = manifest.input["names"]
    have = {i.name for i in session.get_inputs()}
    want = {str(names["images"]), str(names["mask"])}
    if not want <= have:
        raise ModelRefused(f"{model_file}: inputs check failed: model inputs {sorted(have)}, manifest "
                           f"names {sorted(want)}")
    output = str(manifest.output.get("name", "probabilities"))
    if output not in {o.name for o in session.get_outputs()}:
        output = session.get_outputs()[0].name  # design.md: the first output is the probabilities
    try:
        check_graph_inputs(session.get_inputs(), session.get_outputs(), names, output, spec.size,
                           len(pkg_protocol.slot_names))
    except ManifestValueError as err:
        raise ModelRefused(f"{path}: model manifest refused: {err}") from err
    load_ms = (time.perf_counter() - t0) * 1000.0
    log.info("model %s %s loaded (%s, %.0f ms)", manifest.name, manifest.version, variant, load_ms)
    return LoadedModel(
        manifest_path=path, manifest=manifest, protocol=pkg_protocol, spec=spec, variant=variant,
        session=session, images_name=str(names["images"]), mask_name=str(names["mask"]),
        output_name=output, load_ms=load_ms, manifest_sha256=manifest_sha256, manifest_pinned=pinned,
    )


def _is_bundled(path: Path) -> bool:
    """A frozen bundle's own package (its internal exports/) must be pinned (ceusdesk.model_package.pins)."""
    if not getattr(sys, "frozen", False):
        return False
    from ceusdesk.model_package.resolve import exports_dir

    try:
        return path.resolve().is_relative_to(exports_dir().resolve())
    except OSError:
        return False


_cache: dict[tuple, LoadedModel] = {}
_cache_lock = threading.Lock()


def _stamp(path: Path) -> tuple:
    """Identity of the package on disk: a changed file (any listed one) means verify again."""
    try:
        manifest = read_manifest(path)
    except ModelRefused:
        return (str(path), None)
    stamps: list[tuple[str, int | None, int | None]] = []
    for entry in [*manifest.files.values()]:
        try:
            f = file_path(path, entry)
            st = f.stat()
            stamps.append((str(f), st.st_size, st.st_mtime_ns))
        except (OSError, ModelRefused):
            stamps.append((entry.path, None, None))
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns, tuple(stamps))


def get_model(
    manifest_path: str | Path, *, protocol: Protocol | None = None, variant: str = "int8",
    threads: int | None = None,
) -> LoadedModel:
    """:func:`load_model`, once per process for a package unchanged on disk (one session reused)."""
    path = manifest_path_of(manifest_path)
    if not path.is_file():
        read_manifest(path)  # raises ModelRefused with the usual message
    p = protocol or default_protocol()
    key = (_stamp(path), variant, threads, repr(_protocol_shape(p)))
    with _cache_lock:
        model = _cache.get(key)
        if model is None:
            model = load_model(path, protocol=p, variant=variant, threads=threads)
            _cache.clear()  # one package in use at a time: drop the previous session's memory
            _cache[key] = model
        return model
