"""What the DICOM results refer to: the source study's header and the frame used for each slot.

A result can join the source study only when every frame it used comes from a DICOM object with its UIDs;
a video or still file has none, and then only the PDF is written (:class:`NoDicomSource` says why).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from ceusdesk.base.errors import CeusdeskError
from ceusdesk.study.records import Study

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels, end-exclusive


class NoDicomSource(CeusdeskError, ValueError):
    """The result's frames do not all come from DICOM objects: no UIDs to file the results under.
    :func:`ceusdesk.outputs.dicom.export_results` catches it: the PDF is written alone and one line says
    why (exit 0). Escaping elsewhere it is an output not written (7)."""

    exit_code = 7


@dataclass(frozen=True)
class FrameRef:
    """One slot's frame as the results reference it (``frame_number`` 1-based, as DICOM counts)."""

    slot: str
    path: Path
    sop_class: str
    sop_uid: str
    series_uid: str
    study_uid: str
    frame_number: int
    rows: int
    cols: int
    color: bool  # RGB/YBR source (Color Softcopy Presentation State) or grayscale (Grayscale one)
    lesion_box: Box
    liver_box: Box | None


def _to_frame(panel: Sequence[int], roi: Sequence[int]) -> Box:
    x, y, w, h = (int(v) for v in roi)
    return int(panel[0]) + x, int(panel[1]) + y, int(panel[0]) + x + w, int(panel[1]) + y + h


def frame_refs(study: Study, result: Mapping[str, Any]) -> list[FrameRef]:
    """The frame of every slot the result used, in protocol order, with its ROIs in frame pixels.

    Raises
    ------
    NoDicomSource
        A slot's frame comes from a video or still file, or from a DICOM object missing a UID.
    """
    evidence = result.get("evidence") or {}
    liver_rois = evidence.get("liver_rois") or {}
    rois = result.get("rois") or {}
    refs: list[FrameRef] = []
    not_dicom: list[str] = []
    for slot in result["slots_used"]:
        sf = study.slots.get(slot)
        if sf is None:
            raise NoDicomSource(f"slot {slot} is in the result but has no frame in the study")
        clip = sf.clip
        uids = (clip.sop_class, clip.sop_uid, clip.series_uid, clip.study_uid)
        if clip.kind != "dicom" or not all(uids):
            not_dicom.append(f"{slot} ({clip.path.name}: {clip.kind if clip.kind != 'dicom' else 'no UIDs'})")
            continue
        roi = rois.get(slot) or result.get("roi")
        if roi is None:
            raise NoDicomSource(f"slot {slot}: the result has no ROI for it")
        liver = liver_rois.get(slot)
        refs.append(FrameRef(
            slot=slot, path=clip.path, sop_class=str(clip.sop_class), sop_uid=str(clip.sop_uid),
            series_uid=str(clip.series_uid), study_uid=str(clip.study_uid), frame_number=sf.frame_index + 1,
            rows=clip.rows, cols=clip.cols,
            color=(clip.samples_per_pixel or 1) > 1 or str(clip.photometric or "").startswith(("RGB", "YBR",
                                                                                               "PALETTE")),
            lesion_box=_to_frame(sf.panel, roi),
            liver_box=None if liver is None else _to_frame(sf.panel, liver)))
    if not_dicom:
        raise NoDicomSource("the DICOM results need the source images' UIDs, and these slots come from "
                            f"files without them: {', '.join(not_dicom)}; wrote the PDF only")
    studies = {r.study_uid for r in refs}
    if len(studies) != 1:  # the study's grouping keeps one study; a mix here would file results twice
        raise NoDicomSource(f"the slots come from {len(studies)} studies (Study Instance UID); "
                            "results can join only one")
    return refs


def source_header(path: Path) -> Dataset:
    """The source object's header, without its pixel data (the patient and study modules are copied)."""
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except (OSError, InvalidDicomError) as err:
        raise NoDicomSource(f"{path}: cannot re-read its DICOM header ({err}); "
                            "wrote the PDF only") from err
