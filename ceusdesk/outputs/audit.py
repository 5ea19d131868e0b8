"""Append-only audit log: one JSON line per analysis, in the user's data folder.

Each record is appended with a single ``write`` on a descriptor opened with ``O_APPEND`` and then
``fsync``-ed, so concurrent writers (the app and a CLI run) never interleave half lines and a crash
loses at most the line being written. Patient ids are stored as salted hashes; names never.
The folder resolves CLI argument → ``CEUSDESK_DATA_DIR`` → the platform's user data folder.

The salt is created atomically: written and fsync-ed under a temporary name, then published with
``os.link`` (which fails if another process published first), so a reader sees either no salt or a
whole one — never an empty file to hash patient ids with. Where hard links are unsupported, the salt is
created with ``O_EXCL`` and a reader that finds it short waits briefly for it; a salt that stays
empty or damaged is an error (:class:`AuditSaltError`), never silently replaced (earlier hashes
depend on it). Records are written as ASCII JSON without NaN, so any name bytes (a folder name that
is not UTF-8) and any reader survive.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from platformdirs import user_data_path

log = logging.getLogger(__name__)

LOG_NAME = "audit.jsonl"
SALT_NAME = "audit-salt"
ENV_DATA_DIR = "CEUSDESK_DATA_DIR"
SALT_HEX_DIGITS = 32
SALT_WAIT_S = 2.0
"""How long a reader waits for a salt another process is still writing (non-atomic fallback only)."""


class AuditSaltError(OSError):
    """The audit salt exists but is empty or damaged: hashing with it would link nothing."""


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


def _valid_salt(raw: bytes) -> bytes | None:
    salt = raw.strip()
    if len(salt) == SALT_HEX_DIGITS and all(c in b"0123456789abcdef" for c in salt):
        return salt
    return None


def _publish_salt(path: Path) -> None:
    """Make a new salt at ``path`` unless one exists; readers only ever see a complete one."""
    salt = secrets.token_hex(SALT_HEX_DIGITS // 2).encode("ascii")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(salt)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # atomic publish; FileExistsError when another process won
        except FileExistsError:
            return
        except OSError as err:  # no hard links here (some network or FAT file systems)
            log.debug("audit salt: os.link unsupported (%s); creating it with O_EXCL", err)
            _create_exclusive(path, salt)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _create_exclusive(path: Path, salt: bytes) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as fh:
        fh.write(salt)
        fh.flush()
        os.fsync(fh.fileno())


def _salt(folder: Path) -> bytes:
    """A per-installation random salt, made once; without it a hash of a short id is guessable."""
    path = folder / SALT_NAME
    deadline = time.monotonic() + SALT_WAIT_S
    while True:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            _publish_salt(path)
            continue
        salt = _valid_salt(raw)
        if salt is not None:
            return salt
        if time.monotonic() >= deadline:
            raise AuditSaltError(
                f"{path}: the audit salt is empty or damaged ({len(raw)} bytes); patient ids are not "
                "hashed with it - restore it from a backup, or remove it to start a new salt (earlier "
                "records' hashes will then not match new ones)")
        time.sleep(0.02)  # a creator on a file system without hard links may be mid-write


def hash_id(value: str | None, folder: str | Path | None = None) -> str | None:
    """Salted SHA-256 of an identifier (first 16 hex digits); None stays None."""
    if value is None or str(value).strip() == "":
        return None
    # surrogateescape: a path from a file name that is not valid UTF-8 hashes by its original bytes
    digest = hashlib.sha256(_salt(data_dir(folder)) + str(value).strip().encode("utf-8", "surrogateescape"))
    return digest.hexdigest()[:16]


def append_record(record: Mapping[str, Any], folder: str | Path | None = None) -> Path:
    """Append one record to the audit log (see :func:`append_jsonl`). Returns the log path."""
    return append_jsonl(audit_log_path(folder), record)


def append_jsonl(path: str | Path, record: Mapping[str, Any]) -> Path:
    """Append one record as one JSON line (O_APPEND, one write, fsync): ASCII, standard JSON."""
    path = Path(path)
    line = (json.dumps(dict(record), ensure_ascii=True, sort_keys=True, default=str, allow_nan=False)
            + "\n").encode("ascii")
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
        # manifest_sha256: the manifest's content as run (thresholds included), pinned or not
        "model": {k: model.get(k) for k in ("name", "version", "uid", "sha256", "manifest_sha256",
                                            "manifest_pinned", "threshold", "threshold_source",
                                            "call_source")},
        # with a fused call, the model's own call beside it (what the CNN alone said)
        "cnn_call": (result.get("cnn") or {}).get("call"),
        "report": hash_id(str(Path(report).resolve()), folder) if report else None,
        "contrast_panel": result.get("contrast_panel"),  # the side analyzed and how it was decided
        "evidence": evidence_summary(result.get("evidence")),
    }


def evidence_summary(ev: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What the audit keeps of the evidence shown beside the call: no images, no PHI — which liver ROI
    (and who set it), the findings, which were borderline, and whether it disagreed with the model."""
    from ceusdesk.evidence.readout import washout_borderline

    if not ev:
        return None
    given = any("given by the user" in a for a in ev.get("assumptions") or [])
    borderline = [name for name, on in (("washout", washout_borderline(ev)),
                                        ("kupffer_defect", bool(ev.get("kupffer_defect_borderline")))) if on]
    return {"version": ev.get("version"), "liver_roi": ev.get("liver_roi"),
            "liver_roi_source": None if not ev.get("liver_roi") else ("user" if given else "automatic"),
            "aphe": ev.get("aphe"), "washout_onset_s": ev.get("washout_onset_s"),
            "kupffer_defect": ev.get("kupffer_defect"), "borderline": borderline,
            "disagreement": bool(ev.get("disagreement"))}


def log_analysis(result: Mapping[str, Any], **kwargs: Any) -> Path:
    """Build :func:`analysis_record` and append it; returns the log path."""
    folder = kwargs.get("folder")
    path = append_record(analysis_record(result, **kwargs), folder)
    log.info("analysis recorded in the audit log %s", path)
    return path


def log_dicom_export(sop_uids: Sequence[str], *, model_uid: str | None, deidentified: bool, source: str,
                     folder: str | Path | None = None) -> Path:
    """The audit record of one DICOM export (``analyze --dicom-out``, the app's Export/Send): the hashed
    SOP Instance UIDs written (a send record lists the same hashes) and the model that made them."""
    record = {"time": datetime.now(UTC).isoformat(timespec="seconds"), "event": "dicom_export",
              "source": source, "model_uid": model_uid, "deidentified": deidentified,
              "objects": sorted(h for h in (hash_id(u, folder) for u in sop_uids) if h)}
    return append_record(record, folder)


def log_send(destination: str, *, stored: int, failed: int, sop_uids: Sequence[str], source: str,
             folder: str | Path | None = None) -> Path:
    """The audit record of one `send` (CLI or app): where to, how many objects stored and failed, and
    the hashed SOP Instance UIDs sent (an analysis record's ``dicom_sr`` matches its SR's)."""
    record = {"time": datetime.now(UTC).isoformat(timespec="seconds"), "event": "send", "source": source,
              "destination": destination, "stored": stored, "failed": failed,
              "objects": sorted(h for h in (hash_id(u, folder) for u in sop_uids) if h)}
    return append_record(record, folder)


def read_records(folder: str | Path | None = None) -> list[dict[str, Any]]:
    """All records of the log (empty when there is none yet)."""
    path = audit_log_path(folder)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
