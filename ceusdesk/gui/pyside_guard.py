"""Refuse to run on a PySide6 whose signals leak references to ``True`` (the app would abort later).

PySide6 6.12.0's ``SignalInstance.emit()`` returns ``True`` without taking a reference for it, so every
emit from Python drops one reference to the ``True`` singleton. On Python 3.11 (whose bools are not
immortal) the count reaches zero after some thousands of emits (minutes of clip playback: each decoded
frame emits twice) and the process aborts: "Fatal Python error: bool_dealloc". The ``[app]`` extra
excludes that version; :func:`check_pyside` measures the behaviour itself at start-up (any version that
has it), so an environment assembled by hand stops at once with a message, not in the middle of a case.
"""
from __future__ import annotations

import sys

from PySide6 import __version__ as PYSIDE_VERSION
from PySide6.QtCore import QObject, Signal

from ceusdesk.base.errors import CeusdeskError

PROBES = 16


class BrokenPySide(CeusdeskError):
    """The installed PySide6 would abort the app (exit 1: a bug, in a dependency)."""


class _Probe(QObject):
    ping = Signal()


def emit_loses_references() -> int:
    """How many references to ``True`` one emit from Python drops (0 with a correct PySide6)."""
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(PROBES):
        probe.ping.emit()
    return max(0, round((before - sys.getrefcount(True)) / PROBES))


def check_pyside() -> None:
    """Raise :class:`BrokenPySide` when signal emits leak references to ``True`` on an interpreter whose
    bools can be freed (CPython < 3.12)."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return  # bools are immortal there: a lost reference costs nothing
    if emit_loses_references():
        raise BrokenPySide(
            f"PySide6 {PYSIDE_VERSION} loses a reference to True on every signal emit and would abort the "
            "app after a few minutes; install another version: pip install 'PySide6-Essentials!=6.12.0'")
