"""Start the desktop app; with ``roi``/``analyze``/``screenshot`` it runs itself (docs, tests) and exits."""
from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

# on Windows the package init (ceusdesk/gui/__init__.py) has loaded onnxruntime by now: DLL order
from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from ..preprocess import Roi
from .main_window import MainWindow
from .theme import apply_dark_theme, prepare_high_dpi

log = logging.getLogger(__name__)

DEFAULT_SIZE = (1280, 800)  # the first start's size; the window works down to 1024×700


def make_app() -> QApplication:
    app = QApplication.instance()
    if app is None:
        prepare_high_dpi()
        app = QApplication(sys.argv[:1])
        app.setOrganizationName("ceusdesk")
        app.setApplicationName("ceusdesk")
    apply_dark_theme(app)
    return app


class Automation:
    """Open → set the ROI → analyze → screenshot → quit, each step on the previous one's signal."""

    def __init__(self, window: MainWindow, roi: Roi | None, analyze: bool, screenshot: Path | None):
        self.window, self.roi, self.analyze, self.screenshot = window, roi, analyze, screenshot
        self.exit_code = 0
        window.studyLoaded.connect(self._loaded)
        window.analysisFinished.connect(lambda _r: self._finish())
        window.analysisCancelled.connect(lambda: self._finish(1))
        window.errorShown.connect(self._error)

    def _loaded(self, _study) -> None:
        if self.roi is not None:
            self.window.set_roi("", self.roi)
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
        from .layout_check import clipped, low_density_pixmaps

        # what a small screen cuts off or draws blurred: say so
        for problem in clipped(self.window) + low_density_pixmaps(self.window):
            print(f"ceusdesk gui: layout: {problem}", file=sys.stderr)
        if self.screenshot is not None:
            self.screenshot.parent.mkdir(parents=True, exist_ok=True)
            if not self.window.grab().save(str(self.screenshot)):
                print(f"ceusdesk gui: {self.screenshot}: could not write the screenshot", file=sys.stderr)
                self.exit_code = self.exit_code or 1
        self.window.close()
        QApplication.instance().exit(self.exit_code)


def run(study: str | Path | None = None, *, roi: Roi | None = None, analyze: bool = False,
        screenshot: str | Path | None = None, size: tuple[int, int] | None = None) -> int:
    """Run the app; returns the exit code. Automation uses throwaway settings (a default layout).

    ``size``: the window's size in logical pixels (screenshots at 1024×700, 1366×768, …)."""
    app = make_app()
    automated = screenshot is not None or analyze
    tmp = tempfile.TemporaryDirectory(prefix="ceusdesk-gui-") if automated else None
    qs = QSettings(str(Path(tmp.name) / "settings.ini"), QSettings.Format.IniFormat) if tmp else None
    window = MainWindow(qs)
    if size is not None:
        window.resize(*size)
    elif qs is not None or window.qs.value("window/geometry") is None:
        window.resize(*DEFAULT_SIZE)
    auto = Automation(window, roi, analyze, Path(screenshot) if screenshot else None) if automated else None
    window.show()
    if study is not None:
        window.open_study(study)
    elif auto is not None:
        auto._finish()
    code = app.exec()
    if tmp is not None:
        tmp.cleanup()
    return auto.exit_code if auto is not None else int(code)
