"""The PDF report as an Encapsulated PDF object in the source study (PS3.3 A.45.1)."""
from __future__ import annotations

from pydicom.dataset import Dataset

from ceusdesk.outputs.dicom.dataset import Clock, base_dataset

ENCAPSULATED_PDF = "1.2.840.10008.5.1.4.1.1.104.1"
SERIES_NUMBER = 9903
TITLE = "ceusdesk research report (not for diagnosis)"


def encapsulated_pdf(source: Dataset, pdf: bytes, *, clock: Clock, deidentify: bool,
                     software: list[str]) -> Dataset:
    ds = base_dataset(source, sop_class=ENCAPSULATED_PDF, modality="DOC", series_number=SERIES_NUMBER,
                      kind="report (PDF)", clock=clock, deidentify=deidentify, software=software)
    ds.ConversionType = "WSD"  # made on a workstation
    ds.ContentDate, ds.ContentTime = clock.date, clock.time
    ds.AcquisitionDateTime = "" if deidentify else clock.date + clock.time
    # the PDF prints the patient's name and ids unless it is de-identified
    ds.BurnedInAnnotation = "NO" if deidentify else "YES"
    ds.DocumentTitle = TITLE
    ds.ConceptNameCodeSequence = []
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocumentLength = len(pdf)
    ds.EncapsulatedDocument = pdf + (b"\0" if len(pdf) % 2 else b"")  # OB values have even length
    return ds
