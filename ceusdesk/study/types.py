"""What the ROI placement and the engine read of a study: the typed shape of ``study`` there.

:class:`ceusdesk.study.records.Study` satisfies :class:`StudyLike` structurally, and so do test doubles
that carry
panel images instead of DICOM clips (tests/inference/fake_study.py). Code that reads files or patient
fields of a study (report, cases_out) takes the concrete :class:`~ceusdesk.study.records.Study`.

Members are read-only properties so that a dataclass with a narrower field (a dict of its own slot-frame
class) still matches: ``Mapping`` is covariant in its values, ``dict`` is not. Pixels come from a loader
(default :func:`ceusdesk.study.frames.panel_image`, which needs a real ``SlotFrame``) or from given panels.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol as TypingProtocol

from ceusdesk.base.protocol import Protocol


class SlotFrameLike(TypingProtocol):
    """The frame that fills one slot, as the ROI placement reads it (a loader turns it into pixels)."""

    @property
    def pixel_spacing_cm(self) -> tuple[float, float] | None:
        """(cm per pixel x, y) of the panel when the file says: maps the ROI between panel sizes."""
        ...


class StudyLike(TypingProtocol):
    """A study as :func:`ceusdesk.inference.inputs.case_inputs` and
    :func:`ceusdesk.inference.engine.analyze` use it."""

    @property
    def slots(self) -> Mapping[str, SlotFrameLike | None]:
        """Slot name → the frame that fills it, or None (not acquired)."""
        ...

    @property
    def protocol(self) -> Protocol | None:
        """The study's phase protocol; None: the caller's (or the default) applies."""
        ...
