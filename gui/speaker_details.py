"""A speaker's details: each enrollment (source, date, seconds, quality), play it, remove it.

Removing an enrollment asks first (it cannot be undone: the voiceprint is recomputed
from the remaining enrollments at once, engine ``Library.delete_enrollment``). Playing
uses the private copy of the enrollment's audio that the library keeps since schema 3;
enrollments made before, or imported from a file, have none and say so.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.errors import VPError
from gui.playback import Player

COLUMNS = ("Source", "Enrolled", "Speech", "Audio", "Quality")
NOT_RECORDED = "Not recorded"
NO_AUDIO = "Not kept"


def _date(iso: str) -> str:
    """``2026-12-03T07:30:00+00:00`` -> ``2026-12-03 07:30`` (UTC, as stored)."""
    return iso.replace("T", " ")[:16] if iso else ""


class SpeakerDetailsDialog(QDialog):
    """The enrollments of one speaker.

    Args:
        library: the engine ``Library``.
        speaker_id: whose details.
        prompts: the window's prompts (``confirm``, ``error``).

    Signals:
        changed(): an enrollment was removed (the window refreshes the library).
    """

    changed = Signal()

    def __init__(self, library: Any, speaker_id: int, prompts: Any,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.speaker_id = int(speaker_id)
        self.prompts = prompts
        self.player = Player(self)
        self.enrollments: list[Any] = []
        self.resize(720, 360)
        lay = QVBoxLayout(self)
        self.summary = QLabel(self)
        lay.addWidget(self.summary)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.cellDoubleClicked.connect(lambda *_: self.play_selected())
        lay.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.play_button = QPushButton("&Play", self)
        self.play_button.clicked.connect(self.play_selected)
        self.stop_button = QPushButton("&Stop", self)
        self.stop_button.clicked.connect(self.player.stop)
        self.remove_button = QPushButton("&Remove enrollment…", self)
        self.remove_button.clicked.connect(self.remove_selected)
        for b in (self.play_button, self.stop_button, self.remove_button):
            row.addWidget(b)
        row.addStretch(1)
        lay.addLayout(row)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.reject)
        lay.addWidget(close)
        self.player.stateChanged.connect(lambda _p: self._update_buttons())
        self.player.error.connect(lambda msg: self.prompts.error("Playback", msg))
        self.finished.connect(lambda _r: self.player.stop())
        self.reload()

    # -- data ------------------------------------------------------------------------
    def reload(self) -> None:
        info = self.library.get(self.speaker_id)
        self.setWindowTitle(f"Speaker details: {info.name}")
        self.enrollments = list(self.library.enrollments(self.speaker_id))
        n = len(self.enrollments)
        self.summary.setText(
            f"{info.name}: {n} enrollment{'' if n == 1 else 's'}, {float(info.seconds):.1f} s "
            "of speech. The voiceprint is the mean of the enrollments.")
        self.table.setRowCount(n)
        for r, e in enumerate(self.enrollments):
            values = (e.source or "(unnamed)", _date(e.created), f"{float(e.seconds):.1f} s",
                      "Kept" if e.has_clip else NO_AUDIO,
                      e.verdict_text or e.verdict or NOT_RECORDED)
            for c, v in enumerate(values):
                item = QTableWidgetItem(v)
                if c == 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if c == 3 and not e.has_clip:
                    item.setToolTip("Enrolled before this version kept enrollment audio, or "
                                    "imported from a file: there is nothing to play.")
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        if n:
            self.table.selectRow(0)
        self._update_buttons()

    def selected(self) -> Any | None:
        rows = {i.row() for i in self.table.selectedItems()}
        return self.enrollments[min(rows)] if rows else None

    def select(self, row: int) -> None:
        self.table.selectRow(row)

    def _update_buttons(self) -> None:
        e = self.selected()
        can_play = e is not None and bool(e.has_clip) and self.player.available
        self.play_button.setEnabled(can_play)
        self.play_button.setToolTip(
            "" if can_play else (self.player.reason if not self.player.available
                                 else "No audio was kept for this enrollment."))
        self.stop_button.setEnabled(self.player.playing)
        self.remove_button.setEnabled(e is not None)

    # -- actions -----------------------------------------------------------------------
    def play_selected(self) -> bool:
        e = self.selected()
        if e is None or not e.has_clip or not self.player.available:
            return False
        try:
            samples = self.library.enrollment_clip(e.id)
        except VPError as exc:
            self.prompts.error("Playback", exc.message)
            return False
        if samples is None:
            self.prompts.error("Playback", "The audio of this enrollment is no longer there.")
            return False
        self.player.play(samples, 16000)
        return True

    def remove_selected(self) -> bool:
        e = self.selected()
        if e is None:
            return False
        rest = len(self.enrollments) - 1
        after = (f"The voiceprint is recomputed from the other {rest} enrollment"
                 f"{'' if rest == 1 else 's'}." if rest else
                 "It is the only one: the speaker stays, with no voiceprint, until enrolled "
                 "again.")
        if not self.prompts.confirm(
                "Remove enrollment",
                f"Remove the enrollment from {e.source or 'this recording'} "
                f"({float(e.seconds):.1f} s, {_date(e.created)})? {after} This cannot be undone."):
            return False
        self.player.stop()
        try:
            self.library.delete_enrollment(e.id)
        except VPError as exc:
            self.prompts.error("Remove enrollment", exc.message)
            return False
        self.reload()
        self.changed.emit()
        return True
