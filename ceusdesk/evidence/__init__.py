"""Enhancement evidence beside the model: liver reference ROI, time-intensity curve, kinetic features,
lesion size and a plain-language readout (docs/evidence.md). Qt-free, torch-free."""
from ceusdesk.evidence.compute import FIELDS, VERSION, Evidence, compute_evidence

__all__ = ["FIELDS", "VERSION", "Evidence", "compute_evidence"]
