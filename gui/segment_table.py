"""The segment table: one row per turn (start, end, duration, speaker, score, channel).

The channel column is shown only for split-channel results (turns with a channel).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from engine.segments import Turn

COLUMNS = ("Start", "End", "Duration", "Speaker", "Score", "Channel")
CHANNEL_COLUMN = 5
SPEAKER_COLUMN = 3
EDITABLE_COLUMNS = (0, 1, SPEAKER_COLUMN)  # start, end, speaker
_Index = QModelIndex | QPersistentModelIndex


def channel_name(channel: int | None, total: int = 0) -> str:
    """``"0 (left)"``, ``"1 (right)"`` for a stereo file, else the 0-based number; "" for none."""
    if channel is None:
        return ""
    side = {0: "left", 1: "right"}.get(channel) if total == 2 else None
    return f"{channel} ({side})" if side else str(channel)


def fmt_time(t: float) -> str:
    """``h:mm:ss.cc`` (hours only when needed)."""
    t = max(0.0, float(t))
    h, rem = divmod(t, 3600)
    m, s = divmod(rem, 60)
    return f"{int(h)}:{int(m):02d}:{s:05.2f}" if h else f"{int(m)}:{s:05.2f}"


class SegmentTableModel(QAbstractTableModel):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.turns: list[Turn] = []
        self.name_of: Callable[[str], str] = lambda s: s
        self.colour_of: Callable[[str], QColor | None] = lambda s: None
        self.total_channels = 0  # channels of the recording, for the names of the channels
        # cluster label -> why it got its name (gui.explain)
        self.why: dict[str, str] = {}
        # (row, column, text) -> accepted? Set by the window (gui.edit_actions): start,
        # end and speaker are editable only then
        self.editor: Callable[[int, int, str], bool] | None = None

    def set_turns(self, turns: Sequence[Turn], name_of: Callable[[str], str],
                  colour_of: Callable[[str], QColor | None], total_channels: int = 0) -> None:
        self.beginResetModel()
        self.turns = list(turns)
        self.name_of = name_of
        self.colour_of = colour_of
        self.total_channels = int(total_channels)
        self.endResetModel()

    def has_channels(self) -> bool:
        return any(t.channel is not None for t in self.turns)

    def channel_text(self, row: int) -> str:
        return channel_name(self.turns[row].channel, self.total_channels)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(self.turns)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt API
        return 0 if parent.isValid() else len(COLUMNS)

    def row_values(self, row: int) -> tuple[float, float, float, str, float]:
        t = self.turns[row]
        return (t.start, t.end, t.duration, self.name_of(t.speaker), t.score)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        t = self.turns[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == CHANNEL_COLUMN:
                return self.channel_text(index.row())
            return (fmt_time(t.start), fmt_time(t.end), f"{t.duration:.2f} s",
                    self.name_of(t.speaker), f"{t.score:.0f}")[col]
        if role == Qt.ItemDataRole.EditRole and col in EDITABLE_COLUMNS:
            return (fmt_time(t.start), fmt_time(t.end), "", self.name_of(t.speaker))[col]
        if role == Qt.ItemDataRole.UserRole:
            if col == CHANNEL_COLUMN:
                return t.channel
            return self.row_values(index.row())[col]
        if role == Qt.ItemDataRole.DecorationRole and col == 3:
            return self.colour_of(t.speaker)
        if role == Qt.ItemDataRole.TextAlignmentRole and col != 3:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.tooltip(index.row())
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        f = super().flags(index)
        if self.is_editable(index):
            f |= Qt.ItemFlag.ItemIsEditable
        return f

    def is_editable(self, index: _Index) -> bool:
        return self.editor is not None and index.isValid() and index.column() in EDITABLE_COLUMNS

    def setData(self, index: _Index, value, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802 - Qt API
        if role != Qt.ItemDataRole.EditRole or not self.is_editable(index):
            return False
        assert self.editor is not None
        return bool(self.editor(index.row(), index.column(), str(value)))

    def set_explanations(self, why: dict[str, str]) -> None:
        self.why = dict(why)
        if self.turns:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self.turns) - 1,
                                                               len(COLUMNS) - 1))

    def tooltip(self, row: int) -> str | None:
        """The turn's cluster (and channel) and why the cluster got its name."""
        t = self.turns[row]
        where = f", channel {self.channel_text(row)}" if t.channel is not None else ""
        if not t.cluster:
            return where[2:] or None
        why = self.why.get(t.cluster)
        head = f"cluster {t.cluster}{where}"
        return f"{why}\n({head})" if why else head

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802 - Qt API
                   role: int = Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return super().headerData(section, orientation, role)


class SegmentTable(QTableView):
    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.table_model = SegmentTableModel(self)
        self.setModel(self.table_model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        # double-click edits start, end and speaker (when the model has an editor)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                             | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(22)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table_model.modelReset.connect(self._show_channel_column)
        self._show_channel_column()

    def _show_channel_column(self) -> None:
        self.setColumnHidden(CHANNEL_COLUMN, not self.table_model.has_channels())

    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.selectionModel().selectedRows()})

    def select_rows(self, rows: Sequence[int]) -> None:
        sm = self.selectionModel()
        sm.clearSelection()
        for r in rows:
            if 0 <= r < self.table_model.rowCount():
                idx = self.table_model.index(r, 0)
                sm.select(idx, sm.SelectionFlag.Select | sm.SelectionFlag.Rows)
        if rows:
            self.scrollTo(self.table_model.index(rows[0], 0))
