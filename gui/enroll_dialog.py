"""The enroll dialog: name a NEW voice, or explicitly add the recording to an existing one.

A name field that came pre-filled with an existing speaker let one Enter press blend
another person into that speaker's voiceprint (issue 12). So the dialog starts on
"New speaker" with an empty name (completion offers the existing names, to see what is
taken), and typing an existing name does not add to it: adding to an existing speaker
is its own radio button with its own list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)


@dataclass(frozen=True)
class EnrollChoice:
    """What the user chose: a new speaker's ``name`` (``speaker_id`` None), or the
    existing speaker ``speaker_id`` (``name`` is its name)."""

    name: str
    speaker_id: int | None = None

    @property
    def existing(self) -> bool:
        return self.speaker_id is not None


class EnrollDialog(QDialog):
    """Quality report, then "New speaker: [name]" or "Add to existing: [speaker]".

    Args:
        report_text: the quality report in words (shown first).
        speakers: the library's speakers (objects with ``id`` and ``name``).
        new_name: a suggested name for a new speaker; ignored when it is an existing
            name (that would silently add to them).
        existing_id: the speaker to preselect in the "Add to existing" list; the dialog
            still starts on "New speaker".
    """

    def __init__(self, report_text: str, speakers: Sequence[Any], *, new_name: str = "",
                 existing_id: int | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Enroll speaker")
        self._speakers = list(speakers)
        self._taken = {str(s.name).casefold(): s for s in self._speakers}
        lay = QVBoxLayout(self)
        report = QLabel(report_text, self)
        report.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(report)

        self.new_radio = QRadioButton("&New speaker", self)
        self.name_edit = QLineEdit(self)
        self.name_edit.setPlaceholderText("Name of the person speaking")
        completer = QCompleter([str(s.name) for s in self._speakers], self.name_edit)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.name_edit.setCompleter(completer)
        self.existing_radio = QRadioButton("&Add to an existing speaker", self)
        self.existing_combo = QComboBox(self)
        for s in self._speakers:
            self.existing_combo.addItem(str(s.name), int(s.id))
        self.hint = QLabel(self)
        self.hint.setWordWrap(True)
        self.hint.setStyleSheet("color: palette(mid);")
        group = QButtonGroup(self)
        group.addButton(self.new_radio)
        group.addButton(self.existing_radio)
        for w in (self.new_radio, self.name_edit, self.existing_radio, self.existing_combo,
                  self.hint):
            lay.addWidget(w)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)

        if existing_id is not None:
            k = self.existing_combo.findData(int(existing_id))
            if k >= 0:
                self.existing_combo.setCurrentIndex(k)
        if new_name and new_name.casefold() not in self._taken:
            self.name_edit.setText(new_name)
        self.existing_radio.setEnabled(bool(self._speakers))
        self.new_radio.setChecked(True)
        self.name_edit.textChanged.connect(self._update)
        self.name_edit.textEdited.connect(lambda _t: self.new_radio.setChecked(True))
        self.existing_combo.activated.connect(lambda _i: self.existing_radio.setChecked(True))
        group.buttonToggled.connect(lambda *_: self._update())
        self._update()
        self.setMinimumWidth(420)
        self.adjustSize()
        self.name_edit.setFocus()

    def choice(self) -> EnrollChoice | None:
        """The current valid choice, or None (empty or taken new name, nothing chosen)."""
        if self.existing_radio.isChecked():
            if self.existing_combo.currentIndex() < 0:
                return None
            return EnrollChoice(self.existing_combo.currentText(),
                                int(self.existing_combo.currentData()))
        name = self.name_edit.text().strip()
        if not name or name.casefold() in self._taken:
            return None
        return EnrollChoice(name)

    def _update(self) -> None:
        self.name_edit.setEnabled(self.new_radio.isChecked())
        self.existing_combo.setEnabled(self.existing_radio.isChecked())
        name = self.name_edit.text().strip()
        taken = self._taken.get(name.casefold()) if self.new_radio.isChecked() else None
        if taken is not None:
            self.hint.setText(f"{taken.name} is already in the library. To add this recording "
                              "to them, choose \"Add to an existing speaker\"; otherwise give "
                              "the new speaker another name.")
        elif self.existing_radio.isChecked():
            self.hint.setText("The recording is checked against this speaker's voiceprint "
                              "before it is added.")
        else:
            self.hint.setText("")
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(self.choice() is not None)
        ok.setText("Add" if self.existing_radio.isChecked() else "Enroll")


def ask_enroll(parent: QWidget | None, report_text: str, speakers: Sequence[Any], *,
               new_name: str = "", existing_id: int | None = None) -> EnrollChoice | None:
    """Show :class:`EnrollDialog` modally; the choice, or None when cancelled."""
    dlg = EnrollDialog(report_text, speakers, new_name=new_name, existing_id=existing_id,
                       parent=parent)
    return dlg.choice() if dlg.exec() == QDialog.DialogCode.Accepted else None
