"""Start the desktop app; with ``roi``/``liver_roi``/``analyze``/``screenshot`` it runs itself (docs, tests)
and exits."""
from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

# on Windows the package init (ceusdesk/gui/__init__.py) has loaded onnxruntime by now: DLL order
from PySide6.QtCore import QPoint, QRect, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from ceusdesk.base.roi import Roi
from ceusdesk.gui.main_window import MainWindow
from ceusdesk.gui.pyside_guard import check_pyside
from ceusdesk.gui.theme import apply_dark_theme, prepare_high_dpi

log = logging.getLogger(__name__)

DEFAULT_SIZE = (1280, 800)  # the first start's size; the window works down to 1024×700


def make_app() -> QApplication:
    app = QApplication.instance()
    if app is None:
        prepare_high_dpi()
        app = QApplication(sys.argv[:1])
        app.setOrganizationName("ceusdesk")
        app.setApplicationName("ceusdesk")
    if not isinstance(app, QApplication):  # a QCoreApplication (or QGuiApplication) cannot show widgets
        raise RuntimeError(f"the app needs a QApplication, this process has a {type(app).__name__}")
    apply_dark_theme(app)
    return app


def in_view(widget: QWidget, window: MainWindow) -> bool:
    """Whether ``widget`` lies wholly inside the result panel's scroll viewport (shown, not scrolled off)."""
    viewport = window.result_scroll.viewport()
    rect = QRect(widget.mapTo(viewport, QPoint(0, 0)), widget.size())
    return widget.isVisible() and viewport.rect().contains(rect)


def evidence_parts(window: MainWindow) -> dict[str, QWidget]:
    """What an evidence screenshot must show: the features (with their ranges and any borderline marker
    above them) and the curve."""
    ev = window.result_panel.evidence
    return {"the evidence features": ev.features, "the evidence curve": ev.curve}


def widen_for_evidence(window: MainWindow, step: int = 40) -> None:
    """Widen the result dock, at most to half the window, until the evidence fits the result panel's
    viewport: its lines wrap shorter in a wider dock (the default dock holds the features or the curve,
    rarely both)."""
    dock = window.result_dock
    ev, viewport = window.result_panel.evidence, window.result_scroll.viewport()
    for width in range(dock.width(), window.width() // 2 + 1, step):
        window.resizeDocks([dock], [width], Qt.Orientation.Horizontal)
        QApplication.processEvents()  # lay the dock out at its new width, the labels rewrapped
        if ev.height() <= viewport.height():
            return


def scroll_to_evidence(window: MainWindow) -> list[str]:
    """Scroll the result panel so the enhancement evidence, features through curve, is in view, with as
    much of the call above it as fits (the result dock widened when that makes it fit); returns what
    stays unseen, in words (none: all shown)."""
    ev = window.result_panel.evidence
    if not ev.isVisible():
        return ["the result has no enhancement evidence to show"]
    widen_for_evidence(window)
    panel = window.result_panel
    bar = window.result_scroll.verticalScrollBar()
    top = ev.mapTo(panel, QPoint(0, 0)).y()
    bottom = top + ev.height()
    # the evidence's bottom at the viewport's bottom; never past its title when it is taller than that
    bar.setValue(max(0, min(top, bottom - window.result_scroll.viewport().height())))
    return [f"{name} not in view; a taller --size shows it" for name, w in evidence_parts(window).items()
            if not in_view(w, window)]


class Automation:
    """Open → set the ROI (and the liver ROI) → analyze → screenshot → quit, each step on the previous
    one's signal. ``view``: "window" grabs the window as it stands; "evidence" scrolls the result panel
    to the enhancement evidence first."""

    def __init__(self, window: MainWindow, roi: Roi | None, analyze: bool, screenshot: Path | None,
                 liver_roi: Roi | None = None, view: str = "window"):
        self.window, self.roi, self.analyze, self.screenshot = window, roi, analyze, screenshot
        self.liver_roi, self.view = liver_roi, view
        self.exit_code = 0
        window.studyLoaded.connect(self._loaded)
        window.analysisFinished.connect(lambda _r: self._finish())
        window.analysisCancelled.connect(lambda: self._finish(1))
        window.errorShown.connect(self._error)

    def _loaded(self, _study) -> None:
        if self.roi is not None:
            self.window.set_roi("", self.roi)
        if self.liver_roi is not None:
            self.window.set_liver_roi(self.liver_roi)
            if self.window.liver_roi != self.liver_roi:  # refused (its centre off the contrast image)
                roi = ",".join(map(str, self.liver_roi))
                print(f"ceusdesk gui: --liver-roi {roi}: {self.window.status_text.text()}", file=sys.stderr)
                self._finish(2)
                return
        if self.analyze:
            self.window.analyze()
        else:
            self._finish()

    def _error(self, message: str) -> None:
        print(f"ceusdesk gui: {message}", file=sys.stderr)
        self._finish(1)

    def _finish(self, code: int = 0) -> None:
        self.exit_code = self.exit_code or code
        # let the last paint happen before grabbing
        QTimer.singleShot(300, self._grab_and_quit)

    def _grab_and_quit(self) -> None:
        from ceusdesk.gui.layout_check import clipped, low_density_pixmaps

        if self.view == "evidence" and not self.exit_code:  # after a failure there is no result to show
            for problem in scroll_to_evidence(self.window):
                print(f"ceusdesk gui: --screenshot-view evidence: {problem}", file=sys.stderr)
                self.exit_code = 1
        # what a small screen cuts off or draws blurred: say so
        for problem in clipped(self.window) + low_density_pixmaps(self.window):
            print(f"ceusdesk gui: layout: {problem}", file=sys.stderr)
        if self.screenshot is not None:
            self.screenshot.parent.mkdir(parents=True, exist_ok=True)
            if not self.window.grab().save(str(self.screenshot)):
                print(f"ceusdesk gui: {self.screenshot}: could not write the screenshot", file=sys.stderr)
                self.exit_code = self.exit_code or 1
        self.window.close()
        QApplication.exit(self.exit_code)


def run(study: str | Path | None = None, *, roi: Roi | None = None, analyze: bool = False,
        screenshot: str | Path | None = None, size: tuple[int, int] | None = None,
        liver_roi: Roi | None = None, screenshot_view: str = "window") -> int:
    """Run the app; returns the exit code. Automation uses throwaway settings (a default layout).

    ``size``: the window's size in logical pixels (screenshots at 1024×700, 1366×768, …);
    ``liver_roi``: the reference liver ROI, set as the ROI editor's Liver ROI mode sets it;
    ``screenshot_view``: "evidence" scrolls the result panel to the evidence before the grab."""
    check_pyside()  # before any window: a PySide6 that leaks references would abort it mid-case
    app = make_app()
    automated = screenshot is not None or analyze
    tmp = tempfile.TemporaryDirectory(prefix="ceusdesk-gui-") if automated else None
    qs = QSettings(str(Path(tmp.name) / "settings.ini"), QSettings.Format.IniFormat) if tmp else None
    window = MainWindow(qs)
    if size is not None:
        window.resize(*size)
    elif qs is not None or window.qs.value("window/geometry") is None:
        window.resize(*DEFAULT_SIZE)
    auto = (Automation(window, roi, analyze, Path(screenshot) if screenshot else None, liver_roi,
                       screenshot_view) if automated else None)
    window.show()
    if study is not None:
        window.open_study(study)
    elif auto is not None:
        auto._finish()
    code = app.exec()
    if tmp is not None:
        tmp.cleanup()
    return auto.exit_code if auto is not None else int(code)
