"""Key Object Selection ("Of Interest", TID 2010): the frame used for each phase slot, so a PACS viewer
opens exactly the images the result rests on."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydicom.dataset import Dataset

from ceusdesk.outputs.dicom import codes
from ceusdesk.outputs.dicom import items as it
from ceusdesk.outputs.dicom.dataset import Clock, base_dataset, evidence_sequence
from ceusdesk.outputs.dicom.source import FrameRef

KEY_OBJECT_SELECTION = "1.2.840.10008.5.1.4.1.1.88.59"
SERIES_NUMBER = 9902


def description(result: Mapping[str, Any], refs: list[FrameRef]) -> str:
    frames = "; ".join(f"{r.slot}: frame {r.frame_number}" for r in refs)
    return (f"ceusdesk research result ({result['phase_set']} set): the frame used for each phase slot - "
            f"{frames}. Research use only.")


def key_objects(source: Dataset, result: Mapping[str, Any], refs: list[FrameRef], *, clock: Clock,
                deidentify: bool, software: list[str]) -> Dataset:
    ds = base_dataset(source, sop_class=KEY_OBJECT_SELECTION, modality="KO", series_number=SERIES_NUMBER,
                      kind="key images (KO)", clock=clock, deidentify=deidentify, software=software)
    ds.ReferencedPerformedProcedureStepSequence = []
    ds.ContentDate, ds.ContentTime = clock.date, clock.time
    ds.CurrentRequestedProcedureEvidenceSequence = evidence_sequence(
        [(r.study_uid, r.series_uid, r.sop_class, r.sop_uid) for r in refs])
    children = [it.text(it.CONTAINS, codes.KEY_OBJECT_DESCRIPTION, description(result, refs))]
    children += [it.image(it.CONTAINS, None, r.sop_class, r.sop_uid, [r.frame_number]) for r in refs]
    root = it.container(None, codes.OF_INTEREST, children, template="2010")
    for elem in root:
        ds.add(elem)
    return ds
