"""The speaker library dock: colour swatch, name, enrollments and seconds per speaker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)


def swatch(colour: QColor | str, size: int = 14) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(QColor(colour))
    return QIcon(pm)


def describe(info: Any) -> str:
    n = int(info.num_enrollments)
    return f"{info.name}\n{n} enrollment{'s' if n != 1 else ''} · {float(info.seconds):.1f} s"


class LibraryPanel(QWidget):
    """List of enrolled speakers with buttons bound to the window's actions.

    Signals:
        speakerActivated(int): a speaker was double-clicked (id).
    """

    speakerActivated = Signal(int)

    def __init__(self, actions: Sequence[QAction] = (), parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("Filter speakers…")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._apply_filter)
        layout.addWidget(self.filter)
        self.list = QListWidget(self)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setAlternatingRowColors(True)
        self.list.itemDoubleClicked.connect(
            lambda item: self.speakerActivated.emit(int(item.data(Qt.ItemDataRole.UserRole)))
        )
        layout.addWidget(self.list, 1)
        self.summary = QLabel(self)
        self.summary.setStyleSheet("color: palette(mid);")
        layout.addWidget(self.summary)
        grid = QGridLayout()
        grid.setSpacing(2)
        self.buttons: list[QToolButton] = []
        for k, action in enumerate(actions):
            b = QToolButton(self)
            b.setDefaultAction(action)
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            b.setSizePolicy(b.sizePolicy().horizontalPolicy().Expanding,
                            b.sizePolicy().verticalPolicy())
            grid.addWidget(b, k // 2, k % 2)
            self.buttons.append(b)
        layout.addLayout(grid)
        self.speakers: list[Any] = []

    def set_speakers(self, speakers: Sequence[Any]) -> None:
        keep = set(self.selected_ids())
        self.speakers = list(speakers)
        self.list.clear()
        for info in self.speakers:
            item = QListWidgetItem(swatch(info.colour), describe(info))
            item.setData(Qt.ItemDataRole.UserRole, int(info.id))
            item.setToolTip(f"{info.name} (id {info.id})" + (f"\n{info.notes}" if info.notes else ""))
            self.list.addItem(item)
            if int(info.id) in keep:
                item.setSelected(True)
        total = sum(float(s.seconds) for s in self.speakers)
        n = len(self.speakers)
        self.summary.setText(f"{n} speaker{'' if n == 1 else 's'} · {total:.0f} s enrolled")
        self._apply_filter(self.filter.text())

    def selected_ids(self) -> list[int]:
        return [int(i.data(Qt.ItemDataRole.UserRole)) for i in self.list.selectedItems()]

    def select_id(self, speaker_id: int) -> None:
        for k in range(self.list.count()):
            item = self.list.item(k)
            item.setSelected(int(item.data(Qt.ItemDataRole.UserRole)) == speaker_id)

    def _apply_filter(self, text: str) -> None:
        t = text.strip().lower()
        for k in range(self.list.count()):
            item = self.list.item(k)
            item.setHidden(bool(t) and t not in item.text().lower())
