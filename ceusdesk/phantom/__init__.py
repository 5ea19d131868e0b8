"""Synthetic Sonazoid CEUS studies, exported the way scanners export them.

No patient data reaches this project: the phantom is the data for tests, the demo, the bundle's
self-test and the demo model. numpy + pydicom (+ Pillow/OpenCV for encoding) only. See docs/phantom.md.
"""
from .cohort import synthesize_case, synthesize_cohort
from .options import PhantomOptions
from .subtypes import LABELS, SUBTYPES

__all__ = ["LABELS", "SUBTYPES", "PhantomOptions", "synthesize_case", "synthesize_cohort"]
