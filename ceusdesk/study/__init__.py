"""A study as read: one patient's clips grouped, the injection time, each clip in its phase slot and
the frame for each slot.

``open_study`` (assemble) builds it from what ``ingest`` read; ``records`` holds what it is; ``frames``
decodes the one frame a slot needs; ``types`` is the read-only view inference and evidence rely on.
"""
from ceusdesk.study.assemble import open_study
from ceusdesk.study.records import ClipEntry, SlotFrame, Study

__all__ = ["ClipEntry", "SlotFrame", "Study", "open_study"]
