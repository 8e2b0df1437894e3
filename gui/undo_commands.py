"""The window's undo stack entries: review edits, a new identification result, and
names re-decided at a new threshold (consecutive threshold moves merge into one)."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QUndoCommand

from gui.review_model import Edit

THRESHOLD_COMMAND_ID = 1201


class EditCommand(QUndoCommand):
    """A review edit on the undo stack (``redo`` runs when pushed)."""

    def __init__(self, window: Any, edit: Edit) -> None:
        super().__init__(edit.text)
        self.window = window
        self.edit = edit

    def redo(self) -> None:
        if self.window.review is not None:
            self.window.review.apply(self.edit)
            self.window.refresh_review()

    def undo(self) -> None:
        if self.window.review is not None:
            self.window.review.revert(self.edit)
            self.window.refresh_review()


class ThresholdCommand(EditCommand):
    """Names re-decided at a new threshold: the edit plus the engine result it came from."""

    def __init__(self, window: Any, edit: Edit, old_result: Any, new_result: Any) -> None:
        super().__init__(window, edit)
        self.old_result = old_result
        self.new_result = new_result

    def id(self) -> int:  # noqa: A003 - Qt API
        return THRESHOLD_COMMAND_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt API
        if not isinstance(other, ThresholdCommand):
            return False
        e = self.edit
        self.edit = Edit(other.edit.text, e.before, other.edit.after, e.names_before,
                         other.edit.names_after)
        self.new_result = other.new_result
        self.setText(other.text())
        return True

    def redo(self) -> None:
        self.window.result = self.new_result
        super().redo()

    def undo(self) -> None:
        self.window.result = self.old_result
        super().undo()


class ResultCommand(QUndoCommand):
    """A new identification replaced the one on screen; undo brings back the old one
    (with its edits: they are the commands below this one on the stack)."""

    def __init__(self, window: Any, old: tuple[Any, Any], new: tuple[Any, Any]) -> None:
        super().__init__("Identify again")
        self.window = window
        self.old = old  # (review, result)
        self.new = new

    def redo(self) -> None:
        self.window.show_review(*self.new)

    def undo(self) -> None:
        self.window.show_review(*self.old)
