"""Results into the hospital's archive: the result as DICOM objects that join the source study.

:func:`write_dicom_results` writes a Comprehensive SR (TID 1500), a Key Object Selection of the frames
used, the PDF report encapsulated, and a presentation state drawing the ROIs, each in its own new series
of the source study (IHE AI Results). Written with pydicom alone: highdicom (27 MB with its attribute
tables) stays in the tests as the reader and validator, keeping the bundle within its budget.
``ceusdesk send`` (ceusdesk.outputs.dicom.send) stores them in a PACS; nothing here opens a socket.
"""
from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydicom.dataset import Dataset

from ceusdesk import __version__ as CEUSDESK_VERSION
from ceusdesk.base.atomicio import write_atomic
from ceusdesk.outputs.dicom.dataset import Clock, encode
from ceusdesk.outputs.dicom.encapsulated_pdf import encapsulated_pdf
from ceusdesk.outputs.dicom.kos import key_objects
from ceusdesk.outputs.dicom.presentation_state import presentation_state
from ceusdesk.outputs.dicom.source import FrameRef, NoDicomSource, frame_refs, source_header
from ceusdesk.outputs.dicom.sr import measurement_report
from ceusdesk.study.records import Study

if TYPE_CHECKING:
    from ceusdesk.outputs.report import ReportInput

__all__ = ["NoDicomSource", "write_dicom_results", "dicom_results", "export_results", "Exported"]
log = logging.getLogger(__name__)


def dicom_results(study: Study, result: Mapping[str, Any], pdf: bytes, *, deidentify: bool,
                  now: datetime | None = None) -> list[Dataset]:
    """The result objects: SR, KO, encapsulated PDF, and one presentation state per kind of source
    (colour, grayscale) among the frames used.

    Raises
    ------
    NoDicomSource
        A frame of the result comes from a video or still file: no UIDs to join.
    """
    refs = frame_refs(study, result)
    source = source_header(refs[0].path)
    clock = Clock.at(now or datetime.now().astimezone(), deidentify)
    model = result["model"]
    software = [f"ceusdesk {CEUSDESK_VERSION}", f"{model['name']} {model['version']}"[:64]]
    common: dict[str, Any] = dict(clock=clock, deidentify=deidentify, software=software)
    objects = [measurement_report(source, result, refs, **common),
               key_objects(source, result, refs, **common),
               encapsulated_pdf(source, pdf, **common)]
    for color in (True, False):
        group: list[FrameRef] = [r for r in refs if r.color is color]
        if group:
            objects.append(presentation_state(source, group, color=color, **common))
    return objects


def write_dicom_results(out_dir: str | os.PathLike[str], study: Study, result: Mapping[str, Any], pdf: bytes,
                        *, deidentify: bool, now: datetime | None = None) -> list[Path]:
    """Write :func:`dicom_results` into ``out_dir`` as ``SR-<id>.dcm``, ``KO-<id>.dcm``, ``DOC-<id>.dcm``,
    ``PR-<id>.dcm`` (``<id>`` from the SR's UID: no patient data in file names, no overwriting an earlier
    export). All encoded before the first is written: an error leaves none."""
    return _write(out_dir, study, result, pdf, deidentify, now)[0]


def _write(out_dir: str | os.PathLike[str], study: Study, result: Mapping[str, Any], pdf: bytes,
           deidentify: bool, now: datetime | None = None) -> tuple[list[Path], list[str]]:
    objects = dicom_results(study, result, pdf, deidentify=deidentify, now=now)
    tag = hashlib.sha256(str(objects[0].SOPInstanceUID).encode()).hexdigest()[:10]
    encoded = []
    for ds in objects:
        kind = "GSPR" if ds.SOPClassUID.endswith(".11.1") else ds.Modality
        encoded.append((Path(out_dir) / f"{kind}-{tag}.dcm", encode(ds)))
    written = []
    try:
        for path, data in encoded:
            written.append(write_atomic(path, data))
    except OSError:
        for path in written:  # both or neither: a partial set would file half a result
            path.unlink(missing_ok=True)
        raise
    log.info("DICOM results written: %s", ", ".join(p.name for p in written))
    return written, [str(ds.SOPInstanceUID) for ds in objects]


@dataclass(frozen=True)
class Exported:
    """What an export wrote: the DICOM objects, or (video/still input) the PDF alone; ``message`` is the
    one line the CLI prints and the app shows."""

    paths: list[Path]
    dicom: bool
    message: str


def export_results(out_dir: str | os.PathLike[str], study: Study, result: Mapping[str, Any], inp: ReportInput,
                   *, deidentify: bool, source: str = "cli") -> Exported:
    """``analyze --dicom-out`` and the app's File ▸ Export to DICOM: the DICOM results with the report
    encapsulated, or the PDF report alone where the frames have no UIDs to join."""
    from ceusdesk.outputs.pdf import render_report, write_report

    try:
        frame_refs(study, result)  # first: a video study needs the PDF file alone, rendered once
        paths, uids = _write(out_dir, study, result, render_report(inp, deidentify=deidentify)[1],
                             deidentify)
    except NoDicomSource as why:
        pdf_path, json_path = write_report(Path(out_dir) / "ceusdesk-report.pdf", inp, deidentify=deidentify)
        return Exported([pdf_path, json_path], False, f"DICOM results not written ({why}): {pdf_path}")
    from ceusdesk.outputs.audit import log_dicom_export

    message = (f"DICOM results written to {out_dir}: " + ", ".join(p.name for p in paths)
               + (" (de-identified)" if deidentify else ""))
    try:
        log_dicom_export(uids, model_uid=(result.get("model") or {}).get("uid"), deidentified=deidentify,
                         source=source)
    except OSError as err:  # the objects stand; the line says they are not on record
        message += f"; not in the audit log: {err}"
    return Exported(paths, True, message)
