"""The app outlives PySide6 6.12.0's lost reference per signal emit (``ceusdesk.gui.pyside_guard``): without
the guard, emitting more signals than ``True`` has references aborts the process ("bool_dealloc")."""
from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, Signal

from ceusdesk.gui.pyside_guard import MARGIN, emit_loses_references

pytestmark = pytest.mark.gui


class Emitter(QObject):
    ping = Signal(bool)


def test_the_window_outlives_more_emits_than_true_had_references(window):
    if sys.version_info < (3, 12) and emit_loses_references():
        assert sys.getrefcount(True) > MARGIN // 2  # the window raised it
    emitter = Emitter()
    seen = []
    emitter.ping.connect(seen.append)
    # more emits than a Python 3.11 process has references to True (some thousands), capped for 3.12+
    n = min(sys.getrefcount(True), 20_000) + 1000
    for _ in range(n):
        emitter.ping.emit(True)
    assert len(seen) == n and all(seen)
