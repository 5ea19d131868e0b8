"""Lesion subtypes of the phantom, the class each belongs to, and their share within the class.

Shares follow the primer's case mix: hemangioma is the commonest benign lesion, moderately/poorly
differentiated HCC outnumbers well-differentiated HCC, metastases outnumber cholangiocarcinoma.
"""
from __future__ import annotations

from dataclasses import dataclass

from ceusdesk.base.classes import CLASSES

LABELS: tuple[str, ...] = CLASSES


@dataclass(frozen=True)
class Subtype:
    name: str
    label: str
    share: float  # share within its class
    description: str
    textbook: bool = False  # has a textbook picture: ``sample_case(..., textbook=True)`` draws from these


_ALL = (
    Subtype("hemangioma", "benign", 0.50,
            "peripheral nodular APHE, centripetal fill-in, sustained; partial Kupffer defect", True),
    Subtype("fnh", "benign", 0.25, "spoke-wheel APHE from a central scar, sustained, Kupffer iso", True),
    Subtype("benign_other", "benign", 0.25,
            "adenoma / focal fat / regenerative nodule: iso or mild APHE, mostly iso later"),
    Subtype("hcc_well", "hcc", 0.30, "well-differentiated HCC: iso or mild APHE, little washout"),
    Subtype("hcc_moderate", "hcc", 0.70,
            "moderately/poorly differentiated HCC: non-rim APHE (mosaic if large), late mild washout", True),
    Subtype("metastasis", "non_hcc_malignant", 0.70,
            "rim (sometimes diffuse) APHE, early marked washout, sharp Kupffer defect", True),
    Subtype("icc", "non_hcc_malignant", 0.30,
            "intrahepatic cholangiocarcinoma: rim/heterogeneous APHE, early marked washout"),
)

SUBTYPES: dict[str, Subtype] = {s.name: s for s in _ALL}


def subtypes_of(label: str, textbook: bool = False) -> list[Subtype]:
    """The subtypes of one class, in a fixed order (only those with a textbook picture if asked)."""
    if label not in LABELS:
        raise ValueError(f"unknown label {label!r}; expected one of {', '.join(LABELS)}")
    return [s for s in _ALL if s.label == label and (s.textbook or not textbook)]
