"""Read a scanner's CEUS export: DICOM (files, DICOMDIR), videos and stills → clips with timing and panels.

Scanning reads headers only; :func:`read_frame` decodes one frame at a time with the one plugin named in
:data:`DECODING_PLUGIN`. See docs/ingest.md.
"""
from ceusdesk.ingest.decode import DECODING_PLUGIN, FrameError, read_frame
from ceusdesk.ingest.panels import detect_panels, tissue_panels
from ceusdesk.ingest.records import TISSUE, Clip, Region, ScanResult, Warn
from ceusdesk.ingest.scan import scan

__all__ = [
    "DECODING_PLUGIN", "TISSUE", "Clip", "FrameError", "Region", "ScanResult", "Warn",
    "detect_panels", "read_frame", "scan", "tissue_panels",
]
