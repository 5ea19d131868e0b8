"""The modules every result object shares: patient and study copied from the source, a new series,
equipment, SOP common, file meta. De-identified on request (PS3.15 E: basic profile, Retain UIDs option,
so the results still point at the frames they describe)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from io import BytesIO

from pydicom import dcmwrite
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pydicom.valuerep import PersonName

from ceusdesk import __version__ as CEUSDESK_VERSION
from ceusdesk.outputs.dicom import codes
from ceusdesk.outputs.dicom.items import code_dataset

MANUFACTURER = "ceusdesk project"
SERIES_DESCRIPTION = "ceusdesk research result"  # + the object's kind; LO: 64 characters at most
IMPLEMENTATION_VERSION = f"CEUSDESK_{CEUSDESK_VERSION}"[:16]
# the patient and general study modules (PS3.3 C.7.1.1, C.7.2.1); type 2 ones stay, emptied, when
# de-identified
PATIENT_STUDY = ("PatientName", "PatientID", "IssuerOfPatientID", "PatientBirthDate", "PatientSex",
                 "StudyInstanceUID", "StudyDate", "StudyTime", "ReferringPhysicianName", "StudyID",
                 "AccessionNumber", "IssuerOfAccessionNumberSequence", "StudyDescription")
TYPE_2 = {"PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
          "ReferringPhysicianName", "StudyID", "AccessionNumber"}
DUMMY_DATE, DUMMY_TIME = "19000101", "000000"  # type 1 dates of a de-identified object (basic profile: D)


@dataclass(frozen=True)
class Clock:
    """When the objects are made: one date and time for all of them (dummies when de-identified)."""

    date: str
    time: str

    @classmethod
    def at(cls, now: datetime, deidentify: bool) -> Clock:
        if deidentify:
            return cls(DUMMY_DATE, DUMMY_TIME)
        return cls(now.strftime("%Y%m%d"), now.strftime("%H%M%S"))


def _copy_value(value: object) -> object:
    if isinstance(value, PersonName):  # decoded text, re-encoded in UTF-8 (the source may be ISO 2022)
        return PersonName(str(value))
    return value


def base_dataset(source: Dataset, *, sop_class: str, modality: str, series_number: int, kind: str,
                 clock: Clock, deidentify: bool, software: list[str]) -> Dataset:
    """A new object in the source's study: patient/study modules, new series and instance, equipment."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: names in any script, our own text included
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.InstanceCreationDate, ds.InstanceCreationTime = clock.date, clock.time
    for keyword in PATIENT_STUDY:
        if keyword == "StudyInstanceUID":
            ds.StudyInstanceUID = source.StudyInstanceUID
        elif deidentify:
            if keyword in TYPE_2:
                setattr(ds, keyword, "")
        elif keyword in source:
            setattr(ds, keyword, _copy_value(source[keyword].value))
        elif keyword in TYPE_2:
            setattr(ds, keyword, "")
    ds.Modality = modality
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = series_number
    ds.SeriesDescription = f"{SERIES_DESCRIPTION}: {kind}"[:64]
    ds.SeriesDate, ds.SeriesTime = clock.date, clock.time
    ds.Manufacturer = MANUFACTURER
    ds.ManufacturerModelName = "ceusdesk"
    ds.SoftwareVersions = software
    ds.InstanceNumber = 1
    ds.CodingSchemeIdentificationSequence = [_private_scheme()]
    if deidentify:
        ds.PatientIdentityRemoved = "YES"
        ds.DeidentificationMethod = "Basic Application Confidentiality Profile; Retain UIDs Option"
        ds.DeidentificationMethodCodeSequence = [code_dataset(codes.BASIC_PROFILE),
                                                 code_dataset(codes.RETAIN_UIDS)]
        ds.LongitudinalTemporalInformationModified = "REMOVED"
    return ds


def _private_scheme() -> Dataset:
    ds = Dataset()
    ds.CodingSchemeDesignator = codes.PRIVATE_SCHEME
    ds.CodingSchemeName = codes.PRIVATE_SCHEME_NAME
    ds.CodingSchemeResponsibleOrganization = codes.PRIVATE_SCHEME_OWNER
    return ds


def encode(ds: Dataset) -> bytes:
    """The object as a DICOM file (preamble, meta, explicit VR little endian)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION
    ds.file_meta = meta
    buf = BytesIO()
    dcmwrite(buf, ds, enforce_file_format=True)
    return buf.getvalue()


def evidence_sequence(refs: list[tuple[str, str, str, str]]) -> list[Dataset]:
    """Hierarchical SOP instance references: [(study, series, sop class, sop instance)] grouped by study
    and series (Current Requested Procedure Evidence / Referenced Series)."""
    studies: dict[str, dict[str, dict[str, str]]] = {}
    for study, series, sop_class, sop_uid in refs:
        studies.setdefault(study, {}).setdefault(series, {})[sop_uid] = sop_class
    out = []
    for study, series_map in studies.items():
        st = Dataset()
        st.StudyInstanceUID = study
        st.ReferencedSeriesSequence = []
        for series, sops in series_map.items():
            se = Dataset()
            se.SeriesInstanceUID = series
            se.ReferencedSOPSequence = []
            for sop_uid, sop_class in sops.items():
                r = Dataset()
                r.ReferencedSOPClassUID = sop_class
                r.ReferencedSOPInstanceUID = sop_uid
                se.ReferencedSOPSequence.append(r)
            st.ReferencedSeriesSequence.append(se)
        out.append(st)
    return out
