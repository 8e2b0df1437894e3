"""The segment table's speaker editor: an editable combo box of the speakers.

Picking a speaker or typing a name hands the text to the table model's ``setData``
(the window resolves it: a library speaker, a speaker of this review, or a new
name unknown to the library, see :func:`gui.edit_model.resolve_speaker`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QComboBox, QStyledItemDelegate, QStyleOptionViewItem, QWidget

_Index = QModelIndex | QPersistentModelIndex


class SpeakerDelegate(QStyledItemDelegate):
    """Editable combo box offering ``names()`` (display names, in order)."""

    def __init__(self, names: Callable[[], Sequence[str]], parent=None) -> None:
        super().__init__(parent)
        self.names = names

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem,  # noqa: N802 - Qt API
                     index: _Index) -> QWidget:
        box = QComboBox(parent)
        box.setEditable(True)
        box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        box.addItems(list(self.names()))
        box.setToolTip("Pick a speaker, or type a new name (a speaker not in the library)")
        return box

    def setEditorData(self, editor: QWidget, index: _Index) -> None:  # noqa: N802 - Qt API
        assert isinstance(editor, QComboBox)
        text = str(index.data(Qt.ItemDataRole.EditRole) or "")
        i = editor.findText(text)
        if i >= 0:
            editor.setCurrentIndex(i)
        editor.setEditText(text)

    def setModelData(self, editor: QWidget, model: QAbstractItemModel,  # noqa: N802 - Qt API
                     index: _Index) -> None:
        assert isinstance(editor, QComboBox)
        text = editor.currentText().strip()
        if text and text != str(index.data(Qt.ItemDataRole.EditRole) or ""):
            model.setData(index, text, Qt.ItemDataRole.EditRole)
