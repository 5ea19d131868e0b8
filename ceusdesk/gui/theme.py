"""Dark theme and high-DPI settings (set before the QApplication exists)."""
from __future__ import annotations

from importlib import resources

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication


def prepare_high_dpi() -> None:
    """Fractional scaling without rounding: crisp thumbnails at 125 % / 150 %. Call before QApplication."""
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)


def stylesheet() -> str:
    return resources.files("ceusdesk.gui").joinpath("dark.qss").read_text(encoding="utf-8")


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    pal = QPalette()
    for role, colour in {
        QPalette.ColorRole.Window: "#1e2126", QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#15171b", QPalette.ColorRole.AlternateBase: "#1b1e23",
        QPalette.ColorRole.Text: "#e6e6e6", QPalette.ColorRole.Button: "#2f343c",
        QPalette.ColorRole.ButtonText: "#e6e6e6", QPalette.ColorRole.Highlight: "#3a6ea5",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#23272e",
        QPalette.ColorRole.ToolTipText: "#e6e6e6", QPalette.ColorRole.PlaceholderText: "#8a8f98",
    }.items():
        pal.setColor(role, QColor(colour))
    app.setPalette(pal)
    app.setStyleSheet(stylesheet())
