"""Settings kept in QSettings: model package, de-identified reports, inference threads."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from ceusdesk.gui.widgets import describe

MAX_RECENT = 8


@dataclass
class AppSettings:
    model: str = ""  # manifest path; empty: the bundled model
    deidentify: bool = True  # reports leave the hospital: de-identified unless the user says otherwise
    threads: int = 0  # 0: let onnxruntime decide

    @classmethod
    def load(cls, qs: QSettings) -> AppSettings:
        return cls(model=str(qs.value("model", "") or ""),
                   deidentify=str(qs.value("deidentify", "true")).lower() in ("true", "1"),
                   threads=_int_setting(qs.value("threads", 0)))

    def save(self, qs: QSettings) -> None:
        qs.setValue("model", self.model)
        qs.setValue("deidentify", self.deidentify)
        qs.setValue("threads", self.threads)


def _int_setting(value: object) -> int:
    """An int as QSettings gives it back: the int itself, or its text (INI files); unset: 0."""
    if value is None or isinstance(value, int | float | str):
        return int(value or 0)
    raise TypeError(f"expected a number, got {type(value).__name__}")


def recent_studies(qs: QSettings) -> list[str]:
    value = qs.value("recent", []) or []
    # one item reads back from an INI file as a plain string, several as a list
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Iterable):
        raise TypeError(f"recent studies: expected a list, got {type(value).__name__}")
    return [str(v) for v in items]


def add_recent(qs: QSettings, path: str) -> list[str]:
    items = [path] + [p for p in recent_studies(qs) if p != path]
    qs.setValue("recent", items[:MAX_RECENT])
    return items[:MAX_RECENT]


class SettingsDialog(QDialog):
    def __init__(self, settings: AppSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.model = QLineEdit(settings.model, placeholderText="bundled model")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.model, 1)
        row.addWidget(browse)
        self.deidentify = QCheckBox("De-identify reports (no name, id, birth date, dates, file paths)")
        self.deidentify.setChecked(settings.deidentify)
        self.threads = QSpinBox()
        self.threads.setRange(0, 64)
        self.threads.setSpecialValueText("automatic")
        self.threads.setValue(settings.threads)
        std = QDialogButtonBox.StandardButton
        buttons = QDialogButtonBox(std.Ok | std.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("Model package (manifest.json)", row)
        form.addRow("", self.deidentify)
        form.addRow("Inference threads", self.threads)
        form.addRow(buttons)
        describe(self.model, "Model package", "A model package's manifest.json; empty: $CEUSDESK_MODEL, "
                                              "then the bundled package")
        describe(browse, "Browse for a model package")
        describe(self.deidentify, "De-identify reports")
        describe(self.threads, "Inference threads", "Threads for the model (0: automatic)")

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model manifest", "", "manifest (manifest.json *.json)")
        if path:
            self.model.setText(path)

    def values(self) -> AppSettings:
        return AppSettings(model=self.model.text().strip(), deidentify=self.deidentify.isChecked(),
                           threads=self.threads.value())
