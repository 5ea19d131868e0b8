"""SR content items as pydicom datasets: the few value types the results use (PS3.3 C.17.3)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydicom.dataset import Dataset
from pydicom.sr.coding import Code
from pydicom.valuerep import format_number_as_ds

CONTAINS = "CONTAINS"
HAS_OBS_CONTEXT = "HAS OBS CONTEXT"
HAS_CONCEPT_MOD = "HAS CONCEPT MOD"
HAS_PROPERTIES = "HAS PROPERTIES"
SELECTED_FROM = "SELECTED FROM"


def code_dataset(code: Code) -> Dataset:
    ds = Dataset()
    ds.CodeValue = code.value
    ds.CodingSchemeDesignator = code.scheme_designator
    ds.CodeMeaning = code.meaning
    return ds


def _item(relationship: str | None, value_type: str, name: Code | None,
          children: Iterable[Dataset] = ()) -> Dataset:
    ds = Dataset()
    if relationship is not None:
        ds.RelationshipType = relationship
    ds.ValueType = value_type
    if name is not None:
        ds.ConceptNameCodeSequence = [code_dataset(name)]
    kids = list(children)
    if kids:
        ds.ContentSequence = kids
    return ds


def container(relationship: str | None, name: Code, children: Iterable[Dataset],
              template: str | None = None, continuity: str = "SEPARATE") -> Dataset:
    ds = _item(relationship, "CONTAINER", name, children)
    ds.ContinuityOfContent = continuity
    if template is not None:
        tpl = Dataset()
        tpl.MappingResource = "DCMR"
        tpl.TemplateIdentifier = template
        ds.ContentTemplateSequence = [tpl]
    return ds


def text(relationship: str, name: Code, value: str) -> Dataset:
    ds = _item(relationship, "TEXT", name)
    ds.TextValue = value
    return ds


def code(relationship: str, name: Code, value: Code, children: Iterable[Dataset] = ()) -> Dataset:
    ds = _item(relationship, "CODE", name, children)
    ds.ConceptCodeSequence = [code_dataset(value)]
    return ds


def uidref(relationship: str, name: Code, uid: str) -> Dataset:
    ds = _item(relationship, "UIDREF", name)
    ds.UID = uid
    return ds


def num(relationship: str, name: Code, value: float, unit: Code, children: Iterable[Dataset] = ()) -> Dataset:
    ds = _item(relationship, "NUM", name, children)
    mv = Dataset()
    mv.NumericValue = format_number_as_ds(float(value))  # DS: at most 16 characters
    mv.FloatingPointValue = float(value)  # the exact value beside the 16-character text
    mv.MeasurementUnitsCodeSequence = [code_dataset(unit)]
    ds.MeasuredValueSequence = [mv]
    return ds


def referenced_sop(sop_class: str, sop_uid: str, frames: Sequence[int] = ()) -> Dataset:
    ds = Dataset()
    ds.ReferencedSOPClassUID = sop_class
    ds.ReferencedSOPInstanceUID = sop_uid
    if frames:
        ds.ReferencedFrameNumber = list(frames) if len(frames) > 1 else frames[0]
    return ds


def image(relationship: str, name: Code | None, sop_class: str, sop_uid: str,
          frames: Sequence[int] = ()) -> Dataset:
    ds = _item(relationship, "IMAGE", name)
    ds.ReferencedSOPSequence = [referenced_sop(sop_class, sop_uid, frames)]
    return ds


def scoord_polyline(relationship: str, name: Code, points: Sequence[tuple[float, float]],
                    source: Dataset) -> Dataset:
    """A closed polyline in image pixels (column, row; 0.0\\0.0 is the top-left corner of the top-left
    pixel), SELECTED FROM the image item ``source``."""
    ds = _item(relationship, "SCOORD", name, [source])
    ds.GraphicType = "POLYLINE"
    ds.GraphicData = [float(v) for p in points for v in p]
    return ds
