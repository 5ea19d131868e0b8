"""PySide6 6.12.0 drops a reference to ``True`` per signal emit; Python 3.11 then aborts the app
("bool_dealloc"). The installed PySide6 must not, and the app refuses one that does before any window."""
from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, Signal

from ceusdesk.gui import app as gui_app
from ceusdesk.gui import pyside_guard
from ceusdesk.gui.pyside_guard import BrokenPySide, emit_loses_references

pytestmark = pytest.mark.gui


class Emitter(QObject):
    ping = Signal(bool)


def test_the_installed_pyside_keeps_its_references_through_more_emits_than_true_has():
    assert emit_loses_references() == 0  # fails on 6.12.0: the [app] extra must exclude it
    emitter = Emitter()
    seen = []
    emitter.ping.connect(seen.append)
    n = min(sys.getrefcount(True), 20_000) + 1000  # more emits than True has references (3.11)
    for _ in range(n):
        emitter.ping.emit(True)
    assert len(seen) == n and all(seen)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="bools are immortal: nothing to refuse")
def test_a_leaking_pyside_is_refused_before_any_window_with_the_fix(monkeypatch):
    monkeypatch.setattr(pyside_guard, "emit_loses_references", lambda: 1)
    monkeypatch.setattr(gui_app, "make_app", lambda: pytest.fail("a window was started"))
    with pytest.raises(BrokenPySide, match=r"PySide6-Essentials!=6\.12\.0"):
        gui_app.run(None)
