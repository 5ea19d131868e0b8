"""The model package manifest (``exports/NAME/manifest.json``): schema, reading, writing, file hashes.

Shared by the trainer (``trainer.export`` writes packages) and the app (``ceusdesk.inference`` reads
them and verifies every hash and the preprocess version before creating a session). Torch- and Qt-free.

Reading checks the *shape* of the document (required keys, types, schema version) and every value's
range (:mod:`ceusdesk.model_package.checks`) and raises :class:`~ceusdesk.base.errors.ModelRefused` with a
one-line
message naming the file and the field; whether the package's files match their hashes is checked by
:func:`verify_files` (the loader calls it). :func:`canonical_sha256` fingerprints the manifest's content
(the app reports it and checks it against :mod:`ceusdesk.model_package.pins`).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import stat
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ceusdesk.base.atomicio import write_atomic
from ceusdesk.base.classes import CLASSES
from ceusdesk.base.errors import ModelRefused
from ceusdesk.model_package import checks as checks
from ceusdesk.model_package.fusion import Fusion

MANIFEST_SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
MAX_MANIFEST_BYTES = 8 << 20  # manifests are a few kB; anything near this is not one
OUTPUT_NAME = "probabilities"
INPUT_NAMES = {"images": "images", "mask": "mask"}
RESEARCH_USE_ONLY = (
    "Research use only. Not a medical device; not for diagnosis or treatment decisions. "
    "Results must be reviewed by a qualified physician."
)


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class FileEntry:
    """One file of the package; ``path`` is relative to the manifest's folder (POSIX separators)."""

    path: str
    sha256: str
    in_repo: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "in_repo": self.in_repo}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], key: str = "?") -> FileEntry:
        entry = cls(path=str(d["path"]), sha256=str(d["sha256"]).lower(),
                    in_repo=bool(d.get("in_repo", True)))
        checks.check_relative_path(entry.path, f"files.{key}.path")
        checks.check_sha256(entry.sha256, f"files.{key}.sha256")
        return entry

    @classmethod
    def for_file(cls, package_dir: str | Path, path: str | Path, in_repo: bool = True) -> FileEntry:
        """Entry for ``path`` (inside ``package_dir``) with its sha256 computed now."""
        package_dir, path = Path(package_dir), Path(path)
        full = path if path.is_absolute() else package_dir / path
        rel = full.resolve().relative_to(package_dir.resolve()).as_posix()
        return cls(path=rel, sha256=sha256_file(full), in_repo=in_repo)


@dataclass(frozen=True)
class Quantization:
    format: str = "QDQ"
    activations: str = "QUInt8"
    weights: str = "QInt8"
    per_channel: bool = True
    reduce_range: bool = False
    calibration: dict[str, Any] = field(default_factory=dict)  # {n_cases, source, [note]}
    agreement_with_fp32: float = 0.0  # top-1 agreement on held-out cases, 0–1
    mean_abs_delta_malignant: float = 0.0
    max_abs_delta: float = 0.0
    n_compared: int = 0
    forced: bool = False
    comparison: dict[str, Any] = field(default_factory=dict)  # details: per input kind, torch vs ORT, CPU

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Quantization:
        return cls(
            format=str(d["format"]), activations=str(d["activations"]), weights=str(d["weights"]),
            per_channel=bool(d["per_channel"]), reduce_range=bool(d.get("reduce_range", False)),
            calibration=dict(d.get("calibration", {})),
            agreement_with_fp32=float(d["agreement_with_fp32"]),
            mean_abs_delta_malignant=float(d.get("mean_abs_delta_malignant", 0.0)),
            max_abs_delta=float(d.get("max_abs_delta", 0.0)), n_compared=int(d.get("n_compared", 0)),
            forced=bool(d.get("forced", False)), comparison=dict(d.get("comparison", {})),
        )


@dataclass(frozen=True)
class Manifest:
    """A model package's manifest. ``input`` holds names, shape, dtype, normalization, size and
    preprocess_version; ``protocol`` is :meth:`ceusdesk.base.protocol.Protocol.to_dict`; ``files`` maps
    ``int8`` (required) and ``fp32`` (optional) to :class:`FileEntry`."""

    name: str
    version: str
    uid: str
    created: str  # UTC ISO 8601
    git_commit: str
    protocol: dict[str, Any]
    input: dict[str, Any]
    output: dict[str, Any]
    classes: tuple[str, ...]
    # operating threshold on the malignant probability (hcc + non_hcc_malignant); older packages have
    # only this one; current ones have ``thresholds`` per phase set (and may keep this for old readers)
    threshold: float | None
    training: dict[str, Any]
    metrics: list[dict[str, Any]]
    quantization: Quantization
    files: dict[str, FileEntry]
    research_use_only: str = RESEARCH_USE_ONLY
    schema_version: int = MANIFEST_SCHEMA_VERSION
    thresholds: dict[str, float] = field(default_factory=dict)  # {"early": t, "full": t}
    # the late fusion with the measured evidence (model_package.fusion); None: the CNN's call only
    fusion: dict[str, Any] | None = None

    def fusion_model(self) -> Fusion | None:
        """The parsed ``fusion`` block (ModelRefused when malformed), None without one."""
        return None if self.fusion is None else Fusion.from_dict(self.fusion)

    def threshold_for(self, phase_set: str) -> tuple[float, str]:
        """The operating threshold for a classification of ``phase_set`` and where it comes from:
        ``thresholds.<set>``, or ``threshold`` (an older package: one threshold for both sets)."""
        if self.thresholds:
            return float(self.thresholds[phase_set]), f"thresholds.{phase_set}"
        if self.threshold is None:
            raise ModelRefused(f"model {self.name}: the manifest has no operating threshold")
        return float(self.threshold), "threshold"

    @property
    def preprocess_version(self) -> str:
        return str(self.input["preprocess_version"])

    @property
    def input_size(self) -> int:
        return int(self.input["size"])

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["classes"] = list(self.classes)
        d["quantization"] = self.quantization.to_dict()
        d["files"] = {k: v.to_dict() for k, v in self.files.items()}
        if self.threshold is None:
            del d["threshold"]
        if not self.thresholds:
            del d["thresholds"]
        if self.fusion is None:
            del d["fusion"]
        return d

    def check_values(self) -> None:
        """Range-check every value the app relies on (raises ``manifest_checks.ManifestValueError``)."""
        checks.check_thresholds(self.threshold, self.thresholds)
        checks.check_classes(self.classes)
        checks.check_classes(self.output.get("classes", CLASSES), "output.classes")
        n_slots = len(self.protocol.get("slots") or [])
        if n_slots < 1:
            raise checks.ManifestValueError("protocol.slots", "is empty")
        checks.check_input(self.input, n_slots)
        if str(self.input["preprocess_version"]).strip() == "":
            raise checks.ManifestValueError("input.preprocess_version", "is empty")
        if "int8" not in self.files:
            raise checks.ManifestValueError("files.int8", "is missing; an int8 model is required")
        self.fusion_model()

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Manifest:
        version = int(d.get("schema_version", 0))
        if version != MANIFEST_SCHEMA_VERSION:
            raise ValueError(f"schema_version {version}, this ceusdesk reads {MANIFEST_SCHEMA_VERSION}")
        for key in ("images", "mask"):
            if key not in d["input"]["names"]:
                raise ValueError(f"input.names lacks {key!r}")
        for key in ("size", "preprocess_version", "normalization", "shape", "dtype"):
            if key not in d["input"]:
                raise ValueError(f"input lacks {key!r}")
        files = {str(k): FileEntry.from_dict(v, str(k)) for k, v in d["files"].items()}
        if "int8" not in files:
            raise ValueError("files lacks the required 'int8' entry")
        if "threshold" not in d and "thresholds" not in d:
            raise ValueError("missing key 'threshold' (or 'thresholds' {early, full})")
        threshold = d.get("threshold")
        thresholds = d.get("thresholds") or {}
        if not isinstance(thresholds, Mapping):
            raise checks.ManifestValueError("thresholds", "must be an object {early, full}")
        return cls(
            name=str(d["name"]), version=str(d["version"]), uid=str(d["uid"]), created=str(d["created"]),
            git_commit=str(d.get("git_commit", "")), protocol=dict(d["protocol"]), input=dict(d["input"]),
            output=dict(d["output"]), classes=tuple(str(c) for c in d["classes"]),
            threshold=None if threshold is None else _plain_number(threshold, "threshold"),
            thresholds={str(k): _plain_number(v, f"thresholds.{k}") for k, v in thresholds.items()},
            training=dict(d.get("training", {})),
            metrics=list(d.get("metrics", [])), quantization=Quantization.from_dict(d["quantization"]),
            files=files, research_use_only=str(d["research_use_only"]), schema_version=version,
            fusion=_fusion_block(d.get("fusion")),
        )


def _fusion_block(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise checks.ManifestValueError("fusion", "must be an object (model_package/fusion.py)")
    return dict(value)


def _plain_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise checks.ManifestValueError(name, f"is {value!r}, not a number")
    return float(value)


def canonical_json(doc: Mapping[str, Any]) -> bytes:
    """The manifest's content in one canonical byte form (sorted keys, no whitespace, UTF-8)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def canonical_sha256(doc: Mapping[str, Any]) -> str:
    """sha256 of :func:`canonical_json`: the same for any formatting of the same parsed manifest."""
    return hashlib.sha256(canonical_json(doc)).hexdigest()


def manifest_path_of(path: str | Path) -> Path:
    """A manifest.json, or a package folder's manifest.json."""
    path = Path(path)
    return path / MANIFEST_NAME if path.is_dir() else path


def read_manifest(path: str | Path) -> Manifest:
    """Read and shape-check a manifest; a folder means its ``manifest.json``.

    Raises :class:`ModelRefused` (one line, naming the file) when it is missing or malformed.
    """
    return load_manifest(path)[0]


def _read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; a FIFO, device or huge file is an OSError
    (opened non-blocking, so a FIFO named manifest.json cannot hang the app)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"not a regular file (mode {stat.filemode(st.st_mode)})")
        if st.st_size > limit:
            raise OSError(f"{st.st_size} bytes; a manifest is at most {limit}")
        return fh.read(limit + 1)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        twice = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"key(s) {', '.join(map(repr, twice))} given twice (which one counts is undefined)")
    return dict(pairs)


def strict_json(text: str) -> Any:
    """The manifest's JSON: no key given twice (ValueError; json would keep the last silently), integers
    as Python takes them (5,000 digits: ValueError). Non-finite numbers (NaN, 1e309) parse, for
    :func:`check_finite` to name their field."""
    return json.loads(text, object_pairs_hook=_unique_keys)


def check_finite(doc: Any, where: str = "") -> None:
    """Every number in the manifest is finite, whichever field it is in (ManifestValueError naming it)."""
    if isinstance(doc, float) and not math.isfinite(doc):
        raise checks.ManifestValueError(where or "(top)", f"must be a finite number (got {doc})")
    if isinstance(doc, dict):
        for key, value in doc.items():
            check_finite(value, f"{where}.{key}" if where else str(key))
    elif isinstance(doc, list):
        for value in doc:
            check_finite(value, where)


def load_manifest(path: str | Path) -> tuple[Manifest, str]:
    """:func:`read_manifest` plus the :func:`canonical_sha256` of the document as read."""
    path = manifest_path_of(path)
    try:
        doc = strict_json(_read_regular(path, MAX_MANIFEST_BYTES).decode("utf-8"))
    except FileNotFoundError as err:
        raise ModelRefused(f"{path}: no model manifest there - pass --model with a package's manifest.json") \
            from err
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as err:  # JSONDecodeError included
        raise ModelRefused(f"{path}: unreadable model manifest ({type(err).__name__}: "
                           f"{str(err)[:200]})") from err
    if not isinstance(doc, dict):
        raise ModelRefused(f"{path}: a model manifest must be a JSON object")
    try:
        check_finite(doc)
        manifest = Manifest.from_dict(doc)
        manifest.check_values()
    except checks.ManifestValueError as err:
        raise ModelRefused(f"{path}: model manifest refused: {err} - fix or re-export the package") from err
    except KeyError as err:
        raise ModelRefused(f"{path}: malformed model manifest: missing key {err}") from err
    except (TypeError, ValueError, AttributeError) as err:
        raise ModelRefused(f"{path}: malformed model manifest: {err}") from err
    return manifest, canonical_sha256(doc)


def write_manifest(manifest: Manifest, path: str | Path) -> Path:
    """Write ``manifest`` as JSON (atomically: a reader never sees half a file). Values are range-checked
    first (``ManifestValueError``): a package the app would refuse is never written."""
    manifest.check_values()
    path = manifest_path_of(path)
    doc = manifest.to_dict()
    if not all(math.isfinite(v) for v in _numbers(doc)):
        raise checks.ManifestValueError("(some field)", "holds NaN or Infinity; manifests are standard JSON")
    return write_atomic(path, json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def _numbers(obj: Any) -> list[float]:
    if isinstance(obj, float):
        return [obj]
    if isinstance(obj, Mapping):
        return [x for v in obj.values() for x in _numbers(v)]
    if isinstance(obj, (list, tuple)):
        return [x for v in obj for x in _numbers(v)]
    return []


def file_path(manifest_path: str | Path, entry: FileEntry) -> Path:
    """Absolute path of a package file (entries are relative to the manifest's folder).

    Raises :class:`ModelRefused` when the file, symbolic links followed, lies outside the package.
    """
    manifest_path = Path(manifest_path)
    base = manifest_path if manifest_path.is_dir() else manifest_path.parent
    full = base / entry.path
    try:
        inside = full.resolve().is_relative_to(base.resolve())
    except (OSError, RuntimeError) as err:  # a symlink loop
        raise ModelRefused(f"{full}: package file cannot be resolved ({err})") from err
    if not inside:
        raise ModelRefused(f"{full}: package file leads outside the package ({full.resolve()}); "
                           "files must lie inside the package folder - reinstall the package")
    return full


def verify_files(manifest_path: str | Path, manifest: Manifest) -> None:
    """Check every present file against its sha256; ``int8`` and any ``in_repo`` file must be present.

    Raises :class:`ModelRefused` naming the first file that is missing or does not match.
    """
    for key, entry in manifest.files.items():
        full = file_path(manifest_path, entry)
        if not full.is_file():
            if key != "int8" and not entry.in_repo:
                continue
            raise ModelRefused(f"{full}: model file '{key}' listed in the manifest is missing")
        digest = sha256_file(full)
        if digest != entry.sha256:
            raise ModelRefused(
                f"{full}: sha256 {digest[:12]}… does not match the manifest ({entry.sha256[:12]}…); "
                "the package was altered or damaged - reinstall it"
            )
