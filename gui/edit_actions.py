"""The window's editing tools: edge drags, table edits, turn keys, readout, spectrogram.

:func:`install` adds them to a :class:`gui.main_window.MainWindow` once it is built.
The decisions (bounds, snapping, who a typed name is, lane numbers) are in
:mod:`gui.edit_model` (Qt-free); this module only wires keys, menus and widgets to
them and pushes each change on the window's undo stack as one step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel

from gui import edit_model
from gui.edge_drag import EdgeDrag
from gui.review_model import Edit, ReviewError
from gui.segment_table import SPEAKER_COLUMN
from gui.shortcuts import ShortcutsDialog, show_shortcuts
from gui.spectrogram import array_reader
from gui.spectrogram_view import SpectrogramView
from gui.table_edit import SpeakerDelegate

RELABEL_KEYS = tuple(f"relabel_{n}" for n in range(1, 10))
RELABEL_HELP = "Relabel the selected turns as the speaker of lane 1-9 (top lane = 1)"


class EditingTools(QObject):
    """The editing tools of ``window`` (see :func:`install`)."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.w = window
        self.last_error = ""
        self._build_actions()
        self._build_menus()
        # timeline: drag a turn's start or end
        self.drag = EdgeDrag(lambda: self.w.review, self._sample_rate, self.commit_edge)
        window.timeline.lanes.edge_drag = self.drag
        # table: edit start, end, speaker
        window.table_model.editor = self.table_edit
        self.delegate = SpeakerDelegate(self.speaker_names, window.table)
        window.table.setItemDelegateForColumn(SPEAKER_COLUMN, self.delegate)
        # readout of the selection and the playhead
        self.readout = QLabel("", window.statusBar())
        self.readout.setToolTip("The selected range (start-end, duration) and the playhead")
        window.statusBar().insertPermanentWidget(1, self.readout)  # 0: the status text
        self._readout_timer = QTimer(self)
        self._readout_timer.setSingleShot(True)
        self._readout_timer.setInterval(0)
        self._readout_timer.timeout.connect(self.update_readout)
        tl = window.timeline
        tl.playheads[0].sigPositionChanged.connect(lambda *_: self._readout_timer.start())
        tl.region.sigRegionChanged.connect(lambda *_: self._readout_timer.start())
        tl.regionChanged.connect(lambda *_: self._readout_timer.start())
        # spectrogram under the waveform
        self.spectrogram = SpectrogramView(tl)
        window.audioLoaded.connect(self._on_audio)
        self.update_readout()
        self.update_actions()

    # ================================================================ construction
    def _act(self, key: str, text: str, slot: Callable[[], Any], shortcut: str | None,
             tip: str) -> QAction:
        a = QAction(text, self.w)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        a.setStatusTip(tip)
        a.setToolTip(tip)
        a.triggered.connect(lambda _checked=False: slot())
        self.w.actions[key] = a
        self.w.addAction(a)
        return a

    def _build_actions(self) -> None:
        self._act("next_turn", "&Next turn", lambda: self.step(1), "Ctrl+Right",
                  "Select the next turn in time")
        self._act("prev_turn", "Pre&vious turn", lambda: self.step(-1), "Ctrl+Left",
                  "Select the previous turn in time")
        self._act("play_turn", "Play &turn", self.play_turn, "P",
                  "Play the selected turn (or the one under the playhead)")
        for n, key in enumerate(RELABEL_KEYS, start=1):
            a = self._act(key, f"Relabel as speaker &{n}", lambda n=n: self.relabel_lane(n),
                          str(n), f"Relabel the selected turns as the speaker of lane {n}")
            a.setProperty("help_text", RELABEL_HELP)
        self._act("shortcuts", "&Keyboard shortcuts", self.show_shortcuts, "F1",
                  "List the keyboard shortcuts and mouse moves")
        spec = self._act("spectrogram", "&Spectrogram", lambda: None, None,
                         "Show a spectrogram of the visible range under the waveform")
        spec.setCheckable(True)
        spec.toggled.connect(self.set_spectrogram)

    def _build_menus(self) -> None:
        m = self.w.menus
        a = self.w.actions
        edit = m["edit"]
        edit.addSeparator()
        edit.addAction(a["next_turn"])
        edit.addAction(a["prev_turn"])
        sub = edit.addMenu("Relabel as &lane speaker")
        self.relabel_menu = sub
        for k in RELABEL_KEYS:
            sub.addAction(a[k])
        m["playback"].insertAction(a["play_selection"], a["play_turn"])
        m["view"].addSeparator()
        m["view"].addAction(a["spectrogram"])
        help_menu = m["help"]
        first = help_menu.actions()[0] if help_menu.actions() else None
        help_menu.insertAction(first, a["shortcuts"])

    # ================================================================ state
    def _sample_rate(self) -> int:
        p = self.w.pyramid
        return int(getattr(p, "sample_rate", 0) or 0)

    def library(self) -> dict[str, str]:
        """Library speakers: label (speaker id) -> name."""
        return {str(s.id): str(s.name) for s in self.w.speakers}

    def speaker_names(self) -> list[str]:
        if self.w.review is None:
            return list(self.library().values())
        return [c.name for c in edit_model.speaker_choices(self.w.review, self.library())]

    def update_actions(self) -> None:
        a = self.w.actions
        has = self.w.review is not None and bool(self.w.review.turns)
        sel = has and bool(self.w.selected)
        a["next_turn"].setEnabled(has)
        a["prev_turn"].setEnabled(has)
        a["play_turn"].setEnabled(has and self.w.player.available)
        lanes = len(self.w.review.labels()) if self.w.review is not None else 0
        for n, k in enumerate(RELABEL_KEYS, start=1):
            a[k].setEnabled(sel and n <= lanes)

    def _message(self, text: str) -> None:
        self.last_error = text
        self.w.show_message(text)

    def _push(self, edit: Edit, moved: int | None = None) -> None:
        """Push ``edit`` (one undo step); keep turn ``moved`` selected where it went."""
        self.w.push_edit(edit)
        if moved is not None:
            j = edit_model.index_after(edit, moved)
            if j is not None:
                self.w.select_turns([j])

    # ================================================================ edge drags
    def commit_edge(self, index: int, edge: str, t: float) -> bool:
        """Move turn ``index``'s ``edge`` ("start"/"end") to ``t`` s (the end of a drag)."""
        if self.w.review is None:
            return False
        try:
            edit = edit_model.move_edge(self.w.review, index, edge, t)
        except ReviewError as exc:
            self._message(str(exc))
            self.w.refresh_review()  # drop the drag's preview
            return False
        self._push(edit, index)
        return True

    # ================================================================ table edits
    def table_edit(self, row: int, col: int, text: str) -> bool:
        """The table's ``setData``: start (0), end (1) or speaker (3) of turn ``row``.

        A valid edit is pushed on the next turn of the event loop (the model resets,
        which must not happen inside the view's commit); an invalid one is refused with
        the reason in the status bar.
        """
        r = self.w.review
        if r is None:
            return False
        try:
            if col in (0, 1):
                t = edit_model.parse_time(text)
                edit = edit_model.set_bounds(r, row, **{("start", "end")[col]: t})
            elif col == SPEAKER_COLUMN:
                edit = edit_model.relabel_by_name(r, row, text, self.library())
            else:
                return False
        except ReviewError as exc:
            self._message(str(exc))
            return False
        self.last_error = ""
        QTimer.singleShot(0, lambda: self._push(edit, row))
        return True

    # ================================================================ keys
    def step(self, direction: int) -> int | None:
        """Select the next (1) or previous (-1) turn and move the playhead to it."""
        r = self.w.review
        if r is None:
            return None
        cur = self.w.selected[0] if self.w.selected else None
        j = edit_model.step_turn(r, cur, direction, self.w.timeline.playhead)
        if j is None:
            self.w.show_message("No next turn." if direction > 0 else "No previous turn.")
            return None
        self.w.select_turns([j])
        self.w.timeline.set_playhead(r.turns[j].start, follow=True)
        return j

    def play_turn(self) -> int | None:
        r = self.w.review
        if r is None:
            return None
        i = self.w.selected[0] if self.w.selected else r.turn_at(self.w.timeline.playhead)
        if i is None:
            self.w.show_message("Select a turn to play.")
            return None
        if not self.w.player.available:
            self.w.show_message(self.w.player.reason)
        self.w.play_segment(i)
        return i

    def relabel_lane(self, n: int) -> bool:
        r = self.w.review
        if r is None:
            return False
        try:
            label = edit_model.lane_label(r, n)
        except ReviewError as exc:
            self._message(str(exc))
            return False
        return bool(self.w.relabel_selected(label))

    def show_shortcuts(self) -> ShortcutsDialog:
        return show_shortcuts(self.w, [("1 ... 9", list(RELABEL_KEYS))])

    # ================================================================ readout
    def update_readout(self) -> None:
        tl = self.w.timeline
        self.readout.setText(edit_model.readout_text(tl.selection(), tl.playhead))

    # ================================================================ spectrogram
    def _on_audio(self) -> None:
        audio = self.w.audio
        if audio is None:
            self.spectrogram.set_source(None, 0, 0)
            return
        if hasattr(audio, "read_frames"):  # a file-backed recording: read the visible range only
            self.spectrogram.set_source(audio.read_frames, int(audio.sample_rate),
                                        int(audio.num_samples))
            return
        x = audio.mono()
        self.spectrogram.set_source(array_reader(x), int(self.w.engine.sample_rate), len(x))

    def set_spectrogram(self, on: bool) -> None:
        self.spectrogram.set_visible(on)


def install(window: Any) -> EditingTools:
    """Add the editing tools to ``window`` (kept as ``window.editing``)."""
    window.editing = EditingTools(window)
    return window.editing
