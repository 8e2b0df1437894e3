"""The main window: library dock, timeline, segment table, status bar with jobs.

State lives in plain objects the tests can read: ``audio`` (engine ``Audio``),
``pyramid`` (waveform peaks), ``result`` (engine ``IdentificationResult``),
``review`` (:class:`~gui.review_model.ReviewModel`), ``speakers`` (library
rows). All engine work is submitted through ``bridge`` (worker threads); the
callbacks that apply results run on the main thread.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QByteArray, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDockWidget,
    QDoubleSpinBox,
    QLabel,
    QMainWindow,
    QMenu,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTextBrowser,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.errors import VPError
from engine.jobs import JobSnapshot
from engine.segments import is_unknown
from gui import edit_actions, explain
from gui.audio_devices import input_devices
from gui.colours import colour_for
from gui.confidence_view import table_confidence
from gui.dialogs import Prompts
from gui.engine_facade import Engine
from gui.folders import LastFolder
from gui.jobs_bridge import JobsBridge
from gui.library_panel import LibraryPanel
from gui.overview_strip import OverviewStrip
from gui.peaks import PeakPyramid
from gui.playback import Player, sound_of
from gui.record_dialog import RecordDialog
from gui.reference_actions import ReferenceActions
from gui.review_model import NEW_PREFIX, Edit, ReviewError, ReviewModel
from gui.segment_table import SegmentTable, channel_name
from gui.session_actions import SessionActions
from gui.settings import Settings
from gui.speaker_actions import AUDIO_FILTER, SpeakerActions
from gui.timeline import Timeline
from gui.undo_commands import EditCommand
from gui.wording import plural, result_summary

log = logging.getLogger(__name__)

EXPORT_FORMATS = {"json": "JSON (*.json)", "rttm": "RTTM (*.rttm)", "csv": "CSV (*.csv)",
                  "audacity": "Audacity labels (*.txt)", "eaf": "ELAN (*.eaf)",
                  "textgrid": "Praat TextGrid (*.TextGrid)", "vtt": "WebVTT captions (*.vtt)",
                  "srt": "SRT captions (*.srt)"}
EXPORT_EXT = {".json": "json", ".rttm": "rttm", ".csv": "csv", ".txt": "audacity",
              ".eaf": "eaf", ".textgrid": "textgrid", ".vtt": "vtt", ".srt": "srt"}
APP_TITLE = "Voiceprint Studio"
FIRST_STEPS = ("Open a recording to start: File > Open audio (Ctrl+O), or drop an audio file here.\n"
               "To have speakers named, enroll them first: Speakers > Enroll from file, or\n"
               "select a stretch of one voice on the waveform (Shift+drag) and Enroll from selection.")
FIRST_STEPS_SHORT = "Open or drop a recording (Ctrl+O) to start, or enroll a speaker (Speakers menu)."


def resource_path(name: str) -> Path | None:
    """A file from ``resources/`` (source tree) or ``gui/resources/`` (installed)."""
    here = Path(__file__).resolve().parent
    for base in (here / "resources", here.parent / "resources"):
        if (base / name).is_file():
            return base / name
    return None


WARM_UP = "warm-up"
LOADING_MODELS = "Loading models…"
WARM_UP_CLOSE_WAIT_S = 120.0
"""Longest wait at close for the warm-up's current model (the one-time conversion)."""


class MainWindow(SessionActions, SpeakerActions, ReferenceActions, QMainWindow):
    """Voiceprint Studio's main window.

    Args:
        engine: the engine facade (tests pass fakes with the same methods).
        settings: JSON settings (default: ``engine.paths.settings_path()``).
        prompts: the dialogs (tests pass an object that answers without showing any).
        offer_restore: once shown, offer the autosave a run that ended unsaved left
            (off for the unattended self-test).

    Signals:
        audioLoaded(): new current audio.
        resultApplied(): a new identification result is shown.
        libraryChanged(): the speaker list changed.
    """

    audioLoaded = Signal()
    resultApplied = Signal()
    libraryChanged = Signal()

    def __init__(self, engine: Any | None = None, settings: Settings | None = None,
                 prompts: Any | None = None, parent: QWidget | None = None, *,
                 offer_restore: bool = True) -> None:
        super().__init__(parent)
        self.engine = engine if engine is not None else Engine()
        self.settings = settings if settings is not None else Settings()
        self.folders = LastFolder(self.settings, lambda: self.audio_path)
        self.prompts = prompts if prompts is not None else Prompts(self, self.folders)
        self.bridge = JobsBridge(self)
        self.player = Player(self)
        self.undo_stack = QUndoStack(self)
        self.audio: Any = None
        self.audio_path: str | None = None
        self.pyramid: PeakPyramid | None = None
        self.result: Any = None
        self.review: ReviewModel | None = None
        self.speakers: list[Any] = []
        self.selected: list[int] = []
        self.record_dialog: RecordDialog | None = None
        self._pending_session: tuple[Any, ...] | None = None
        self.actions: dict[str, QAction] = {}
        self._speaker_index: dict[str, Any] = {}

        self._init_session_safety()
        self.setWindowTitle(f"{APP_TITLE}[*]")
        self.setAcceptDrops(True)
        self.resize(1280, 800)
        self._build_actions()
        self._build_ui()
        self._build_menus()
        self._connect()
        edit_actions.install(self)  # drags, table edits, turn keys, readout, spectrogram
        self._init_reference()  # gui.reference_actions: import annotation, reference overlay
        self._check_devices()
        self.refresh_library()
        self._update_actions()
        self._start_warm_up()
        geom = self.settings.get("window_geometry")
        if isinstance(geom, str):
            self.restoreGeometry(QByteArray.fromBase64(geom.encode("ascii")))
        if offer_restore:
            # after the window is up: a run that died with unsaved edits left an autosave
            QTimer.singleShot(0, self.offer_restore)

    # ================================================================ construction
    def _act(self, key: str, text: str, slot: Callable[[], Any], shortcut: Any = None,
             tip: str = "") -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            a.setStatusTip(tip)
            a.setToolTip(tip)
        a.triggered.connect(lambda _checked=False: slot())
        self.actions[key] = a
        self.addAction(a)
        return a

    def _build_actions(self) -> None:
        S = QKeySequence.StandardKey  # noqa: N806
        self._act("open", "&Open audio…", self.open_dialog, S.Open, "Open an audio file")
        self._act("save_session", "&Save session…", self.save_session_dialog, S.Save,
                  "Save the reviewed result with its audio path")
        self._act("open_session", "Open sess&ion…", self.open_session_dialog, "Ctrl+Shift+O",
                  "Reopen a saved review session")
        self._act("export", "&Export result…", self.export_dialog, "Ctrl+E",
                  "Export the corrected result as JSON, RTTM, CSV, Audacity labels, ELAN, "
                  "Praat TextGrid, or WebVTT/SRT captions")
        self._act("quit", "&Quit", self.close, S.Quit)
        undo = self.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence("Ctrl+Z"))
        redo = self.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.actions["undo"], self.actions["redo"] = undo, redo
        self.addAction(undo)
        self.addAction(redo)
        self._act("delete", "&Delete segment", self.delete_selected, QKeySequence.StandardKey.Delete,
                  "Delete the selected segments")
        self._act("split", "S&plit at playhead", self.split_at_playhead, "S",
                  "Split the selected segment at the playhead")
        self._act("merge_next", "&Merge with next", self.merge_with_next, "M",
                  "Merge the selected segment with the next one in time, when it is the "
                  "same speaker's")
        self._act("enroll_file", "Enroll from &file…", self.enroll_from_file_dialog, None,
                  "Enroll a speaker from a short recording of them alone (3-30 s)")
        self._act("enroll_selection", "Enroll from &selection…", self.enroll_from_selection,
                  "Ctrl+Shift+E", "Enroll the speaker in the selected region or segments")
        self._act("enroll_record", "Enroll from &recording…", lambda: self.record(True), None,
                  "Record a speaker and enroll them")
        self._act("enroll_unknown", "Enroll this &unknown speaker…", self.enroll_unknown, None,
                  "Enroll the selected unknown speaker from all of their turns")
        self._act("rename", "&Rename speaker…", self.rename_speaker, "F2")
        self._act("delete_speaker", "Delete spea&ker…", self.delete_speaker)
        self._act("merge_speakers", "&Merge speakers…", self.merge_speakers)
        self._act("import", "&Import library…", self.import_library_dialog)
        self._act("export_library", "E&xport library…", self.export_library_dialog)
        self._act("identify", "&Identify speakers", self.run_identify, "Ctrl+R",
                  "Find who speaks when, against the speaker library")
        self._act("cancel", "&Cancel", self.cancel_jobs, "Esc", "Cancel the running job")
        self._act("play", "&Play / Pause", self.toggle_play, "Space",
                  "Play from the playhead (or the selection)")
        self._act("play_selection", "Play &selection", self.play_selection, "Shift+Space")
        self._act("record", "&Record…", lambda: self.record(False), "Ctrl+Shift+R",
                  "Record from a microphone")
        self._act("about", "&About Voiceprint Studio", self.about)
        self._act("zoom_fit", "Zoom to &fit", self.zoom_fit, "Ctrl+0")
        self.actions["add_speaker"] = self.actions["enroll_file"]
        self._build_library_actions()

    def _build_ui(self) -> None:
        central = QWidget(self)
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        self.timeline = Timeline(central)
        lay.addWidget(self.timeline)
        self.overview = OverviewStrip(self.timeline, central)  # whole file + scroll bar
        lay.addWidget(self.overview)
        self.setCentralWidget(central)

        tb = QToolBar("Main", self)
        tb.setObjectName("main_toolbar")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for key in ("open", "record", "identify", "cancel"):
            tb.addAction(self.actions[key])
        tb.addSeparator()
        tb.addWidget(QLabel(" Speakers: ", tb))
        self.num_speakers = QSpinBox(tb)
        self.num_speakers.setRange(0, 50)
        self.num_speakers.setSpecialValueText("auto")
        self.num_speakers.setToolTip("Number of speakers in the recording (auto: found by clustering)")
        tb.addWidget(self.num_speakers)
        tb.addWidget(QLabel("  Threshold: ", tb))
        self.threshold = QDoubleSpinBox(tb)
        self.threshold.setRange(0.0, 100.0)
        self.threshold.setDecimals(0)
        self.threshold.setSingleStep(1.0)
        self.threshold.setValue(float(self.settings.get("threshold", self.engine.default_threshold)))
        self.threshold.setToolTip("Minimum score (0-100) for a cluster to get an enrolled name")
        tb.addWidget(self.threshold)
        self._build_channel_choice(tb)
        tb.addSeparator()
        for key in ("play", "enroll_selection", "zoom_fit"):
            tb.addAction(self.actions[key])
        self.addToolBar(tb)
        self.toolbar = tb
        self.timeline.set_threshold(self.threshold.value())
        self.timeline.set_placeholder(FIRST_STEPS)

        self.library_panel = LibraryPanel(
            [self.actions[k] for k in ("enroll_file", "enroll_record", "rename", "delete_speaker",
                                       "merge_speakers", "import", "export_library")], self)
        self._install_library_menu()
        self.library_dock = QDockWidget("Speaker library", self)
        self.library_dock.setObjectName("library_dock")
        self.library_dock.setWidget(self.library_panel)
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.library_dock)

        self.table = SegmentTable(self)
        self.table_model = self.table.table_model
        self.table_dock = QDockWidget("Segments", self)
        self.table_dock.setObjectName("segments_dock")
        self.table_dock.setWidget(self.table)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.table_dock)
        self.resizeDocks([self.library_dock], [280], Qt.Orientation.Horizontal)
        self.resizeDocks([self.table_dock], [220], Qt.Orientation.Vertical)

        sb = self.statusBar()
        self.status_label = QLabel(FIRST_STEPS_SHORT, sb)
        self.count_label = QLabel("", sb)
        self.progress_bar = QProgressBar(sb)
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setTextVisible(True)
        self.progress_bar.hide()
        self.cancel_button = QPushButton("Cancel", sb)
        self.cancel_button.clicked.connect(self.cancel_jobs)
        self.cancel_button.hide()
        sb.addWidget(self.status_label, 1)
        sb.addPermanentWidget(self.count_label)
        sb.addPermanentWidget(self.progress_bar)
        sb.addPermanentWidget(self.cancel_button)

    def _build_channel_choice(self, tb: QToolBar) -> None:
        """Mix / split and which channels: shown only when the open file has 2+ channels."""
        self.channel_mode = QComboBox(tb)
        self.channel_mode.addItem("Mix channels", "mix")
        self.channel_mode.addItem("Split channels", "split")
        self.channel_mode.setToolTip(
            "Mix: identify the channels mixed to mono. Split: identify each channel on its "
            "own (call recordings with one party per channel); each turn says its channel.")
        self.channel_pick = QToolButton(tb)
        self.channel_pick.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.channel_pick.setToolTip("The channels to identify in split mode")
        self.channel_menu = QMenu(self.channel_pick)
        self.channel_pick.setMenu(self.channel_menu)
        self.channel_actions: list[QAction] = []
        self._channel_widgets = [tb.addWidget(QLabel("  Channels: ", tb)),
                                 tb.addWidget(self.channel_mode), tb.addWidget(self.channel_pick)]
        self.channel_mode.currentIndexChanged.connect(lambda _i: self._update_channel_pick())
        self._set_channel_choice(1)

    def _set_channel_choice(self, channels: int) -> None:
        """Offer mix/split for a recording of ``channels`` channels (hidden under 2)."""
        self.channel_menu.clear()
        self.channel_actions = []
        for c in range(channels if channels >= 2 else 0):
            a = self.channel_menu.addAction(f"Channel {channel_name(c, channels)}")
            a.setCheckable(True)
            a.setChecked(True)
            a.toggled.connect(lambda _on: self._update_channel_pick())
            self.channel_actions.append(a)
        for w in self._channel_widgets:
            w.setVisible(channels >= 2)
        if channels < 2:
            self.channel_mode.setCurrentIndex(0)
        self._update_channel_pick()

    def channel_options_visible(self) -> bool:
        return all(w.isVisible() for w in self._channel_widgets)

    def selected_channels(self) -> list[int]:
        return [c for c, a in enumerate(self.channel_actions) if a.isChecked()]

    def _update_channel_pick(self) -> None:
        split = self.channel_mode.currentData() == "split"
        self.channel_pick.setEnabled(split)
        picked = self.selected_channels()
        total = len(self.channel_actions)
        if len(picked) == total:
            text = "all"
        elif not picked:
            text = "none"
        else:
            text = ", ".join(channel_name(c, total) for c in picked)
        self.channel_pick.setText(text)

    def _build_menus(self) -> None:
        mb = self.menuBar()
        self.menus: dict[str, QMenu] = {}

        def menu(key: str, title: str, items: Sequence[str | None]) -> QMenu:
            m = mb.addMenu(title)
            self.menus[key] = m
            for k in items:
                if k is None:
                    m.addSeparator()
                elif k == "recent":
                    self.recent_menu = m.addMenu("Open &recent")
                    self.recent_menu.aboutToShow.connect(self._fill_recent)
                    self._fill_recent()
                else:
                    m.addAction(self.actions[k])
            return m

        menu("file", "&File", ["open", "recent", "record", None, "open_session", "save_session",
                               None, "export", None, "quit"])
        menu("edit", "&Edit", ["undo", "redo", None, "delete", "split", "merge_next"])
        menu("speakers", "&Speakers", ["enroll_file", "enroll_selection", "enroll_record",
                                       "enroll_unknown", None, "speaker_details", "rename",
                                       "delete_speaker", "merge_speakers", None, "import",
                                       "export_library", "export_selected"])
        menu("run", "&Run", ["identify", "cancel"])
        menu("playback", "&Playback", ["play", "play_selection", None, "zoom_fit"])
        view = mb.addMenu("&View")
        view.addAction(self.library_dock.toggleViewAction())
        view.addAction(self.table_dock.toggleViewAction())
        self.menus["view"] = view
        menu("help", "&Help", ["about"])

    def _connect(self) -> None:
        self.bridge.progress.connect(self._on_progress)
        self.bridge.finished.connect(self._on_job_finished)
        self.bridge.busy_changed.connect(self._on_busy)
        self.timeline.turnClicked.connect(self._on_turn_clicked)
        self.timeline.playheadMoved.connect(self._on_playhead_moved)
        self.timeline.thresholdMoved.connect(self.threshold.setValue)
        self.timeline.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.timeline.customContextMenuRequested.connect(self._timeline_menu)
        self.threshold.valueChanged.connect(self._on_threshold)
        self.table.selectionModel().selectionChanged.connect(self._on_table_selection)
        self.table.doubleClicked.connect(  # start, end, speaker: double-click edits them
            lambda idx: None if self.table_model.is_editable(idx) else self.play_segment(idx.row()))
        self.table.customContextMenuRequested.connect(
            lambda pos: self._segment_menu(self.table.viewport().mapToGlobal(pos)))
        self.player.position.connect(lambda t: self.timeline.set_playhead(t, follow=True))
        self.player.error.connect(self.show_message)
        self.player.stateChanged.connect(lambda _p: self._update_actions())
        self.undo_stack.indexChanged.connect(lambda _i: self._update_actions())
        self.library_panel.speakerActivated.connect(self._on_speaker_activated)
        self.library_panel.list.itemSelectionChanged.connect(self._update_actions)

    def _check_devices(self) -> None:
        devs, why = input_devices()
        self.record_reason = "" if devs else why
        for key in ("record", "enroll_record"):
            a = self.actions[key]
            a.setEnabled(bool(devs))
            if not devs:
                a.setToolTip(why)
                a.setStatusTip(why)
        self.play_reason = "" if self.player.available else self.player.reason
        if not devs:
            self.show_message(f"{FIRST_STEPS_SHORT} ({why})")

    # ================================================================ status and jobs
    def show_message(self, text: str) -> None:
        self.status_label.setText(text)
        self._status_is_summary = False
        log.debug("status: %s", text)  # status lines name speakers: debug only

    def _on_progress(self, snap: JobSnapshot) -> None:
        self.progress_bar.setValue(int(round(snap.progress * 1000)))
        # the warm-up speaks only in the progress bar: it never hides what the status
        # label says about the user's own actions
        if snap.kind == WARM_UP:
            self.progress_bar.setFormat(f"{LOADING_MODELS} %p%")
            return
        self.progress_bar.setFormat(f"{snap.kind} %p%")
        if snap.message:
            self.status_label.setText(snap.message)

    def _start_warm_up(self) -> None:
        """Load the models on a worker now, so the first enrollment/identification
        does not wait for them (a job needing a model still loading waits for it)."""
        warm = getattr(self.engine, "warm_up", None)
        if warm is None:
            return

        def failed(err: VPError) -> None:  # the first use reports it again, in a dialog
            self.show_message(f"Models did not load: {err.message}")

        self.warm_up_job = self.bridge.submit(
            WARM_UP, lambda progress, cancel: warm(progress, cancel), on_error=failed
        )
        self.progress_bar.setFormat(f"{LOADING_MODELS} %p%")

    def _on_busy(self, busy: bool) -> None:
        self.progress_bar.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress_bar.setValue(0)
        self._update_actions()

    def _on_job_finished(self, snap: JobSnapshot) -> None:
        if snap.state.value == "canceled":
            self.show_message(f"{snap.kind.capitalize()} canceled.")
        elif snap.state.value == "failed" and snap.error is not None:
            self.show_message(snap.error.message)
        self._update_actions()

    def submit(self, kind: str, fn: Callable[..., Any], on_done: Callable[[Any], None],
               what: str) -> int:
        """Run ``fn(progress, cancel)`` on a worker; errors go to a dialog."""
        self.show_message(what + "…")
        self.progress_bar.setValue(0)
        self.progress_bar.setFormat(f"{kind} %p%")
        self.progress_bar.show()
        self.cancel_button.show()

        def failed(err: VPError) -> None:
            self.show_message(err.message)
            self.prompts.error(f"{what} failed", err.message)

        return self.bridge.submit(kind, fn, on_done=on_done, on_error=failed)

    def cancel_jobs(self) -> None:
        if self.bridge.busy:
            self.bridge.cancel_all()
            self.show_message("Canceling…")
        elif self.player.playing:
            self.player.stop()

    def _update_actions(self) -> None:
        a = self.actions
        has_audio = self.audio is not None
        has_review = self.review is not None
        sel = bool(self.selected)
        a["identify"].setEnabled(has_audio)
        a["export"].setEnabled(has_review)
        a["save_session"].setEnabled(has_review)
        a["cancel"].setEnabled(self.bridge.busy or self.player.playing)
        for k in ("delete", "split"):
            a[k].setEnabled(has_review and sel)
        a["merge_next"].setEnabled(has_review and sel and self.review is not None
                                   and self.review.can_merge_with_next(self.selected[0]))
        a["enroll_selection"].setEnabled(has_audio)
        a["enroll_unknown"].setEnabled(bool(self._selected_unknown_label()))
        a["play"].setEnabled(has_audio and self.player.available)
        a["play_selection"].setEnabled(has_audio and self.player.available)
        if not self.player.available:
            for k in ("play", "play_selection"):
                a[k].setToolTip(self.player.reason)
        n = len(self.library_panel.selected_ids())
        a["rename"].setEnabled(n == 1)
        a["delete_speaker"].setEnabled(n >= 1)
        a["merge_speakers"].setEnabled(n == 2)
        self._update_library_actions()
        a["zoom_fit"].setEnabled(has_audio)
        if getattr(self, "editing", None) is not None:
            self.editing.update_actions()

    # ================================================================ audio
    def open_dialog(self) -> None:
        path = self.prompts.open_file("Open audio", AUDIO_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> None:
        """Open an audio file or a ``.vpsession.json`` session (on a worker thread)."""
        p = str(path)
        if p.endswith(".json"):
            self.open_session(p)
            return
        if not self.confirm_leave("opening another file"):
            return
        self.load_audio_file(p)

    def load_audio_file(self, p: str) -> None:
        """Load an audio file on a worker (no unsaved-edits question: the caller asked)."""
        engine = self.engine

        def job(progress: Any, cancel: Any) -> tuple[Any, PeakPyramid]:
            # the file is never decoded whole: peaks in one pass (or from the cache),
            # samples read from the file when needed (gui.peaks, gui.playback)
            audio, peaks = engine.open_audio(p, progress, cancel)
            return audio, PeakPyramid(peaks, audio.read_frames)

        self.submit("load", job, lambda r: self.set_audio(r[0], r[1], p), f"Opening {Path(p).name}")

    def set_audio(self, audio: Any, pyramid: PeakPyramid | None, path: str | None) -> None:
        """Make ``audio`` current: clears the result, the review and the undo history."""
        self.player.stop()
        self.bridge.cancel_kind("identify")
        self.audio = audio
        self.audio_path = path
        self.pyramid = pyramid or PeakPyramid.from_array(audio.mono(), self.engine.sample_rate)
        self.result = None
        self.review = None
        self.selected = []
        self.undo_stack.clear()
        self.timeline.set_audio(self.pyramid)
        self.overview.set_pyramid(self.pyramid)
        self.timeline.clear_result()
        self.table_model.set_turns([], str, lambda s: None)
        self._set_channel_choice(self._channel_count(audio) if path else 1)
        name = Path(path).name if path else "recording"
        self.setWindowTitle(f"{name}[*] — {APP_TITLE}")
        self.timeline.set_placeholder("")
        if path:
            self.settings.add_recent(path)
        self.show_message(f"Opened {name} ({audio.duration:.1f} s). Press Identify (Ctrl+R) to "
                          "find who speaks when.")
        self.count_label.setText("")
        pending, self._pending_session = self._pending_session, None
        if pending is not None:
            self._finish_session(*pending)
        self._update_actions()
        self.audioLoaded.emit()

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.settings.recent_files
        for p in recent:
            act = self.recent_menu.addAction(p)
            act.triggered.connect(lambda _c=False, p=p: self.open_path(p))
        self.recent_menu.setEnabled(bool(recent))

    def zoom_fit(self) -> None:
        if self.pyramid is not None:
            self.timeline.zoom_to(0.0, self.pyramid.duration)

    # drag and drop ------------------------------------------------------------------
    def dragEnterEvent(self, ev) -> None:  # noqa: N802 - Qt API
        if ev.mimeData().hasUrls() and any(u.isLocalFile() for u in ev.mimeData().urls()):
            ev.acceptProposedAction()
        else:
            ev.ignore()

    def dropEvent(self, ev) -> None:  # noqa: N802 - Qt API
        files = [u.toLocalFile() for u in ev.mimeData().urls() if u.isLocalFile()]
        if files:
            ev.acceptProposedAction()
            self.open_path(files[0])

    # ================================================================ identification
    def identify_options(self) -> dict[str, Any]:
        """Options of the identification; in split mode ``channel_mode`` and ``channels``
        (None: all of them), and ``--speakers`` counts per channel."""
        n = int(self.num_speakers.value())
        opts: dict[str, Any] = {"num_speakers": n or None,
                                "threshold": float(self.threshold.value())}
        if self.channel_options_visible() and self.channel_mode.currentData() == "split":
            picked = self.selected_channels()
            opts["channel_mode"] = "split"
            opts["channels"] = None if len(picked) == len(self.channel_actions) else picked
        return opts

    def run_identify(self) -> int | None:
        """Identify the current audio against the library (supersedes a running one)."""
        if self.audio is None:
            self.show_message("Open an audio file first.")
            return None
        engine, audio, opts = self.engine, self.audio, self.identify_options()
        if opts.get("channels") == []:
            self.show_message("Pick at least one channel to identify (Channels menu).")
            return None
        if not self.confirm_identify_again():
            self.show_message("Identify canceled: your edits are kept.")
            return None

        def job(progress: Any, cancel: Any) -> Any:
            progress(0.0, "Reading the speaker library…")
            vps = engine.voiceprints()
            cancel.check()
            return engine.identify(audio, vps, progress=progress, cancel=cancel, **opts)

        n = len(self.speakers)
        return self.submit("identify", job, self.set_result,
                           f"Identifying speakers ({n} enrolled)")

    def set_result(self, result: Any) -> None:
        """Show a new identification result (the previous one stays on Undo)."""
        review = ReviewModel(result.turns, confidence=getattr(result, "confidence", None),
                             duration=float(getattr(result, "duration", 0.0)))
        self.replace_result(review, result)
        self.show_message(self._result_message(review, result))
        self._status_is_summary = bool(review.turns)  # then it follows the edits
        self.resultApplied.emit()

    def _result_message(self, review: ReviewModel, result: Any) -> str:
        if review.turns:
            return result_summary(len(review.turns), review.labels()) + "."
        from engine.pipeline.clustering import MIN_CLUSTER_SECONDS

        dur = float(getattr(result, "duration", 0.0) or 0.0)
        if dur < MIN_CLUSTER_SECONDS:
            return (f"0 turns: the recording is {dur:.1f} s long, too short to analyse; a "
                    f"speaker needs at least {MIN_CLUSTER_SECONDS:.0f} s of speech.")
        return (f"0 turns: no speech found in the {dur:.1f} s recording (or no voice speaks "
                f"for {MIN_CLUSTER_SECONDS:.0f} s or more).")

    def _apply_review(self, review: ReviewModel, result: Any) -> None:
        """Show ``review`` as a fresh start: the undo history is cleared."""
        self.undo_stack.clear()
        self.show_review(review, result)

    def show_review(self, review: ReviewModel, result: Any) -> None:
        """Put ``review`` and its engine ``result`` on screen (the undo stack is kept)."""
        review.namer = self._library_name
        self.result = result
        self.review = review
        self.selected = []
        curves = getattr(result, "speaker_curves", None) if result is not None else None
        ids = [str(s) for s in (getattr(result, "speaker_ids", None) or ())]
        labels = review.labels()
        self.timeline.set_result(review.turns, labels, self._names(labels), self._colours(labels),
                                 None, curves, ids)
        self.refresh_review()

    def _names(self, labels: Sequence[str]) -> dict[str, str]:
        """Lane names; in a split-channel result they start with the channel(s)."""
        chans = self.review.channels_of() if self.review is not None else {}
        return {lab: (f"ch{'+'.join(map(str, chans[lab]))} " if lab in chans else "")
                + self.name_of(lab) for lab in labels}

    def _total_channels(self) -> int:
        return self._channel_count(self.audio) if self.audio is not None else 0

    def _channel_count(self, audio: Any) -> int:
        count = getattr(self.engine, "channel_count", None)  # engines without it: mono
        return int(count(audio)) if count is not None else 1

    def _colours(self, labels: Sequence[str]) -> dict[str, QColor]:
        return {lab: self.colour_of(lab) for lab in labels}

    def name_of(self, label: str) -> str:
        if self.review is not None:
            return self.review.name(label)
        return self._library_name(label) or label

    def _library_name(self, label: str) -> str | None:
        info = self._speaker_by_label(label)
        return str(info.name) if info is not None else None

    def colour_of(self, label: str) -> QColor:
        info = self._speaker_by_label(label)
        return colour_for(label, getattr(info, "colour", None))

    def _speaker_by_label(self, label: str) -> Any:
        return self._speaker_index.get(label)

    def refresh_review(self) -> None:
        """Redraw lanes and table from ``review`` (after edits, renames, enrollments)."""
        if self.review is None:
            self.timeline.clear_result()
            self.table_model.set_turns([], str, lambda s: None)
            self.count_label.setText("")
            return
        labels = self.review.labels()
        self.timeline.update_turns(self.review.turns, labels, self._names(labels),
                                   self._colours(labels))
        self.timeline.set_confidence(self.display_confidence())
        self.timeline.curve_names = {sid: self.name_of(sid) for sid in self.timeline.speaker_curve_ids}
        summary = result_summary(len(self.review.turns), labels)
        self.count_label.setText(summary)
        if getattr(self, "_status_is_summary", False):
            self.status_label.setText(summary + ".")
        self.table_model.set_turns(self.review.turns, self.name_of, self.colour_of,
                                   self._total_channels())
        self._explain()
        self.selected = [i for i in self.selected if i < len(self.review.turns)]
        self._select(self.selected, from_table=False)
        self._update_actions()

    def display_confidence(self) -> Any:
        """The confidence curve drawn: agrees with the table's scores (gui.confidence_view)."""
        from engine.segments import ScoreTrack

        r = self.review
        if r is None or r.confidence is None or r.confidence.num_frames == 0:
            return None
        if r.confidence.values.ndim != 1:
            return r.confidence
        vals = table_confidence(r.confidence, r.original, r.turns)
        return ScoreTrack(r.confidence.start, r.confidence.step, vals.astype(np.float32))

    def _explain(self) -> None:
        """Tooltips on turns (table) and lanes (timeline): why each cluster got its name."""
        clusters = getattr(self.result, "clusters", None) or ()
        by_cluster = explain.cluster_texts(
            clusters, lambda vid: self._library_name(vid) or vid
        )
        self.table_model.set_explanations(by_cluster)
        turns = self.review.turns if self.review is not None else []
        self.timeline.set_explanations(explain.lane_texts(turns, by_cluster))

    def _on_threshold(self, value: float) -> None:
        self.timeline.set_threshold(value)
        self.settings.set("threshold", float(value))
        self.redecide_names(float(value))

    # ================================================================ selection
    def _select(self, rows: Sequence[int], *, from_table: bool) -> None:
        self.selected = sorted(set(rows))
        self.timeline.lanes.set_selected(set(self.selected))
        if not from_table:
            sm = self.table.selectionModel()
            sm.blockSignals(True)
            self.table.select_rows(self.selected)
            sm.blockSignals(False)
            self.table.viewport().update()
        self._update_actions()

    def select_turns(self, rows: Sequence[int]) -> None:
        """Select turns (indices into ``review.turns``), as a click would."""
        self._select(rows, from_table=False)
        if rows and self.review is not None:
            t = self.review.turns[rows[0]]
            self.timeline.set_selection(t.start, t.end)

    def _on_table_selection(self, *_: Any) -> None:
        rows = self.table.selected_rows()
        self._select(rows, from_table=True)
        if rows and self.review is not None:
            t = self.review.turns[rows[0]]
            self.timeline.set_selection(t.start, t.end)
            self.timeline.set_playhead(t.start, follow=True)

    def _on_turn_clicked(self, index: int) -> None:
        self.select_turns([index])
        if self.review is not None:
            t = self.review.turns[index]
            self.timeline.set_playhead(t.start)
            if self.player.playing:
                self.play_segment(index)

    def _on_playhead_moved(self, t: float) -> None:
        if self.player.playing and self.audio is not None:
            self.player.play(*sound_of(self.audio, self.engine.sample_rate), t)

    def _selected_unknown_label(self) -> str | None:
        if self.review is None or not self.selected:
            return None
        lab = self.review.turns[self.selected[0]].speaker
        return lab if (is_unknown(lab) or lab.startswith(NEW_PREFIX)) else None

    # ================================================================ review edits
    def push_edit(self, edit: Edit) -> None:
        self.undo_stack.push(EditCommand(self, edit))

    def _try(self, make: Callable[[], Edit]) -> bool:
        if self.review is None:
            self.show_message("Run an identification first.")
            return False
        try:
            self.push_edit(make())
        except ReviewError as exc:
            self.show_message(str(exc))
            return False
        return True

    def relabel_selected(self, label: str, name: str | None = None) -> bool:
        rows = list(self.selected)
        sc = self.label_scores(label)
        return self._try(lambda: self.review.relabel(rows, label, name=name, scores=sc))  # type: ignore[union-attr]

    def relabel_cluster(self, label: str, name: str | None = None) -> bool:
        if self.review is None or not self.selected:
            return False
        cluster = self.review.turns[self.selected[0]].cluster
        sc = self.label_scores(label)
        if not cluster:  # no cluster info: relabel every turn of that speaker instead
            rows = self.review.turns_of(self.review.turns[self.selected[0]].speaker)
            return self._try(lambda: self.review.relabel(rows, label, name=name, scores=sc))  # type: ignore[union-attr]
        rows = self.review.cluster_turns(cluster)
        return self._try(lambda: self.review.relabel(rows, label, name=name, scores=sc))  # type: ignore[union-attr]

    def split_at_playhead(self) -> bool:
        if not self.selected or self.review is None:
            return False
        i, t = self.selected[0], self.timeline.playhead
        return self._try(lambda: self.review.split(i, t))  # type: ignore[union-attr]

    def merge_with_next(self) -> bool:
        if not self.selected or self.review is None:
            return False
        i = self.selected[0]
        return self._try(lambda: self.review.merge_with_next(i))  # type: ignore[union-attr]

    def delete_selected(self) -> bool:
        rows = list(self.selected)
        self.selected = []
        return self._try(lambda: self.review.delete(rows))  # type: ignore[union-attr]

    def _timeline_menu(self, pos: Any) -> None:
        """Right-click on the lanes: select the turn under the mouse, then the segment menu."""
        scene_pos = self.timeline.mapToScene(pos)
        if self.timeline.lanes_plot.vb.sceneBoundingRect().contains(scene_pos):
            p = self.timeline.lanes.mapFromScene(scene_pos)
            i = self.timeline.lanes.hit(p.x(), p.y())
            if i is not None and i not in self.selected:
                self.select_turns([i])
        self._segment_menu(self.timeline.mapToGlobal(pos))

    def _segment_menu(self, global_pos: Any) -> None:
        m = self.build_segment_menu()
        if m is not None:
            m.exec(global_pos)

    def build_segment_menu(self) -> QMenu | None:
        """The right-click menu of the selected segments (None when nothing is selected)."""
        if self.review is None or not self.selected:
            return None
        m = QMenu(self)
        self._fill_relabel_menu(m.addMenu("Relabel segment as"), self.relabel_selected)
        self._fill_relabel_menu(m.addMenu("Relabel whole cluster as"), self.relabel_cluster)
        m.addSeparator()
        for k in ("split", "merge_next", "delete"):
            m.addAction(self.actions[k])
        m.addSeparator()
        play = m.addAction("Play segment")
        play.setEnabled(self.player.available)
        play.triggered.connect(lambda: self.play_segment(self.selected[0]))
        m.addAction(self.actions["enroll_selection"])
        m.addAction(self.actions["enroll_unknown"])
        return m

    def _fill_relabel_menu(self, m: QMenu, apply: Callable[..., bool]) -> None:
        for info in self.speakers:
            a = m.addAction(str(info.name))
            a.triggered.connect(lambda _c=False, sid=str(info.id): apply(sid))
        m.addSeparator()
        a = m.addAction("New speaker…")
        a.triggered.connect(lambda: self._relabel_new(apply))
        if self.review is not None:
            for lab in self.review.labels():
                if is_unknown(lab):
                    a = m.addAction(self.name_of(lab))
                    a.triggered.connect(lambda _c=False, lab=lab: apply(lab))
            a = m.addAction("Unknown (new)")
            a.triggered.connect(lambda: apply(self.review.next_unknown_label()))  # type: ignore[union-attr]

    def _relabel_new(self, apply: Callable[..., bool]) -> None:
        name = self.prompts.ask_text("New speaker", "Name of the speaker:")
        if not name or self.review is None:
            return
        existing = next((s for s in self.speakers if str(s.name).lower() == name.lower()), None)
        if existing is not None:
            apply(str(existing.id))
        else:
            apply(self.review.new_label(), name)

    # ================================================================ export and sessions
    def corrected_result(self, *, for_format: str = "json") -> Any:
        """The engine result with the reviewed turns and speaker names as labels."""
        if self.review is None:
            return None

        def label(s: str) -> str:
            name = self.name_of(s)
            return name.replace(" ", "_") if for_format == "rttm" else name

        turns = tuple(dataclasses.replace(t, speaker=label(t.speaker)) for t in self.review.turns)
        base = self.result if self.result is not None else self._result_from_review()
        if base is None:
            return None
        return dataclasses.replace(base, turns=turns)

    def _result_from_review(self) -> Any:
        """An ``IdentificationResult`` for a reopened session (no engine result object)."""
        from engine.identify import IdentificationResult

        r = self.review
        assert r is not None
        return IdentificationResult(
            turns=r.turns, confidence=r.confidence, speaker_curves=None,
            speaker_ids=(), clusters=(), model_id="",
            duration=r.duration or (self.audio.duration if self.audio is not None else 0.0),
            num_speakers=len(r.labels()),
        )

    def export_dialog(self) -> None:
        if self.review is None:
            return
        stem = Path(self.audio_path).stem if self.audio_path else "result"
        path = self.prompts.save_file("Export result", ";;".join(EXPORT_FORMATS.values()),
                                      f"{stem}.json")
        if path:
            self.export_result(path)

    def export_result(self, path: str, fmt: str | None = None) -> bool:
        fmt = fmt or EXPORT_EXT.get(Path(path).suffix.lower(), "json")
        result = self.corrected_result(for_format=fmt)
        if result is None:
            self.show_message("Nothing to export yet.")
            return False
        uri = Path(self.audio_path).stem if self.audio_path else "recording"
        try:
            self.engine.write_result(result, path, fmt, uri=uri)
        except (VPError, OSError) as exc:
            msg = getattr(exc, "message", str(exc))
            self.prompts.error("Export failed", msg)
            return False
        self.show_message(f"Exported {plural(len(result.turns), 'turn')} to {path} ({fmt}).")
        return True

    # ================================================================ playback
    def toggle_play(self) -> None:
        if self.player.playing:
            self.player.stop()
            return
        if self.audio is None:
            return
        region = self.timeline.selection()
        start = self.timeline.playhead
        end = None
        if region is not None and region[0] <= start < region[1]:
            end = region[1]
        self.player.play(*sound_of(self.audio, self.engine.sample_rate), start, end)

    def play_selection(self) -> None:
        region = self.timeline.selection()
        if self.audio is not None and region is not None:
            self.timeline.set_playhead(region[0])
            self.player.play(*sound_of(self.audio, self.engine.sample_rate), region[0], region[1])

    def play_segment(self, row: int) -> None:
        if self.review is None or self.audio is None or not 0 <= row < len(self.review.turns):
            return
        t = self.review.turns[row]
        self.timeline.set_playhead(t.start)
        self.player.play(*sound_of(self.audio, self.engine.sample_rate), t.start, t.end)

    # ================================================================ recording
    def record(self, enroll: bool = False) -> RecordDialog | None:
        if not self.actions["record"].isEnabled():
            self.show_message(self.record_reason)
            return None
        dlg = RecordDialog(self, allow_enroll=True)
        if enroll:
            dlg.use_button.setVisible(False)
        self.record_dialog = dlg
        dlg.accepted.connect(lambda: self.use_recording(dlg.samples, dlg.rate, dlg.purpose))
        dlg.open()
        return dlg

    def use_recording(self, samples: np.ndarray, rate: int, purpose: str = "audio") -> int | None:
        if samples.size == 0:
            self.show_message("The recording is empty.")
            return None
        engine = self.engine
        if purpose != "enroll" and not self.confirm_leave("using the new recording"):
            return None
        if purpose == "enroll":
            return self.enroll_recording(samples, rate)

        def load_job(progress: Any, cancel: Any) -> Any:
            audio = engine.audio_from_array(samples, rate, None)
            return audio, PeakPyramid.from_array(audio.mono(), engine.sample_rate)

        return self.submit("load", load_job, lambda r: self.set_audio(r[0], r[1], None),
                           "Preparing the recording")

    # ================================================================ misc
    def about(self) -> None:
        dlg = QDialog(self)
        dlg.setWindowTitle("About Voiceprint Studio")
        dlg.resize(640, 520)
        lay = QVBoxLayout(dlg)
        view = QTextBrowser(dlg)
        view.setOpenExternalLinks(True)
        text = about_text()
        view.setMarkdown(text)
        lay.addWidget(view)
        self.about_dialog = dlg
        dlg.open()

    def closeEvent(self, ev) -> None:  # noqa: N802 - Qt API
        if not self.confirm_leave("quitting"):
            ev.ignore()
            return
        self.autosaver.discard()
        self.player.stop()
        if self.record_dialog is not None and self.record_dialog.recording:
            self.record_dialog.stop()
        self.bridge.shutdown()
        warm_up_job = getattr(self, "warm_up_job", None)
        if warm_up_job is not None:
            # cancelled, it stops after the model it is loading; left running, it would be
            # inside ONNX Runtime when the interpreter exits, which aborts the process
            self.bridge.runner.wait(warm_up_job, timeout=WARM_UP_CLOSE_WAIT_S)
        self.settings.set("window_geometry",
                          bytes(self.saveGeometry().toBase64().data()).decode("ascii"))
        super().closeEvent(ev)


def about_text() -> str:
    from engine import __version__

    head = (f"# Voiceprint Studio {__version__}\n\nOffline speaker identification: enroll "
            "voiceprints, find who speaks when, review and export. Everything runs on this "
            "computer; voiceprints never leave it unless you export them.\n\n")
    lic = resource_path("THIRD_PARTY_LICENSES.md")
    if lic is not None:
        return head + lic.read_text(encoding="utf-8")
    return head + ("## Models\n\n- SpeechBrain ECAPA-TDNN speaker model (Apache-2.0)\n"
                   "- 3D-Speaker CAM++ speaker model (Apache-2.0)\n"
                   "- pyannote segmentation-3.0 (MIT)\n- Silero VAD (MIT)\n")

