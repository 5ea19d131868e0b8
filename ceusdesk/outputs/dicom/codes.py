"""Every coded concept the DICOM results use, defined once.

Standard codes where DICOM (DCM), SNOMED CT (SCT) or UCUM have one; the rest under the private scheme
``99CEUSDESK``, declared in each object's Coding Scheme Identification Sequence. Private meanings are
written to read well where a viewer shows the SR as text ("Probability of malignancy", not "P_MAL").
"""
from __future__ import annotations

from pydicom.sr.coding import Code

PRIVATE_SCHEME = "99CEUSDESK"
PRIVATE_SCHEME_NAME = "ceusdesk research result concepts"
PRIVATE_SCHEME_OWNER = "ceusdesk project"


def _ceus(value: str, meaning: str) -> Code:
    return Code(value, PRIVATE_SCHEME, meaning)


# --- report structure (TID 1500, TID 1001/1004, TID 1410, TID 4019, TID 4108)
IMAGING_MEASUREMENT_REPORT = Code("126000", "DCM", "Imaging Measurement Report")
LANGUAGE = Code("121049", "DCM", "Language of Content Item and Descendants")
ENGLISH = Code("en-US", "RFC5646", "English (United States)")
OBSERVER_TYPE = Code("121005", "DCM", "Observer Type")
DEVICE = Code("121007", "DCM", "Device")
DEVICE_OBSERVER_UID = Code("121012", "DCM", "Device Observer UID")
DEVICE_OBSERVER_NAME = Code("121013", "DCM", "Device Observer Name")
DEVICE_OBSERVER_MANUFACTURER = Code("121014", "DCM", "Device Observer Manufacturer")
DEVICE_OBSERVER_MODEL_NAME = Code("121015", "DCM", "Device Observer Model Name")
PROCEDURE_REPORTED = Code("121058", "DCM", "Procedure reported")
ULTRASONOGRAPHY = Code("16310003", "SCT", "Ultrasonography")
IMAGING_MEASUREMENTS = Code("126010", "DCM", "Imaging Measurements")
MEASUREMENT_GROUP = Code("125007", "DCM", "Measurement Group")
TRACKING_IDENTIFIER = Code("112039", "DCM", "Tracking Identifier")
TRACKING_UID = Code("112040", "DCM", "Tracking Unique Identifier")
FINDING = Code("121071", "DCM", "Finding")
LESION = Code("52988006", "SCT", "Lesion")
FINDING_SITE = Code("363698007", "SCT", "Finding Site")
LIVER = Code("10200004", "SCT", "Liver")
ALGORITHM_NAME = Code("111001", "DCM", "Algorithm Name")
ALGORITHM_VERSION = Code("111003", "DCM", "Algorithm Version")
ALGORITHM_PARAMETERS = Code("111002", "DCM", "Algorithm Parameters")
IMAGE_REGION = Code("111030", "DCM", "Image Region")
SOURCE = Code("260753009", "SCT", "Source")
DIAMETER = Code("81827009", "SCT", "Diameter")
PRESENT = Code("52101004", "SCT", "Present")
ABSENT = Code("2667000", "SCT", "Absent")

# --- units (UCUM)
NO_UNITS = Code("1", "UCUM", "no units")
SECOND = Code("s", "UCUM", "second")
MILLIMETER = Code("mm", "UCUM", "millimeter")
RATIO = Code("{ratio}", "UCUM", "ratio")

# --- key object selection (TID 2010), de-identification (CID 7050)
OF_INTEREST = Code("113000", "DCM", "Of Interest")
KEY_OBJECT_DESCRIPTION = Code("113012", "DCM", "Key Object Description")
BASIC_PROFILE = Code("113100", "DCM", "Basic Application Confidentiality Profile")
RETAIN_UIDS = Code("113110", "DCM", "Retain UIDs Option")

# --- ceusdesk's own concepts
P_BENIGN = _ceus("PBEN", "Probability of a benign lesion")
P_HCC = _ceus("PHCC", "Probability of hepatocellular carcinoma")
P_NON_HCC = _ceus("PNHM", "Probability of non-HCC malignancy")
P_MALIGNANT = _ceus("PMAL", "Probability of malignancy")
CALL_THRESHOLD = _ceus("THR", "Malignancy probability threshold of the call")
CALL = _ceus("CALL", "Research call")
CALL_VALUES = {"benign": _ceus("BEN", "Benign"), "malignant": _ceus("MAL", "Malignant")}
CALL_SOURCE = _ceus("CSRC", "Call made by")
CALL_SOURCE_VALUES = {"cnn": _ceus("CNN", "Image model alone"),
                      "cnn+evidence": _ceus("CNNEV", "Image model with the measured evidence")}
PHASE_SET = _ceus("PSET", "Phase set used")
PHASE_SET_VALUES = {"early": _ceus("EARLY", "Early set, B-mode to 2 min"),
                    "full": _ceus("FULL", "Full set, to the Kupffer phase")}
ARRIVAL = _ceus("ARR", "Contrast arrival after injection")
TIME_TO_PEAK = _ceus("TTP", "Time to peak after injection")
PEAK_RATIO = _ceus("PEAKR", "Peak lesion-to-liver intensity ratio")
WASHOUT_ONSET = _ceus("WONS", "Washout onset after injection")
KUPFFER_RATIO = _ceus("KUPR", "Kupffer-phase lesion-to-liver intensity ratio")
APHE = _ceus("APHE", "Arterial phase hyperenhancement")
WASHOUT_DEGREE = _ceus("WDEG", "Washout degree")
WASHOUT_DEGREE_VALUES = {"none": _ceus("WNONE", "No washout"), "mild": _ceus("WMILD", "Mild washout"),
                         "marked": _ceus("WMARK", "Marked washout")}
KUPFFER_DEFECT = _ceus("KDEF", "Kupffer-phase defect")
RANGE_LOW = _ceus("RLOW", "Lower end of the measured range")
RANGE_HIGH = _ceus("RHIGH", "Upper end of the measured range")
CERTAINTY = _ceus("CERT", "Reading certainty")
BORDERLINE = _ceus("BORDER", "Borderline: the range straddles the threshold")
