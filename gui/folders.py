"""Where file dialogs open: the folder last used in one, else the open recording's folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gui.settings import Settings

KEY = "last_folder"


class LastFolder:
    """Remembers the last folder a file dialog chose (kept in the settings file).

    Args:
        settings: the window's settings (the folder survives a restart).
        recording: returns the open recording's path (or None), the fallback folder.
    """

    def __init__(self, settings: Settings, recording: Callable[[], str | None] = lambda: None) -> None:
        self.settings = settings
        self.recording = recording

    def folder(self) -> str:
        """The folder a dialog should start in ("" lets Qt choose)."""
        last = self.settings.get(KEY)
        if isinstance(last, str) and Path(last).is_dir():
            return last
        rec = self.recording()
        if rec and Path(rec).parent.is_dir():
            return str(Path(rec).parent)
        return ""

    def start(self, default_name: str = "") -> str:
        """The dialog's start path: ``default_name`` inside :meth:`folder`."""
        folder = self.folder()
        if not default_name:
            return folder
        if not folder or Path(default_name).is_absolute():
            return default_name
        return str(Path(folder) / default_name)

    def remember(self, path: str | None) -> None:
        if path:
            self.settings.set(KEY, str(Path(path).resolve().parent))
