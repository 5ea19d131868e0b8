"""``ceusdesk send``: store result objects in a PACS with C-STORE (pynetdicom).

The only code in ceusdesk that opens a network socket, and only when a user or IT asks for it: analyze,
the app's analysis, demo and selftest never import it. A failure names the destination and the DICOM
status; the files stay where they are.
"""
from __future__ import annotations

import logging
import os
import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pydicom
from pydicom.errors import InvalidDicomError

from ceusdesk.base.errors import CeusdeskError
from ceusdesk.outputs.dicom.encapsulated_pdf import ENCAPSULATED_PDF
from ceusdesk.outputs.dicom.kos import KEY_OBJECT_SELECTION
from ceusdesk.outputs.dicom.presentation_state import COLOR_PS, GRAYSCALE_PS
from ceusdesk.outputs.dicom.sr import COMPREHENSIVE_SR

log = logging.getLogger(__name__)
SEND_TO_ENV = "CEUSDESK_SEND_TO"  # IT's destination (AET@HOST:PORT); the app offers Send only when it is set
CALLING_AET_ENV = "CEUSDESK_CALLING_AET"
DEFAULT_CALLING_AET = "CEUSDESK"
_DESTINATION = re.compile(r"(?P<aet>[^@]+)@(?:\[(?P<v6>[^\]]+)\]|(?P<host>[^:@\s]+)):(?P<port>\d{1,5})")
IDENTITY = ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID")
# the element that carries the content of each object ceusdesk writes (absent: the file was cut short)
CONTENT = {COMPREHENSIVE_SR: "ContentSequence", KEY_OBJECT_SELECTION: "ContentSequence",
           ENCAPSULATED_PDF: "EncapsulatedDocument", COLOR_PS: "GraphicAnnotationSequence",
           GRAYSCALE_PS: "GraphicAnnotationSequence"}
_AET = re.compile(r"^[\x20-\x5b\x5d-\x7e]{1,16}$")  # AE Title: 16 characters, no backslash or controls


class SendFailed(CeusdeskError):
    """Some or all objects were not stored; the files are left in place. ``report``: what was stored,
    when the association got that far."""

    exit_code = 8

    def __init__(self, message: str, report: SendReport | None = None):
        super().__init__(message)
        self.report = report


class BadDestination(CeusdeskError, ValueError):
    exit_code = 2


@dataclass(frozen=True)
class Destination:
    aet: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.aet}@{host}:{self.port}"

    @classmethod
    def parse(cls, text: str) -> Destination:
        """``AET@HOST:PORT`` (an IPv6 host in brackets: ``PACS@[::1]:104``)."""
        m = _DESTINATION.fullmatch(text.strip())
        if not m:
            raise BadDestination(f"destination {text!r}: expected AET@HOST:PORT, e.g. PACS@10.0.0.5:104")
        aet, port = m["aet"].strip(), int(m["port"])
        check_aet(aet, "the destination's AE title")
        if not 1 <= port <= 65535:
            raise BadDestination(f"destination {text!r}: port {port} is outside 1-65535")
        return cls(aet, m["v6"] or m["host"], port)


def check_aet(aet: str, what: str) -> str:
    if not _AET.match(aet) or not aet.strip():
        raise BadDestination(f"{what} {aet!r}: 1-16 printable characters, no backslash")
    return aet


def configured_destination() -> Destination | None:
    """The destination IT configured (``$CEUSDESK_SEND_TO``), or None: then the app offers no Send."""
    text = os.environ.get(SEND_TO_ENV, "").strip()
    return Destination.parse(text) if text else None


def calling_aet(given: str | None = None) -> str:
    aet = (given or os.environ.get(CALLING_AET_ENV) or DEFAULT_CALLING_AET).strip()
    return check_aet(aet, "calling AE title")


@dataclass
class SendReport:
    destination: Destination
    stored: list[str] = field(default_factory=list)  # file names
    warnings: list[str] = field(default_factory=list)  # "name: status 0xB000 (...)"
    failed: list[str] = field(default_factory=list)  # "name: why"


def result_files(folder: str | os.PathLike[str]) -> tuple[list[tuple[Path, Any]], list[str]]:
    """The DICOM files under ``folder`` (sorted) and one line per file skipped (not DICOM, no SOP UIDs)."""
    root = Path(folder)
    if not root.is_dir():
        raise BadDestination(f"{root}: not a folder (give the folder `analyze --dicom-out` wrote)")
    found, skipped = [], []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            ds = pydicom.dcmread(path)
        except (InvalidDicomError, OSError, ValueError, EOFError, struct.error) as err:
            skipped.append(f"{path.name}: not a readable DICOM file ({err})")
            continue
        missing = [k for k in (*IDENTITY, CONTENT.get(str(ds.get("SOPClassUID", "")), "SOPClassUID"))
                   if k not in ds]
        if missing:  # a copy cut short still parses: what it lacks says so
            skipped.append(f"{path.name}: incomplete, no {', '.join(missing)} (cut short?); not sent")
            continue
        found.append((path, ds))
    return found, skipped


class _PynetdicomErrors(logging.Handler):
    """pynetdicom's ERROR lines while connecting, kept for the one-line reason instead of printed (``-v``
    prints them as well)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []
        self._logger = logging.getLogger("pynetdicom")

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def last(self, containing: str = "") -> str:
        return next((line for line in reversed(self.lines) if containing in line), "")

    def __enter__(self) -> _PynetdicomErrors:
        self._saved = (self._logger.level, self._logger.propagate)
        self._logger.addHandler(self)
        self._logger.setLevel(min(self._saved[0] or logging.ERROR, logging.ERROR))
        self._logger.propagate = log.isEnabledFor(logging.DEBUG)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._saved[0])
        self._logger.propagate = self._saved[1]


def _status_text(code: int) -> str:
    from pynetdicom.status import STORAGE_SERVICE_CLASS_STATUS, code_to_category

    meaning = STORAGE_SERVICE_CLASS_STATUS.get(code, (code_to_category(code), ""))
    return f"status 0x{code:04X} ({meaning[0]}{': ' + meaning[1] if meaning[1] else ''})"


def send(files: Iterable[tuple[Path, Any]], destination: Destination, *, calling: str,
         timeout_s: float = 30.0, progress: Callable[[int, int], None] | None = None,
         source: str = "cli") -> SendReport:
    """C-STORE each dataset over one association; raises :class:`SendFailed` when not all were stored.
    Every attempt, stored or not, is in the audit log (``source``: cli | app)."""
    items = list(files)
    try:
        report = _send(items, destination, calling=calling, timeout_s=timeout_s, progress=progress)
    except SendFailed as err:
        stored = len(err.report.stored) if err.report is not None else 0
        _audit(destination, items, stored=stored, failed=len(items) - stored, source=source)
        raise
    _audit(destination, items, stored=len(report.stored), failed=len(report.failed), source=source)
    return report


def _audit(destination: Destination, items: list[tuple[Path, Any]], *, stored: int, failed: int,
           source: str) -> None:
    from ceusdesk.outputs.audit import log_send

    try:
        log_send(str(destination), stored=stored, failed=failed, source=source,
                 sop_uids=[str(ds.SOPInstanceUID) for _p, ds in items])
    except OSError as err:  # the send itself stands; say why it is not on record
        log.error("the send to %s is not in the audit log: %s", destination, err)


def _send(items: list[tuple[Path, Any]], destination: Destination, *, calling: str, timeout_s: float,
          progress: Callable[[int, int], None] | None) -> SendReport:
    from pynetdicom import AE, evt
    from pynetdicom.pdu_primitives import A_ASSOCIATE

    report = SendReport(destination)
    ae = AE(ae_title=calling)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout_s
    ae.connection_timeout = timeout_s
    for sop_class, syntax in sorted({(str(ds.SOPClassUID), str(ds.file_meta.TransferSyntaxUID))
                                     for _p, ds in items}):
        ae.add_requested_context(sop_class, syntax)
    rejection: list[str] = []

    def on_acse(event: Any) -> None:
        p = event.primitive
        if isinstance(p, A_ASSOCIATE) and p.result in (0x01, 0x02):
            rejection.append(f"{p.result_str}: {p.reason_str} (source: {p.source_str})")

    opened: list[bool] = []
    handlers: list[Any] = [(evt.EVT_ACSE_RECV, on_acse), (evt.EVT_CONN_OPEN, lambda _e: opened.append(True))]
    with _PynetdicomErrors() as errors:
        try:
            assoc = ae.associate(destination.host, destination.port, ae_title=destination.aet,
                                 evt_handlers=handlers)
        except OSError as err:  # the host name does not resolve
            raise SendFailed(f"sending to {destination}: no connection: {err}; nothing sent, the files "
                             "stay in place") from err
    if not assoc.is_established:
        if not opened:
            why = "no connection: " + (errors.last("TCP") or "refused, unreachable or timed out")
        elif assoc.is_rejected:
            why = "association rejected" + (f", {rejection[0]}" if rejection else "")
        else:
            why = "association aborted: " + (errors.last() or "the peer accepted none of the objects' kinds")
        raise SendFailed(f"sending to {destination}: {why}; nothing sent, the files stay in place")
    try:
        for i, (path, ds) in enumerate(items):
            status = assoc.send_c_store(ds)
            code = int(status.Status) if status is not None and "Status" in status else None
            if code is None:
                report.failed.append(f"{path.name}: no response (timed out or the association ended)")
            elif code == 0x0000:
                report.stored.append(path.name)
            elif code in (0xB000, 0xB006, 0xB007, 0x0107, 0x0116):  # stored, with a warning
                report.stored.append(path.name)
                report.warnings.append(f"{path.name}: {_status_text(code)}")
            else:
                report.failed.append(f"{path.name}: {_status_text(code)}")
            if progress is not None:
                progress(i + 1, len(items))
            if assoc.is_aborted or assoc.is_released:
                report.failed += [f"{p.name}: not sent (the association ended)" for p, _ in items[i + 1:]]
                break
    finally:
        if assoc.is_established:
            assoc.release()
    if report.failed:
        raise SendFailed(f"sending to {destination}: {len(report.failed)} of {len(items)} not stored - "
                         + "; ".join(report.failed) + "; the files stay in place", report)
    return report
