"""Synthetic Sonazoid CEUS studies, exported the way scanners export them.

No patient data reaches this project: the phantom is the data for tests, the demo, the bundle's
self-test and the demo model. numpy + pydicom (+ Pillow/OpenCV for encoding) only. See docs/phantom.md.
"""
from .case import synthesize_case
from .cohort import PHANTOM_VERSION, synthesize_cohort
from .options import PhantomOptions
from .scanner import PROFILES
from .subtypes import LABELS, SUBTYPES

__all__ = ["LABELS", "PHANTOM_VERSION", "PROFILES", "SUBTYPES", "PhantomOptions", "synthesize_case",
           "synthesize_cohort"]
