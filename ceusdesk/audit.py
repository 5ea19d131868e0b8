"""Append-only audit log: one JSON line per analysis, in the user's data folder.

Each record is appended with a single ``write`` on a descriptor opened with ``O_APPEND`` and then
``fsync``-ed, so concurrent writers (the app and a CLI run) never interleave half lines and a crash
loses at most the line being written. Patient ids are stored as salted hashes; names never.
The folder resolves CLI argument → ``CEUSDESK_DATA_DIR`` → the platform's user data folder.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from platformdirs import user_data_path

log = logging.getLogger(__name__)

LOG_NAME = "audit.jsonl"
SALT_NAME = "audit-salt"
ENV_DATA_DIR = "CEUSDESK_DATA_DIR"


def data_dir(path: str | Path | None = None) -> Path:
    """The folder for the audit log and its salt (created on demand)."""
    if path is None:
        env = os.environ.get(ENV_DATA_DIR)
        path = Path(env) if env else user_data_path("ceusdesk", appauthor=False)
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def audit_log_path(folder: str | Path | None = None) -> Path:
    return data_dir(folder) / LOG_NAME


def _salt(folder: Path) -> bytes:
    """A per-installation random salt, made once; without it a hash of a short id is guessable."""
    path = folder / SALT_NAME
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    salt = secrets.token_hex(16).encode("ascii")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_bytes()
    with os.fdopen(fd, "wb") as fh:
        fh.write(salt)
        fh.flush()
        os.fsync(fh.fileno())
    return salt


def hash_id(value: str | None, folder: str | Path | None = None) -> str | None:
    """Salted SHA-256 of an identifier (first 16 hex digits); None stays None."""
    if value is None or str(value).strip() == "":
        return None
    digest = hashlib.sha256(_salt(data_dir(folder)) + str(value).strip().encode("utf-8"))
    return digest.hexdigest()[:16]


def append_record(record: Mapping[str, Any], folder: str | Path | None = None) -> Path:
    """Append one record to the audit log (see :func:`append_jsonl`). Returns the log path."""
    return append_jsonl(audit_log_path(folder), record)


def append_jsonl(path: str | Path, record: Mapping[str, Any]) -> Path:
    """Append one record as one JSON line (O_APPEND, one write, fsync)."""
    path = Path(path)
    line = (json.dumps(dict(record), ensure_ascii=False, sort_keys=True, default=str) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        written = os.write(fd, line)
        if written != len(line):  # a short write on a regular file means a full disk
            raise OSError(f"{path}: audit record truncated ({written} of {len(line)} bytes written)")
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def analysis_record(
    result: Mapping[str, Any],
    *,
    patient_id: str | None,
    study_path: str | Path | None,
    roi: Sequence[int] | None,
    source: str,
    report: str | Path | None = None,
    folder: str | Path | None = None,
) -> dict[str, Any]:
    """The audit record of one analysis: hashes for patient and study, model provenance, outcome."""
    model = dict(result.get("model") or {})
    return {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "event": "analysis",
        "source": source,  # "app" | "cli"
        "patient": hash_id(patient_id, folder),
        # folder names often hold the patient's name: keep only a hash of the path
        "study": hash_id(str(Path(study_path).resolve()) if study_path else None, folder),
        "roi": list(roi) if roi is not None else None,
        "phase_set": result.get("phase_set"),
        "call": result.get("call"),
        "malignant_probability": result.get("malignant_probability"),
        "probabilities": result.get("probabilities"),
        "model": {k: model.get(k) for k in ("name", "version", "uid", "sha256")},
        "report": hash_id(str(Path(report).resolve()), folder) if report else None,
    }


def log_analysis(result: Mapping[str, Any], **kwargs: Any) -> Path:
    """Build :func:`analysis_record` and append it; returns the log path."""
    folder = kwargs.get("folder")
    path = append_record(analysis_record(result, **kwargs), folder)
    log.info("analysis recorded in the audit log %s", path)
    return path


def read_records(folder: str | Path | None = None) -> list[dict[str, Any]]:
    """All records of the log (empty when there is none yet)."""
    path = audit_log_path(folder)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
