"""The few domain errors ceusdesk raises. Each message says what is wrong and what to do.

The CLI maps them to documented exit codes (see ``ceusdesk.cli``); nothing else should need a traceback.
"""
from __future__ import annotations


class CeusdeskError(Exception):
    """Base class: a problem the user can act on. ``str(err)`` is one line."""

    exit_code = 1


class NothingReadable(CeusdeskError):
    """No readable image, clip or video was found in the input."""

    exit_code = 3


class UnreadableInput(CeusdeskError):
    """A file, or a frame the analysis needs, cannot be read or decoded; the message names it.

    The ingest stage's own errors (``FrameError``, ``MediaError``, ``PixelDataError``, ``NotAnImage``,
    ``Undecodable``) derive from it, so one that escapes to a front end is one line with exit code 3.
    """

    exit_code = 3


class IncompletePhaseSet(CeusdeskError):
    """The early set is not complete: no classification is made."""

    exit_code = 4

    def __init__(self, missing: list[str]):
        self.missing = list(missing)
        super().__init__(
            "incomplete phase set: missing " + ", ".join(self.missing)
            + " - assign those clips (--assign FILE=SLOT) or check the injection time; no result is given"
        )


class ModelRefused(CeusdeskError):
    """A model package failed verification (hash, preprocess version, protocol, missing file)."""

    exit_code = 5


class BadRoi(CeusdeskError):
    """The ROI is missing, malformed or outside the contrast panel."""

    exit_code = 2


class Cancelled(CeusdeskError):
    """The user cancelled a long operation."""

    exit_code = 130


class ContrastPanelUnsure(CeusdeskError):
    """The study's cues do not say which side of the dual display is contrast: no classification."""

    exit_code = 6

    def __init__(self, detail: str = ""):
        msg = "contrast panel unsure: pass --contrast-panel left|right"
        super().__init__(msg + (f" ({detail})" if detail else "") + "; no result is given")


class OutputNotWritten(CeusdeskError):
    """The result was computed and printed, but a report, its JSON or the audit log could not be written."""

    exit_code = 7


class BadStudyOption(CeusdeskError, ValueError):
    """An option given with the study (injection time, patient, assignment) cannot be used."""

    exit_code = 2
