"""Run core work (decoding, study opening, inference) off the GUI thread, reporting back by signals.

A :class:`Task` wraps a callable ``fn(progress, cancel)`` where ``progress(done, total)`` reports and
``cancel()`` returns True once the user asked to stop — the same convention as the core's ``progress=``
and ``cancel=`` arguments, so core functions are passed through unchanged.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from ceusdesk.base.errors import Cancelled, CeusdeskError

log = logging.getLogger(__name__)

TaskFn = Callable[[Callable[[int, int], None], Callable[[], bool]], Any]


class TaskSignals(QObject):
    progress = Signal(int, int)  # done, total
    finished = Signal(object)  # the callable's return value
    failed = Signal(str)  # a one-line message
    cancelled = Signal()
    done = Signal()  # after any of the three above


class Task(QRunnable):
    """One unit of background work. Keep a reference to ``signals`` while the task runs."""

    def __init__(self, fn: TaskFn, name: str = "task"):
        super().__init__()
        self.fn = fn
        self.name = name
        self.signals = TaskSignals()
        self._cancel = threading.Event()
        self.setAutoDelete(False)  # the Python object owns it; Qt must not delete it under us

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:  # worker thread
        sig = self.signals
        try:
            def progress(done: int, total: int) -> None:
                sig.progress.emit(int(done), int(total))

            result = self.fn(progress, self._cancel.is_set)
            if self._cancel.is_set():
                sig.cancelled.emit()
            else:
                sig.finished.emit(result)
        except Cancelled:
            sig.cancelled.emit()
        except CeusdeskError as err:
            sig.failed.emit(str(err))
        except Exception as err:
            # a bug or a file problem: show one line, keep the traceback in the log
            log.exception("%s failed", self.name)
            sig.failed.emit(f"{type(err).__name__}: {err}")
        finally:
            sig.done.emit()


class Runner(QObject):
    """Owns a thread pool and the running tasks; one task per ``kind`` at a time (a newer one cancels)."""

    def __init__(self, parent: QObject | None = None, threads: int = 2):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max(1, threads))
        self.running: dict[str, Task] = {}
        self._kinds: dict[QObject, tuple[str, Task]] = {}

    def start(self, kind: str, task: Task) -> Task:
        old = self.running.get(kind)
        if old is not None:
            old.cancel()
        self.running[kind] = task
        self._kinds[task.signals] = (kind, task)
        # a bound method of this QObject: Qt queues the call into the GUI thread
        task.signals.done.connect(self._forget)
        self.pool.start(task)
        return task

    @Slot()
    def _forget(self) -> None:
        kind, task = self._kinds.pop(self.sender(), (None, None))
        if kind is not None and self.running.get(kind) is task:
            del self.running[kind]

    def cancel(self, kind: str) -> bool:
        task = self.running.get(kind)
        if task is None:
            return False
        task.cancel()
        return True

    def busy(self, kind: str) -> bool:
        return kind in self.running

    def shutdown(self, timeout_ms: int = 5000) -> None:
        for task in list(self.running.values()):
            task.cancel()
        self.pool.waitForDone(timeout_ms)
