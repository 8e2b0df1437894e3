"""Help > Keyboard shortcuts: every window action with a shortcut, plus the mouse moves.

The list is read from the window's actions, so it cannot drift from what the keys do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

MOUSE_MOVES: tuple[tuple[str, str], ...] = (
    ("Click", "Move the playhead; on a turn: select it"),
    ("Shift+drag (waveform)", "Select a time range"),
    ("Drag a turn's edge (lanes)", "Move its start or end (snaps to samples zoomed in)"),
    ("Drag / wheel", "Pan / zoom the timeline"),
    ("Double-click a Start, End, Speaker cell", "Edit it (table)"),
    ("Right-click a turn", "Relabel, split, merge, delete, enroll"),
)


def _keys(a: QAction) -> str:
    return ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in a.shortcuts()
                     if not s.isEmpty())


FIXED_TEXT = {"undo": "Undo", "redo": "Redo"}  # their action text names the next command


def shortcut_rows(actions: Mapping[str, QAction],
                  grouped: Sequence[tuple[str, Sequence[str]]] = ()) -> list[tuple[str, str]]:
    """(keys, what it does) for each action with a shortcut; ``grouped`` folds several
    actions into one row (``("1-9", ["relabel_1", ...])``) under the first one's
    ``help_text`` property (or text)."""
    folded = {k for _, keys in grouped for k in keys}
    rows: list[tuple[str, str]] = []
    seen: set[int] = set()
    for key, a in actions.items():
        if key in folded or id(a) in seen or not _keys(a):
            continue
        seen.add(id(a))
        text = FIXED_TEXT.get(key) or a.text().replace("&", "").rstrip("…").strip()
        rows.append((_keys(a), text))
    for label, keys in grouped:
        if keys and keys[0] in actions:
            rows.append((label, str(actions[keys[0]].property("help_text")
                                    or actions[keys[0]].text().replace("&", ""))))
    return rows


class ShortcutsDialog(QDialog):
    """A two-column table: keys (or mouse move) and what it does."""

    def __init__(self, rows: Sequence[tuple[str, str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(720, 760)
        lay = QVBoxLayout(self)
        all_rows = list(rows) + list(MOUSE_MOVES)
        self.table = QTableWidget(len(all_rows), 2, self)
        self.table.setHorizontalHeaderLabels(["Keys / mouse", "Does"])
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, (keys, what) in enumerate(all_rows):
            self.table.setItem(r, 0, QTableWidgetItem(keys))
            self.table.setItem(r, 1, QTableWidgetItem(what))
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        lay.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def rows(self) -> list[tuple[str, str]]:
        t = self.table
        return [(t.item(r, 0).text(), t.item(r, 1).text()) for r in range(t.rowCount())]


def show_shortcuts(window: Any, grouped: Sequence[tuple[str, Sequence[str]]]) -> ShortcutsDialog:
    dlg = ShortcutsDialog(shortcut_rows(window.actions, grouped), window)
    window.shortcuts_dialog = dlg
    dlg.open()
    return dlg
