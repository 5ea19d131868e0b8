"""The main window: wires the widgets to the core through ``backend`` and runs long work in workers.

A result belongs to its inputs. Each analysis is an :class:`backend.AnalysisRun` with a generation
number; a result is shown only when it comes from the latest run and the inputs (study, ROIs, tracking,
slots, injection time, contrast side, model) are still those the run started with. Any change clears it
("out of date — analyze again") and disables Export and Save as training case; opening or re-reading a
study cancels a running analysis, and its late result is dropped, never shown nor audited.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ceusdesk import RESEARCH_USE
from ceusdesk.base.classes import CLASSES
from ceusdesk.base.errors import CeusdeskError
from ceusdesk.base.protocol import SLOT_NAMES
from ceusdesk.base.roi import Roi
from ceusdesk.gui import backend
from ceusdesk.gui.clip_list import ClipList
from ceusdesk.gui.clip_viewer import ClipViewer
from ceusdesk.gui.result_panel import ResultPanel
from ceusdesk.gui.roi_editor import ADJUSTED, LIVER, PLACED, SHARED, RoiEditor
from ceusdesk.gui.settings_dialog import AppSettings, SettingsDialog, add_recent, recent_studies
from ceusdesk.gui.side_question import SideQuestion
from ceusdesk.gui.slot_timeline import SlotTimeline
from ceusdesk.gui.widgets import describe, named
from ceusdesk.gui.wording import in_app_words
from ceusdesk.gui.workers import Runner, Task
from ceusdesk.outputs.evidence_wording import liver_reference_extras
from ceusdesk.outputs.wording import CLASS_LABELS

log = logging.getLogger(__name__)

LABELS = CLASSES
OUT_OF_DATE = "Out of date — analyze again (Ctrl+R)."
ANALYZING = "Analyzing… Esc to cancel."
# what the keyboard does (Help ▸ Keyboard shortcuts); menu actions add their own shortcuts to the list
KEYS = (
    ("1 – 9", "select phase slot B, 0:30 … 10:00 and focus its card"),
    ("← / →", "on a slot card: the previous / next slot; in the clip viewer: the previous / next frame"),
    ("Space", "on a slot card: select that slot"),
    ("Enter", "on a slot card: type that slot's ROI (X,Y,W,H, then Enter)"),
    ("Delete", "on a slot card: clear the frame set by hand"),
    ("Space", "in the clip viewer: play / pause"),
    ("Tab / Shift+Tab", "move between controls"),
)


class FileDialogs:
    """The file dialogs the window asks; a test (or a script) replaces this object to answer them."""

    def study_folder(self, parent: QWidget) -> str:
        return QFileDialog.getExistingDirectory(parent, "Open study folder")

    def study_file(self, parent: QWidget) -> str:
        return QFileDialog.getOpenFileName(parent, "Open DICOMDIR or a file", "", "All files (*)")[0]

    def report_path(self, parent: QWidget) -> str:
        return QFileDialog.getSaveFileName(parent, "Export report", "ceusdesk-report.pdf", "PDF (*.pdf)")[0]

    def dicom_folder(self, parent: QWidget) -> str:
        return QFileDialog.getExistingDirectory(parent, "Export to DICOM: folder for the result objects")

    def cases_folder(self, parent: QWidget) -> str:
        return QFileDialog.getExistingDirectory(parent, "Training cases folder (cases.jsonl)")


class MainWindow(QMainWindow):
    studyLoaded = Signal(object)
    analysisFinished = Signal(dict)
    analysisCancelled = Signal()
    errorShown = Signal(str)
    reportWritten = Signal(str)
    dicomExported = Signal(str)  # the one line saying what was written
    resultsSent = Signal(str)
    caseSaved = Signal(str)

    def __init__(self, qsettings: QSettings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.qs = qsettings or QSettings("ceusdesk", "ceusdesk")
        self.settings = AppSettings.load(self.qs)
        self.runner = Runner(self, threads=2)
        self._task_generation: dict[Any, int] = {}  # analysis task signals → its run generation
        self.params: backend.StudyParams | None = None
        self.study: Any = None
        self.panels: dict[str, np.ndarray | None] = {}
        self.roi: Roi | None = None  # the shared ROI, in the reference slot's panel pixels
        self.user_rois: dict[str, Roi] = {}  # slot → ROI adjusted by hand for that slot only
        self.rois: dict[str, Roi] = {}  # slot → the ROI shown (placed, adjusted, or as the analysis used it)
        self.reference: str | None = None  # the slot the shared ROI refers to
        self.track = False
        # the evidence's reference liver ROI set by the user, in the reference slot's contrast-panel pixels
        # (None: the analysis places it automatically); liver_editing: the ROI editor's Liver ROI mode
        self.liver_roi: Roi | None = None
        self.liver_editing = False
        self.study_generation = 0  # bumped by every open/re-read: a late study load is dropped
        self.loaded_generation = -1  # the generation of ``self.study``
        self.run_generation = 0  # bumped by every analysis start and every change: the result token
        self.bound: tuple[backend.AnalysisRun, dict[str, Any]] | None = None  # the result and its run
        self.injection_confirmed = False  # the user confirmed the estimated injection time
        self.side_images: dict[str, np.ndarray] = {}
        self.error_box: QMessageBox | None = None
        self.dialogs = FileDialogs()
        self.setWindowTitle("ceusdesk — research use only")
        self.setAcceptDrops(True)
        self._build()
        self._actions()
        self._due_timer = QTimer(self)  # "Kupffer phase due at … (in m:ss)" counts down
        self._due_timer.setInterval(1000)
        self._due_timer.timeout.connect(self._update_due)
        geometry = self.qs.value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        state = self.qs.value("window/state")
        if state is not None:
            self.restoreState(state)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.clips = ClipList()
        self.viewer = ClipViewer(self.runner)
        self.roi_editor = RoiEditor()
        self.timeline = SlotTimeline()
        self.result_panel = ResultPanel()
        self.analyze_btn = named(QPushButton("Analyze"), "analyzeButton")
        describe(self.analyze_btn, "Analyze", "Classify the lesion in the ROI (Ctrl+R)")
        self.analyze_btn.clicked.connect(self.analyze)
        self.cancel_btn = named(QPushButton("Cancel"), "cancelButton")
        describe(self.cancel_btn, "Cancel analysis", "Stop the running analysis (Esc)")
        self.cancel_btn.clicked.connect(self.cancel_analysis)
        self.cancel_btn.setEnabled(False)
        self.export_btn = named(QPushButton("Export report…"), "exportButton")
        describe(self.export_btn, "Export report", "Write the PDF report and its JSON (Ctrl+E)")
        self.export_btn.clicked.connect(self.export_report_dialog)
        self.case_btn = named(QPushButton("Save as case…"), "caseButton")
        describe(self.case_btn, "Save as training case", "Save the analyzed frames and ROIs as a training "
                                                        "case with its pathology label (Ctrl+T)")
        self.case_btn.clicked.connect(self.save_case_dialog)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(200)
        describe(self.progress, "Progress")
        self.progress.hide()
        self.status_text = QLabel("Open a study: File ▸ Open folder (Ctrl+O), or drop it here.")
        self.status_text.setMinimumWidth(10)  # the status bar must never widen the window
        self.analyze_reason = named(QLabel(""), "analyzeReason")
        self.analyze_reason.setWordWrap(True)
        self.side_question = SideQuestion()
        self.side_question.chosen.connect(self.choose_side)

        centre = QSplitter(Qt.Orientation.Horizontal)
        centre.addWidget(self.viewer)
        centre.addWidget(self.roi_editor)
        centre.setSizes([560, 420])
        centre.setChildrenCollapsible(False)
        middle = QWidget()  # the side question, while open, sits above the viewer: it blocks analysis
        mid = QVBoxLayout(middle)
        mid.setContentsMargins(0, 0, 0, 0)
        mid.addWidget(self.side_question)
        mid.addWidget(centre, 1)
        self.setCentralWidget(middle)

        def dock(title: str, widget: QWidget, area: Qt.DockWidgetArea, name: str) -> QDockWidget:
            d = named(QDockWidget(title, self), name)
            d.setWidget(widget)
            d.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                          | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
            self.addDockWidget(area, d)
            return d

        dock("Clips", self.clips, Qt.DockWidgetArea.LeftDockWidgetArea, "clipsDock")
        side = QWidget()
        lay = QVBoxLayout(side)
        lay.setContentsMargins(0, 0, 0, 0)
        buttons = QHBoxLayout()
        buttons.addWidget(self.analyze_btn, 1)
        buttons.addWidget(self.cancel_btn)
        lay.addLayout(buttons)
        lay.addWidget(self.analyze_reason)
        # the result scrolls on a short screen; what to do with it stays in view below it
        self.result_scroll = QScrollArea()
        self.result_scroll.setWidget(self.result_panel)
        self.result_scroll.setWidgetResizable(True)
        self.result_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.result_scroll.setMinimumWidth(self.result_panel.minimumSizeHint().width() + 16)
        lay.addWidget(self.result_scroll, 1)
        after = QHBoxLayout()
        after.addWidget(self.export_btn)
        after.addWidget(self.case_btn)
        lay.addLayout(after)
        self.result_dock = dock("Result", side, Qt.DockWidgetArea.RightDockWidgetArea, "resultDock")
        dock("Phase slots", self.timeline, Qt.DockWidgetArea.BottomDockWidgetArea, "slotsDock")
        self.statusBar().addWidget(self.status_text, 1)
        self.statusBar().addPermanentWidget(self.progress)
        ruo = named(QLabel(RESEARCH_USE), "researchUse")
        self.statusBar().addPermanentWidget(ruo)

        self.clips.clipSelected.connect(self.viewer.show_clip)
        self.viewer.useFrameForSlot.connect(self.use_frame_for_slot)
        self.viewer.swapPanels.connect(self.swap_panels)
        self.timeline.slotSelected.connect(self.select_slot)
        self.timeline.clipDropped.connect(self.assign_clip)
        self.timeline.clearRequested.connect(self.clear_override)
        self.timeline.injectionChanged.connect(self.set_injection_time)
        self.timeline.confirmInjection.connect(self.ask_confirm_injection)
        self.timeline.editRoiRequested.connect(self.edit_roi_text)
        self.roi_editor.typed.connect(self._back_to_slot)
        self.roi_editor.roiChanged.connect(self.set_roi)
        self.roi_editor.resetRequested.connect(self.reset_slot_roi)
        self.roi_editor.trackingChanged.connect(self._set_tracking)
        self.roi_editor.liverModeChanged.connect(self.set_liver_mode)
        self.roi_editor.liverChanged.connect(self.set_liver_roi)
        self.roi_editor.liverResetRequested.connect(self.reset_liver_roi)

    def _actions(self) -> None:
        def act(menu, text: str, slot,
                shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None) -> QAction:
            a = QAction(text, self)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
            a.triggered.connect(slot)
            menu.addAction(a)
            return a

        f = self.menuBar().addMenu("&File")
        act(f, "Open &folder…", self._open_folder_dialog, QKeySequence.StandardKey.Open)
        act(f, "Open DICOMDIR or &files…", self._open_files_dialog, "Ctrl+Shift+O")
        self.recent_menu = f.addMenu("&Recent studies")
        self._fill_recent()
        f.addSeparator()
        self.report_action = act(f, "Export &report (PDF + JSON)…", self.export_report_dialog, "Ctrl+E")
        self.dicom_action = act(f, "Export to &DICOM (SR, key images, PDF, ROIs)…", self.export_dicom_dialog,
                                "Ctrl+Shift+E")
        # offered only where IT configured a destination ($CEUSDESK_SEND_TO, docs/it-guide.md)
        self.destination = backend.send_destination()
        self.send_action = None if self.destination is None else \
            act(f, f"Se&nd results to PACS ({self.destination})", self.send_results)
        self.case_action = act(f, "Save as &training case…", self.save_case_dialog, "Ctrl+T")
        f.addSeparator()
        act(f, "&Settings…", self.settings_dialog, "Ctrl+,")
        act(f, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        a = self.menuBar().addMenu("&Analysis")
        act(a, "&Analyze", self.analyze, "Ctrl+R")
        act(a, "&Cancel", self.cancel_analysis, "Esc")
        a.addSeparator()
        act(a, "Edit the ROI &box (X,Y,W,H)", lambda: self.edit_roi_text(self.timeline.selected), "Ctrl+L")
        act(a, "&Liver ROI mode (place, move, resize) on / off", self.roi_editor.toggle_liver_mode,
            "Ctrl+Shift+L")
        act(a, "Reset liver ROI to a&utomatic", self.reset_liver_roi)
        act(a, "Clip &viewer", lambda: self.viewer.view.setFocus(Qt.FocusReason.ShortcutFocusReason),
            "Ctrl+Shift+V")
        h = self.menuBar().addMenu("&Help")
        act(h, "&Keyboard shortcuts", self.show_shortcuts, QKeySequence.StandardKey.HelpContents)
        for i, name in enumerate(SLOT_NAMES[:9], start=1):
            key = QShortcut(QKeySequence(str(i)), self)
            key.activated.connect(lambda n=name: self.focus_slot(n))
        self._set_tab_order()
        self._update_actions()

    def _set_tab_order(self) -> None:
        """Tab follows the work: clips, viewer, ROI, slot cards, injection, then Analyze and the result."""
        chain = [self.clips.table, self.viewer.view, self.viewer.play, self.viewer.slider, self.viewer.swap,
                 self.viewer.use, self.roi_editor.text, self.roi_editor.track, self.roi_editor.reset,
                 self.roi_editor.liver_button, self.roi_editor.liver_reset,
                 *self.timeline.cards.values(), self.timeline.inj_edit, self.timeline.inj_apply,
                 self.timeline.inj_reset, self.timeline.inj_confirm, self.analyze_btn, self.cancel_btn,
                 self.result_panel.details.toggle, self.export_btn, self.case_btn]
        for a, b in zip(chain, chain[1:], strict=False):
            QWidget.setTabOrder(a, b)

    def shortcuts(self) -> list[tuple[str, str]]:
        """(keys, what they do): the menu actions' shortcuts, then the keys of the slots and viewer."""
        rows = []
        for menu_action in self.menuBar().actions():
            menu = menu_action.menu()  # every action of the menu bar opens a menu
            if not isinstance(menu, QMenu):
                continue
            for a in menu.actions():
                if not a.shortcut().isEmpty():
                    rows.append((a.shortcut().toString(QKeySequence.SequenceFormat.NativeText),
                                 a.text().replace("&", "").rstrip("…")))
        return rows + list(KEYS)

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{k}</b>&nbsp;&nbsp;</td><td>{v}</td></tr>" for k, v in self.shortcuts())
        box = QMessageBox(QMessageBox.Icon.Information, "Keyboard shortcuts", f"<table>{rows}</table>",
                          QMessageBox.StandardButton.Close, self)
        box.setObjectName("shortcutsBox")
        box.open()

    def focus_slot(self, slot: str) -> None:
        if slot in self.timeline.cards:
            self.timeline.focus_slot(slot)

    def _back_to_slot(self) -> None:
        """After an ROI typed in the box: the keyboard goes back to the slot card (1–9 work again)."""
        if self.timeline.selected is not None:
            self.timeline.cards[self.timeline.selected].setFocus(Qt.FocusReason.OtherFocusReason)

    def edit_roi_text(self, slot: str | None) -> None:
        """Keyboard ROI entry: the ROI box of the selected slot, text selected to overwrite."""
        if slot is not None and slot != self.timeline.selected:
            self.timeline.select(slot)
        self.roi_editor.text.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.roi_editor.text.selectAll()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in recent_studies(self.qs):
            self.recent_menu.addAction(path, partial(self.open_study, path))
        self.recent_menu.setEnabled(not self.recent_menu.isEmpty())

    # ------------------------------------------------------------------ the result and its inputs
    @property
    def result(self) -> dict[str, Any] | None:
        """The result on screen: only while the inputs it was computed from are unchanged."""
        if self.bound is None or self.bound[0].inputs != self.current_inputs():
            return None
        return self.bound[1]

    def current_inputs(self) -> backend.Inputs | None:
        if self.study is None:
            return None
        return backend.inputs_of(self.study, self.loaded_generation, self.analysis_params())

    def _drop_result(self, message: str = OUT_OF_DATE) -> None:
        """Cancel a running analysis (its result will not be taken) and clear the result shown."""
        self.run_generation += 1
        if self.runner.cancel("analyze"):
            self.status_text.setText("analysis cancelled: its inputs changed")
        if self.bound is not None or self.result_panel.result is not None:
            self.bound = None
            self.result_panel.clear(message)
            # the result's liver ROI goes with it, from every thumbnail and the ROI editor (one the user
            # set stays on the reference slot: it is an input)
            self._refresh_thumbnails()
            self._canvas_liver()
        self._update_actions()

    def _inputs_changed(self) -> None:
        """After any change of what an analysis depends on: a result that no longer matches goes."""
        running = self.runner.busy("analyze")
        if running or (self.bound is not None and self.result is None):
            self._drop_result()
        else:
            self._update_actions()

    def analysis_blockers(self) -> list[str]:
        """Why Analyze is disabled, in the app's words: questions only the user can answer and slots only
        the user can fill (the ROI is asked on click)."""
        if self.study is None:
            return ["Open a study first (Ctrl+O)."]
        reasons = []
        missing = backend.missing_for_early(self.study)
        if missing:
            reasons.append(f"Phase set incomplete: {', '.join(missing)} not acquired. Drag a clip from the "
                           f"list onto the red {missing[0]} card, or use a frame from the viewer "
                           f"(Use frame for slot ▸ {missing[0]}).")
        if not self.side_settled():
            reasons.append("Pick the contrast panel (left or right) above before analyzing.")
        if backend.injection_needs_confirmation(self.study) and not self.injection_confirmed:
            reasons.append("Confirm the estimated injection time (Phase slots ▸ Confirm injection time…).")
        return reasons

    def side_settled(self) -> bool:
        return backend.side_sure(self.study)

    def _update_actions(self) -> None:
        has_result = self.result is not None
        busy = self.runner.busy("analyze")
        self.report_action.setEnabled(has_result)
        self.dicom_action.setEnabled(has_result)
        if self.send_action is not None:
            self.send_action.setEnabled(has_result and not self.runner.busy("send"))
        self.case_action.setEnabled(has_result)
        self.export_btn.setEnabled(has_result)
        self.case_btn.setEnabled(has_result)
        blockers = self.analysis_blockers()
        self.analyze_btn.setEnabled(self.study is not None and not blockers and not busy)
        self.cancel_btn.setEnabled(busy)
        hint = blockers[0] if blockers else ""
        if not hint and self.study is not None and self.roi is None:
            hint = "Draw the ROI around the lesion on any slot, then Analyze."
        self.analyze_reason.setText(hint)
        self.analyze_reason.setVisible(bool(hint))

    # ------------------------------------------------------------------ errors and progress
    def show_error(self, message: str) -> None:
        """A non-blocking error dialog: the window stays usable behind it."""
        message = in_app_words(message)
        log.warning("error shown to the user: %s", message)
        if self.error_box is not None:
            self.error_box.close()
        self.error_box = QMessageBox(QMessageBox.Icon.Critical, "ceusdesk", message, parent=self)
        self.error_box.open()
        self.status_text.setText(message)
        self.errorShown.emit(message)

    def _progress(self, done: int, total: int) -> None:
        self.progress.show()
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _idle(self) -> None:
        self.progress.hide()

    # ------------------------------------------------------------------ opening
    def _open_folder_dialog(self) -> None:
        path = self.dialogs.study_folder(self)
        if path:
            self.open_study(path)

    def _open_files_dialog(self) -> None:
        path = self.dialogs.study_file(self)
        if path:
            self.open_study(path)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        urls = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if urls:
            event.acceptProposedAction()
            self.open_study(urls[0])

    def open_study(self, path: str | Path) -> None:
        path = Path(path)
        if not path.exists():
            self.show_error(f"{path}: no such file or folder")
            return
        self.params = backend.StudyParams(path=path)
        self.roi, self.user_rois, self.rois = None, {}, {}
        self.liver_roi, self.liver_editing = None, False  # it was drawn on the other study's image
        self.roi_editor.set_liver_mode(False)
        self.injection_confirmed = False
        self.side_question.hide()
        self._drop_result("Draw the ROI and press Analyze (Ctrl+R).")
        self.reload()

    def reload(self) -> None:
        """(Re-)open the study with the current parameters, then decode the nine slot frames."""
        if self.params is None:
            return
        params = self.params
        self.study_generation += 1
        generation = self.study_generation
        self._drop_result()  # a re-read study is another study: no result carries over

        def work(progress, cancel):
            study = params.open(progress=progress, cancel=cancel)
            panels = backend.all_slot_panels(study, cancel)
            images = {} if backend.side_sure(study) else backend.side_images(study)
            return generation, study, panels, images

        self.status_text.setText(f"reading {params.path.name} …")
        task = Task(work, "open study")
        task.signals.progress.connect(self._progress)
        task.signals.finished.connect(self._study_ready)
        task.signals.failed.connect(self._study_failed)
        task.signals.done.connect(self._idle)
        self.runner.start("study", task)

    def _study_failed(self, message: str) -> None:
        self.show_error(message)
        self._update_actions()

    def _study_ready(self, payload: tuple[int, Any, dict[str, np.ndarray | None], dict]) -> None:
        generation, study, panels, images = payload
        if generation != self.study_generation:
            log.info("a superseded study load finished: dropped")
            return
        first_open = self.study is None or Path(self.study.root) != Path(study.root)
        self.study, self.panels, self.loaded_generation = study, panels, generation
        self.side_images = images
        self.clips.set_study(study)
        self.viewer.set_study(study)
        self.timeline.set_study(study, self.injection_confirmed)
        self._drop_result("Draw the ROI and press Analyze (Ctrl+R)." if self.roi is None else OUT_OF_DATE)
        if self.side_settled():
            self.side_question.hide()
        else:
            self.side_question.ask(images, backend.side_evidence(study), study.contrast_panel,
                                   getattr(study, "contrast_panel_reason", ""))
        self.reference = backend.reference_slot(study, panels)
        if self.reference is not None:
            self.user_rois.pop(self.reference, None)  # the reference slot's ROI is the shared one
        self._update_placements()
        if first_open and self.params is not None:  # (it is: the study was read with them)
            add_recent(self.qs, str(self.params.path))
            self._fill_recent()
        # the ROI is drawn in contrast-panel pixels: start on the first contrast slot
        contrast = [s.name for s in study.protocol.contrast_slots if panels.get(s.name) is not None]
        slot = self.timeline.selected or (contrast[0] if contrast else None)
        if slot is not None:
            self.timeline.select(slot)
            row = next((i for i, e in enumerate(study.clips) if slot in e.slots), None)
            if row is not None:
                self.clips.table.selectRow(row)
        self.status_text.setText(f"{len(study.clips)} clips, phase set {study.phase_set}")
        self._update_due()
        self._update_actions()
        self.studyLoaded.emit(study)

    def _update_due(self, now: Any = None) -> None:
        """With an early set while the exam may still run: "Kupffer phase due at HH:MM (in m:ss)"."""
        due = None if self.study is None else backend.kupffer_due(self.study, now)
        if due is None:
            self.result_panel.set_due("")
            self._due_timer.stop()
            return
        when, left, slot = due
        wait = f"in {int(left // 60)}:{int(left % 60):02d}" if left > 0 else "now"
        self.result_panel.set_due(f"Kupffer phase ({slot}) due at {when.strftime('%H:%M')} ({wait})")
        if not self._due_timer.isActive():
            self._due_timer.start()

    # ------------------------------------------------------------------ slots, overrides, injection
    def assign_clip(self, slot: str, row: int) -> None:
        clip = self.study.clips[row].clip
        self.use_frame_for_slot(slot, row, max(0, clip.usable_frames // 2))

    def use_frame_for_slot(self, slot: str, row: int, frame_index: int) -> None:
        if self.params is None:
            return
        clip = self.study.clips[row].clip
        self.params.slot_overrides[slot] = {"path": str(clip.path), "frame_index": int(frame_index)}
        self.user_rois.pop(slot, None)  # it was set on the frame this one replaces
        self.reload()

    def clear_override(self, slot: str) -> None:
        if self.params is not None and self.params.slot_overrides.pop(slot, None) is not None:
            self.user_rois.pop(slot, None)
            self.reload()
        else:
            self.status_text.setText(f"slot {slot}: no frame set by hand, nothing to clear")

    def set_injection_time(self, text: str) -> None:
        if self.params is None:
            return
        self.params.injection_time = text or None
        self.injection_confirmed = False  # a new estimate (Reset) must be confirmed again
        self.reload()

    def ask_confirm_injection(self) -> None:
        """The estimated injection time: the user confirms it, or types the right one."""
        if self.study is None or self.study.injection_time is None:
            return
        shown = self.study.injection_time.strftime("%H:%M:%S")
        box = QMessageBox(QMessageBox.Icon.Question, "Confirm the injection time",
                          f"The injection time {shown} was estimated from the arrival of contrast in the "
                          "first contrast clip. Every slot's time depends on it.\n\nIs it right? If not, "
                          "type the time of injection in the box and press Set injection time.",
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self)
        box.button(QMessageBox.StandardButton.Yes).setText("Confirm " + shown)
        box.button(QMessageBox.StandardButton.No).setText("Not right")
        if box.exec() == QMessageBox.StandardButton.Yes:
            self.confirm_injection()
        else:
            self.timeline.inj_edit.setFocus()

    def confirm_injection(self) -> None:
        if self.study is None:
            return
        self.injection_confirmed = True
        self.timeline.set_injection_confirmed(self.study, True)
        self.status_text.setText("estimated injection time confirmed")
        self._update_actions()

    def choose_side(self, side: str) -> None:
        """The user's answer to "which panel shows contrast?": audited, then the study is re-read."""
        if self.params is None or self.study is None:
            return
        try:
            backend.audit_side_choice(self.study, side)
        except OSError as err:
            self.show_error(f"the audit log could not be written: {err}")
        self.params.contrast_panel = side
        self.side_question.hide()
        self.reload()

    def swap_panels(self) -> None:
        if self.params is not None and self.study is not None:
            self.choose_side(backend.other_side(self.study.contrast_panel))

    # ------------------------------------------------------------------ ROI
    def roi_mode(self, slot: str) -> str:
        """What a drag on ``slot`` does: draw the shared ROI (on the reference slot, or while there is
        none yet), or adjust this slot's ROI only."""
        if slot in self.user_rois:
            return ADJUSTED
        if self.roi is None or not slot or slot == self.reference:
            return SHARED
        return PLACED

    def select_slot(self, slot: str) -> None:
        if self.liver_editing and slot != self.reference:  # the liver ROI is set on the reference slot only
            self.liver_editing = False
        mode = LIVER if self.liver_editing else self.roi_mode(slot)
        roi = self.roi if mode in (SHARED, LIVER) else self.rois.get(slot, self.user_rois.get(slot, self.roi))
        self.roi_editor.show_slot(slot, self.panels.get(slot), roi, mode, self.liver_rois().get(slot),
                                  liver_set=self.liver_roi is not None,
                                  liver_extra=self.liver_extras().get(slot, ()))
        self.roi_editor.set_liver_state(self.liver_roi is not None, self._liver_note())

    def set_roi(self, slot: str, roi: tuple) -> None:
        """The ROI drawn on ``slot`` ("" or the reference slot: the shared one, in contrast-panel
        pixels). On another slot, once a shared ROI exists, it is that slot's ROI only."""
        roi = tuple(int(v) for v in roi)
        if self.roi_mode(slot) == SHARED:
            if slot and self.study is not None:
                roi = backend.roi_to_reference(self.study, roi, slot, self.panels)
            self.roi = roi
        else:
            self.user_rois[slot] = roi
        self._roi_edited()
        self._inputs_changed()

    def reset_slot_roi(self, slot: str) -> None:
        """Forget ``slot``'s hand-set ROI: the shared ROI is placed there again."""
        if self.user_rois.pop(slot, None) is not None:
            self._roi_edited()
            self._inputs_changed()

    def _roi_edited(self) -> None:
        """The placements of the last analysis (tracked ones) no longer hold: show the new ones."""
        self._update_placements()
        if self.timeline.selected is not None:
            self.select_slot(self.timeline.selected)
        self._update_actions()

    def _update_placements(self, used: dict[str, Roi] | None = None) -> None:
        """Each slot's ROI as the analysis will place it (``used``: as the analysis did); thumbnails."""
        placed = dict(self.user_rois)
        if self.roi is not None and self.study is not None:
            placed = backend.place_rois(self.study, self.roi, self.user_rois, self.panels)
        self.rois = {**placed, **(used or {})}
        self._refresh_thumbnails()

    def _set_tracking(self, on: bool) -> None:
        self.track = bool(on)
        self._inputs_changed()

    def liver_rois(self) -> dict[str, Roi]:
        """slot → the reference liver ROI shown: the result's on every slot it placed one; without a
        current result, the one the user set, on the reference slot (where it is set)."""
        result = self.result
        if result is None:
            if self.liver_roi is not None and self.reference is not None:
                return {self.reference: self.liver_roi}
            return {}
        ev = result.get("evidence") or {}
        return {k: backend.as_roi(v) for k, v in (ev.get("liver_rois") or {}).items() if v}

    def liver_extras(self) -> dict[str, list[Roi]]:
        """slot → the further squares the current result read the liver's level over (``liver_reference``
        after the liver ROI), on the reference slot, where they were placed; none when the user set the
        liver ROI (it is read alone) or without a current result."""
        # the same rule as the PDF's thumbnails
        return liver_reference_extras((self.result or {}).get("evidence") or {}, self.reference)

    def _canvas_liver(self) -> None:
        """The ROI editor's liver ROI (and further squares) as they stand now (after the result went, or a
        liver ROI was refused)."""
        slot = self.roi_editor.slot or ""
        self.roi_editor.canvas.liver = self.liver_rois().get(slot)
        self.roi_editor.canvas.liver_extra = list(self.liver_extras().get(slot, ()))
        self.roi_editor.canvas.update()

    # ------------------------------------------------------------------ the reference liver ROI
    def set_liver_mode(self, on: bool) -> None:
        """The ROI editor's Liver ROI mode: a drag places, moves or resizes the liver ROI on the reference
        slot (selecting another slot leaves the mode)."""
        if on and self.reference is None:
            self.roi_editor.set_liver_mode(False)
            self.roi_editor.refuse("Open a study first: the liver ROI is placed on the contrast image of "
                                   "its first contrast slot.")
            return
        self.liver_editing = bool(on)
        if on and self.reference is not None and self.timeline.selected != self.reference:
            self.timeline.select(self.reference)  # → select_slot
        elif self.timeline.selected is not None:
            self.select_slot(self.timeline.selected)
        if on:
            self.status_text.setText(f"Liver ROI mode on slot {self.reference}: drag to place the reference "
                                     "liver ROI; press Liver ROI again for the lesion ROI")

    def _reference_panel(self) -> np.ndarray | None:
        return None if self.reference is None else self.panels.get(self.reference)

    def _liver_note(self) -> str:
        """What the evidence will note of the user's liver ROI (the core's words): overlap, or why it
        would be refused now (the panels were swapped)."""
        if self.liver_roi is None:
            return ""
        try:
            return "; ".join(backend.liver_roi_notes(self.liver_roi, self.roi, self._reference_panel()))
        except CeusdeskError as err:
            return _sentence(in_app_words(str(err)))

    def set_liver_roi(self, roi: tuple) -> None:
        """The liver ROI placed, moved, resized or typed in Liver ROI mode (reference contrast-panel
        pixels). One whose centre lies outside the contrast image is refused, in the app's words."""
        roi = (int(roi[0]), int(roi[1]), int(roi[2]), int(roi[3]))
        try:
            backend.liver_roi_notes(roi, self.roi, self._reference_panel())
        except CeusdeskError as err:
            message = _sentence(in_app_words(str(err)))
            log.info("liver ROI refused: %s", message)
            self.roi_editor.refuse(message)
            self.status_text.setText(message)
            self._canvas_liver()
            return
        self.liver_roi = roi
        self._inputs_changed()
        self._liver_edited()
        self.status_text.setText(f"liver ROI set: {','.join(map(str, roi))} (slot {self.reference})")

    def reset_liver_roi(self) -> None:
        """Back to automatic placement: the analysis places the liver ROI beside the lesion."""
        if self.liver_roi is None:
            self.status_text.setText("the liver ROI is already placed automatically")
            return
        self.liver_roi = None
        self._inputs_changed()
        self._liver_edited()
        self.status_text.setText("liver ROI: placed automatically by the next analysis")

    def _liver_edited(self) -> None:
        self._refresh_thumbnails()
        if self.timeline.selected is not None:
            self.select_slot(self.timeline.selected)

    def _refresh_thumbnails(self) -> None:
        livers, extras = self.liver_rois(), self.liver_extras()
        for name, card in self.timeline.cards.items():
            card.set_image(self.panels.get(name), self.rois.get(name, self.roi), livers.get(name),
                           extras.get(name, ()))
            card.set_roi_adjusted(name in self.user_rois)

    # ------------------------------------------------------------------ analysis
    def analysis_params(self) -> backend.AnalysisParams | None:
        """What Analyze runs with; None until the ROI is drawn (an analysis needs one)."""
        if self.roi is None:
            return None
        return backend.AnalysisParams(roi=self.roi, track_roi=self.track, rois=dict(self.user_rois),
                                      model=self.settings.model or None, threads=self.settings.threads,
                                      liver_roi=self.liver_roi)

    def analyze(self) -> None:
        blockers = self.analysis_blockers()
        if blockers:
            self.show_error(blockers[0])
            return
        params = self.analysis_params()
        if params is None:
            self.show_error("Draw the ROI around the lesion on any slot first.")
            return
        if self.liver_roi is not None:
            try:  # the panels may have changed under it (swapped sides): say so before the model runs
                backend.liver_roi_notes(self.liver_roi, self.roi, self._reference_panel())
            except CeusdeskError as err:
                self.show_error(_sentence(str(err)))
                return
        if self.runner.busy("analyze"):
            return
        self.run_generation += 1
        # the inputs of the parameters it runs with: current_inputs(), a study being open (no blocker)
        inputs = backend.inputs_of(self.study, self.loaded_generation, params)
        run = backend.AnalysisRun(
            generation=self.run_generation, inputs=inputs, study=self.study, params=params,
            panels=dict(self.panels), injection_confirmed=self.injection_confirmed)
        self.bound = None
        task = Task(lambda progress, cancel: (run, backend.analyze(run.study, params, run.panels, progress,
                                                                   cancel)), "analyze")
        task.signals.progress.connect(self._progress)
        task.signals.finished.connect(self._analysis_ready)
        task.signals.failed.connect(self._analysis_failed)
        task.signals.cancelled.connect(self._analysis_cancelled)
        task.signals.done.connect(self._analysis_done)
        self._task_generation[task.signals] = run.generation
        self.result_panel.clear(ANALYZING)
        self.runner.start("analyze", task)
        self.status_text.setText("analyzing …")
        self._update_actions()

    def cancel_analysis(self) -> None:
        if self.runner.cancel("analyze"):
            self.status_text.setText("cancelling …")

    def _current_task(self) -> bool:
        """Whether the signal being handled comes from the latest analysis (the generation token)."""
        return self._task_generation.get(self.sender()) == self.run_generation

    def _analysis_done(self) -> None:
        self._task_generation.pop(self.sender(), None)
        self._idle()
        # the runner forgets the task in its own slot: update once that has run
        QTimer.singleShot(0, self._update_actions)

    def _analysis_failed(self, message: str) -> None:
        if not self._current_task():
            log.info("a superseded analysis failed: %s", message)
            return
        self.result_panel.clear("No result: " + message)
        self.show_error(message)

    def _analysis_cancelled(self) -> None:
        if not self._current_task():
            return
        self.result_panel.clear("Analysis cancelled.")
        self.status_text.setText("analysis cancelled")
        self.analysisCancelled.emit()

    def _analysis_ready(self, payload: tuple[backend.AnalysisRun, dict]) -> None:
        run, result = payload
        if run.generation != self.run_generation or run.inputs != self.current_inputs():
            # another study was opened or an input changed since it started: never shown, never audited
            log.info("a result of superseded inputs arrived: dropped")
            return
        self.bound = (run, result)
        # where the engine placed the ROI on each slot (mapped to other panel sizes, tracked, adjusted)
        self._update_placements(backend.used_rois(run, result))
        if self.timeline.selected is not None:
            self.select_slot(self.timeline.selected)
        self.result_panel.show_result(result, backend.not_acquired(run.study), self._result_chips(run),
                                      backend.used_slot_times(run, result))
        self.status_text.setText(f"result: {result.get('call')} ({result.get('phase_set')} set)")
        try:
            backend.audit_run(run, result)
        except OSError as err:
            self.show_error(f"the audit log could not be written: {err}")
        self._update_actions()
        self.analysisFinished.emit(result)

    @staticmethod
    def _result_chips(run: backend.AnalysisRun) -> list[str]:
        chips = []
        if backend.injection_needs_confirmation(run.study):
            chips.append("injection time estimated, confirmed by you")
        if backend.side_chosen_by_user(run.study):
            chips.append(f"contrast panel: {run.study.contrast_panel}, chosen by you")
        return chips

    # ------------------------------------------------------------------ report and training case
    def _on_result(self, kind: str, what: str, work: Callable[[backend.AnalysisRun, dict], Any],
                   done: Callable[[Any], None]) -> None:
        """Run ``work(run, result)`` for the result on screen in a worker; ``done`` gets its return value."""
        if self.result is None or self.bound is None:  # no result shown without its run
            self.show_error(f"No current result to {what}: analyze first.")
            return
        run, result = self.bound
        task = Task(lambda _p, _c: work(run, result), kind)
        task.signals.finished.connect(done)
        task.signals.failed.connect(self.show_error)
        self.runner.start(kind, task)

    def export_report_dialog(self) -> None:
        path = self.dialogs.report_path(self) if self.result is not None else ""
        if path:
            self.export_report(path)

    def export_report(self, path: str | Path) -> None:
        """The report of the result on screen, built from what its analysis used."""
        deid = self.settings.deidentify
        self._on_result("report", "export", lambda run, result: backend.write_report(path, run, result, deid),
                        self._report_written)

    def _report_written(self, path: str) -> None:
        self.status_text.setText(f"report written: {path}")
        self.reportWritten.emit(path)

    def export_dicom_dialog(self) -> None:
        folder = self.dialogs.dicom_folder(self) if self.result is not None else ""
        if folder:
            self.export_dicom(folder)

    def export_dicom(self, folder: str | Path) -> None:
        """The DICOM results of the result on screen (the PDF alone for video/still input, said so)."""
        deid = self.settings.deidentify
        self._on_result("dicom", "export",
                        lambda run, result: backend.export_dicom(folder, run, result, deid).message,
                        self._dicom_exported)

    def _dicom_exported(self, message: str) -> None:
        self.status_text.setText(message)
        self.dicomExported.emit(message)

    def send_results(self) -> None:
        """Export to the outbox and store in the PACS IT configured; progress in the status line."""
        if self.result is None or self.bound is None or self.destination is None:
            return
        run, result = self.bound
        deid, dest = self.settings.deidentify, self.destination
        task = Task(lambda p, _c: backend.send_results(run, result, deid, dest, p), "send")
        task.signals.progress.connect(lambda d, t: self.status_text.setText(f"sending to {dest}: {d} of {t}"))
        task.signals.finished.connect(self._results_sent)
        task.signals.failed.connect(self.show_error)
        task.signals.done.connect(self._update_actions)
        self.status_text.setText(f"sending to {dest} …")
        self.runner.start("send", task)
        self._update_actions()

    def _results_sent(self, message: str) -> None:
        self.status_text.setText(message)
        self.resultsSent.emit(message)

    def save_case_dialog(self) -> None:
        if self.result is None:
            return
        shown, ok = QInputDialog.getItem(self, "Save as training case", "Label (from pathology):",
                                         [CLASS_LABELS[c] for c in LABELS], 0, False)
        if not ok:
            return
        label = next(c for c in LABELS if CLASS_LABELS[c] == shown)
        folder = self.dialogs.cases_folder(self)
        if folder:
            self.save_case(folder, label)

    def save_case(self, folder: str | Path, label: str) -> None:
        """The training case of the result on screen: the frames, ROIs and times its analysis used."""
        self._on_result("case", "save", lambda run, result: backend.save_case(folder, run, result, label),
                        self._case_saved)

    def _case_saved(self, case_dir: str) -> None:
        self.status_text.setText(f"training case saved: {case_dir}")
        self.caseSaved.emit(case_dir)

    # ------------------------------------------------------------------ settings and closing
    def settings_dialog(self) -> None:
        dlg = SettingsDialog(self.settings, self)
        if dlg.exec():
            self.settings = dlg.values()
            self.settings.save(self.qs)
            self._inputs_changed()  # another model package: the result on screen is not its

    def closeEvent(self, event: QCloseEvent) -> None:
        self.qs.setValue("window/geometry", self.saveGeometry())
        self.qs.setValue("window/state", self.saveState())
        self.qs.sync()
        self.runner.shutdown()
        super().closeEvent(event)


def _sentence(message: str) -> str:
    """A core message shown on its own: capitalized."""
    return message[:1].upper() + message[1:]
