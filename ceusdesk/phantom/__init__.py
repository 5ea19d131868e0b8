"""Synthetic Sonazoid CEUS studies, exported the way scanners export them.

No patient data reaches this project: the phantom is the data for tests, the demo, the bundle's
self-test and the demo model. numpy + pydicom (+ Pillow/OpenCV for encoding) only. See docs/phantom.md.
"""
from ceusdesk.phantom.case import synthesize_case
from ceusdesk.phantom.cohort import PHANTOM_VERSION, synthesize_cohort
from ceusdesk.phantom.options import PhantomOptions
from ceusdesk.phantom.scanner import PROFILES
from ceusdesk.phantom.subtypes import LABELS, SUBTYPES

__all__ = ["LABELS", "PHANTOM_VERSION", "PROFILES", "SUBTYPES", "PhantomOptions", "synthesize_case",
           "synthesize_cohort"]
