"""Every question the window asks the user, behind one object tests replace."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from gui import qt_settings
from gui.folders import LastFolder


def format_quality(report: Any) -> str:
    """A person-readable summary of an ``engine`` QualityReport."""
    from engine.enroll import verdict_text

    verdict = getattr(report, "verdict_text", "") or verdict_text(report)
    lines = [
        verdict,
        "",
        f"Net speech: {float(report.net_speech_s):.1f} s "
        f"(at least {float(getattr(report, 'min_speech_s', 0.0)):.1f} s needed)",
        f"Voices found: {int(report.voices_found)}",
        f"Clipping: {100.0 * float(report.clipping_ratio):.2f} % of samples",
        f"Level: {float(report.level_dbfs):.1f} dBFS",
        (
            "Signal-to-noise: not measurable (too little silence)"
            if report.snr_db is None
            else f"Signal-to-noise: {float(report.snr_db):.1f} dB"
        ),
    ]
    # the first message restates a too-short verdict already said in words above
    lines += [str(m) for m in getattr(report, "messages", ()) or ()
              if not (str(report.verdict) == "too-short" and str(m).startswith("Only "))]
    return "\n".join(lines)


class Prompts:
    """Modal dialogs. Tests substitute an object with the same methods."""

    def __init__(self, parent: QWidget, folders: LastFolder | None = None) -> None:
        self.parent = parent
        self.folders = folders

    def _start(self, default: str = "") -> str:
        return self.folders.start(default) if self.folders is not None else default

    def _chosen(self, path: str) -> str | None:
        if path and self.folders is not None:
            self.folders.remember(path)
        return path or None

    def open_file(self, title: str, filters: str) -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, title, self._start(), filters)
        qt_settings.tighten()  # the dialog has just saved its folder history
        return self._chosen(path)

    def save_file(self, title: str, filters: str, default: str = "") -> str | None:
        path, _ = QFileDialog.getSaveFileName(self.parent, title, self._start(default), filters)
        qt_settings.tighten()
        return self._chosen(path)

    def ask_unsaved(self, title: str, text: str) -> str:
        """Save / Discard / Cancel about unsaved edits: ``"save"``, ``"discard"`` or ``"cancel"``."""
        B = QMessageBox.StandardButton  # noqa: N806
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, B.Save | B.Discard | B.Cancel,
                          self.parent)
        box.setDefaultButton(B.Save)
        answer = box.exec()
        return {B.Save: "save", B.Discard: "discard"}.get(B(answer), "cancel")

    def ask_text(self, title: str, label: str, text: str = "",
                 choices: Sequence[str] = ()) -> str | None:
        if choices:
            items = [text, *[c for c in choices if c != text]] if text else list(choices)
            value, ok = QInputDialog.getItem(self.parent, title, label, items, 0, True)
        else:
            value, ok = QInputDialog.getText(self.parent, title, label, text=text)
        value = str(value).strip()
        return value if ok and value else None

    def ask_enroll(self, report_text: str, speakers: Sequence[Any], new_name: str = "",
                   existing_id: int | None = None) -> Any:
        """New speaker or add to an existing one (:class:`gui.enroll_dialog.EnrollChoice`)."""
        from gui.enroll_dialog import ask_enroll

        return ask_enroll(self.parent, report_text, speakers, new_name=new_name,
                          existing_id=existing_id)

    def ask_choice(self, title: str, label: str, choices: Sequence[str]) -> str | None:
        value, ok = QInputDialog.getItem(self.parent, title, label, list(choices), 0, False)
        return str(value) if ok else None

    def confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self.parent, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def info(self, title: str, text: str) -> None:
        QMessageBox.information(self.parent, title, text)

    def error(self, title: str, text: str) -> None:
        QMessageBox.warning(self.parent, title, text)
