"""A guard against a PySide6 reference-count bug that aborts the app.

PySide6 6.12.0's ``SignalInstance.emit()`` returns ``True`` without taking a reference for it, so every
emit from Python drops one reference to the ``True`` singleton. On Python 3.11 (whose bools are not
immortal) the count reaches zero after some thousands of emits (minutes of clip playback: each decoded
frame emits twice) and the process aborts: "Fatal Python error: bool_dealloc: deallocating True or
False". :func:`guard_emit_refcount` measures what an emit on a throwaway signal loses and, when it loses
references, raises the counts of ``True`` and ``False`` by a margin no session can use up. Extra
references to the bool singletons cost nothing (they are never freed); with a PySide6 that keeps its
references, or a Python whose bools are immortal (3.12+), nothing is done.
"""
from __future__ import annotations

import ctypes
import logging
import sys

from PySide6 import __version__ as PYSIDE_VERSION
from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)

MARGIN = 1 << 40  # references added: about 10^12 emits
PROBES = 16


class _Probe(QObject):
    ping = Signal()


def emit_loses_references() -> int:
    """How many references to ``True`` one emit from Python drops (0 with a correct PySide6)."""
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(PROBES):
        probe.ping.emit()
    return max(0, round((before - sys.getrefcount(True)) / PROBES))


def guard_emit_refcount() -> bool:
    """Make the bool singletons outlive PySide6's lost references; True when they needed it (and have
    it now). Idempotent: a second call sees the margin and does nothing more."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12) or hasattr(sys, "getobjects"):
        return False  # not CPython, immortal bools, or a trace-refs build (another object layout)
    if sys.getrefcount(True) > MARGIN // 2:
        return True
    lost = emit_loses_references()
    if lost == 0:
        return False
    for singleton in (True, False):
        # ob_refcnt is the object's first field (CPython, release layout)
        ctypes.c_ssize_t.from_address(id(singleton)).value += MARGIN
    log.info("PySide6 %s drops %d reference(s) to True per signal emit: the bool singletons' counts "
             "were raised so the app cannot abort on it", PYSIDE_VERSION, lost)
    return True
