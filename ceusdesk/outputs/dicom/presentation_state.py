"""A softcopy presentation state that draws the lesion ROI and the reference liver ROI on every frame
the result used, for viewers that show presentation states but not SR graphics (Weasis, most PACS).

Colour sources get a Color Softcopy Presentation State (PS3.3 A.35.2; with an sRGB ICC profile),
grayscale sources a Grayscale one (A.33.1), as each standard object applies only to its own kind.
"""
from __future__ import annotations

from collections.abc import Sequence

from PIL import ImageCms
from pydicom.dataset import Dataset

from ceusdesk.outputs.dicom.dataset import Clock, base_dataset
from ceusdesk.outputs.dicom.items import referenced_sop
from ceusdesk.outputs.dicom.source import Box, FrameRef

COLOR_PS = "1.2.840.10008.5.1.4.1.1.11.2"
GRAYSCALE_PS = "1.2.840.10008.5.1.4.1.1.11.1"
SERIES_NUMBER = 9904
LAYERS = (("LESION", "lesion ROI (ceusdesk)", (255, 200, 0)),  # (name, label, sRGB colour)
          ("LIVER", "liver reference ROI (ceusdesk)", (0, 200, 255)))


def dicom_lab(rgb: tuple[int, int, int]) -> list[int]:
    """sRGB → CIELab (D50, Bradford-adapted) scaled as DICOM wants it: L 0–65535, a/b offset 128."""
    lin = [((c / 255) / 12.92) if c / 255 <= 0.04045 else (((c / 255) + 0.055) / 1.055) ** 2.4 for c in rgb]
    m = ((0.4360747, 0.3850649, 0.1430804), (0.2225045, 0.7168786, 0.0606169),
         (0.0139322, 0.0971045, 0.7141733))  # sRGB → XYZ (D50)
    xyz = [sum(m[i][j] * lin[j] for j in range(3)) for i in range(3)]
    white = (0.9642, 1.0, 0.8249)

    def f(t: float) -> float:
        return t ** (1 / 3) if t > (6 / 29) ** 3 else t / (3 * (6 / 29) ** 2) + 4 / 29

    fx, fy, fz = (f(v / w) for v, w in zip(xyz, white, strict=True))
    lab = (116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz))
    return [round(lab[0] * 65535 / 100), round((lab[1] + 128) * 65535 / 255),
            round((lab[2] + 128) * 65535 / 255)]


def _polyline(box: Box) -> Dataset:
    x0, y0, x1, y1 = (float(v) for v in box)
    g = Dataset()
    g.GraphicAnnotationUnits = "PIXEL"
    g.GraphicDimensions = 2
    g.NumberOfGraphicPoints = 5
    g.GraphicData = [x0, y0, x1, y0, x1, y1, x0, y1, x0, y0]
    g.GraphicType = "POLYLINE"
    g.GraphicFilled = "N"
    return g


def _label(box: Box, text: str, rows: int) -> Dataset:
    x0, y0, x1, y1 = (float(v) for v in box)
    top = y0 - 14.0 if y0 >= 14 else min(float(rows), y1 + 14.0) - 14.0  # above the box, else below
    t = Dataset()
    t.BoundingBoxAnnotationUnits = "PIXEL"
    t.UnformattedTextValue = text
    t.BoundingBoxTopLeftHandCorner = [x0, top]
    t.BoundingBoxBottomRightHandCorner = [max(x1, x0 + 8.0 * len(text)), top + 13.0]
    t.BoundingBoxTextHorizontalJustification = "LEFT"
    return t


def _image_ref(r: FrameRef) -> Dataset:
    return referenced_sop(r.sop_class, r.sop_uid, [r.frame_number])


def presentation_state(source: Dataset, refs: Sequence[FrameRef], *, color: bool, clock: Clock,
                       deidentify: bool, software: list[str]) -> Dataset:
    ds = base_dataset(source, sop_class=COLOR_PS if color else GRAYSCALE_PS, modality="PR",
                      series_number=SERIES_NUMBER, kind="ROIs drawn (PR)", clock=clock,
                      deidentify=deidentify, software=software)
    # General Series: the liver is no paired organ; with the body part named, Laterality (2C) is not needed
    ds.BodyPartExamined = str(source.get("BodyPartExamined") or "ABDOMEN")
    ds.ContentLabel = "CEUSDESK_ROIS"
    ds.ContentDescription = "lesion and liver reference ROIs of a ceusdesk research result"
    ds.ContentCreatorName = ""
    ds.PresentationCreationDate, ds.PresentationCreationTime = clock.date, clock.time
    series: dict[str, dict[str, list[FrameRef]]] = {}
    for r in refs:
        series.setdefault(r.series_uid, {}).setdefault(r.sop_uid, []).append(r)
    ds.ReferencedSeriesSequence = []
    for series_uid, sops in series.items():
        s = Dataset()
        s.SeriesInstanceUID = series_uid
        s.ReferencedImageSequence = [
            referenced_sop(rs[0].sop_class, sop_uid, sorted({r.frame_number for r in rs}))
            for sop_uid, rs in sops.items()]
        ds.ReferencedSeriesSequence.append(s)
    sizes: dict[tuple[int, int], list[FrameRef]] = {}
    for r in refs:
        sizes.setdefault((r.rows, r.cols), []).append(r)
    ds.DisplayedAreaSelectionSequence = []
    for (rows, cols), rs in sizes.items():
        area = Dataset()
        if len(sizes) > 1:  # each size its own area; with one size the area applies to every image
            area.ReferencedImageSequence = [_image_ref(r) for r in rs]
        area.DisplayedAreaTopLeftHandCorner = [1, 1]
        area.DisplayedAreaBottomRightHandCorner = [cols, rows]
        area.PresentationSizeMode = "SCALE TO FIT"
        area.PresentationPixelAspectRatio = [1, 1]
        ds.DisplayedAreaSelectionSequence.append(area)
    ds.GraphicLayerSequence = []
    for order, (name, label, rgb) in enumerate(LAYERS, start=1):
        layer = Dataset()
        layer.GraphicLayer = name
        layer.GraphicLayerOrder = order
        layer.GraphicLayerRecommendedDisplayCIELabValue = dicom_lab(rgb)
        layer.GraphicLayerDescription = label
        ds.GraphicLayerSequence.append(layer)
    ds.GraphicAnnotationSequence = []
    for r in refs:
        for (name, label, _rgb), box in zip(LAYERS, (r.lesion_box, r.liver_box), strict=True):
            if box is None:
                continue
            ann = Dataset()
            ann.ReferencedImageSequence = [_image_ref(r)]
            ann.GraphicLayer = name
            ann.GraphicObjectSequence = [_polyline(box)]
            ann.TextObjectSequence = [_label(box, f"{r.slot} {label}", r.rows)]
            ds.GraphicAnnotationSequence.append(ann)
    if color:
        ds.ICCProfile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    else:
        ds.PresentationLUTShape = "IDENTITY"
    return ds
