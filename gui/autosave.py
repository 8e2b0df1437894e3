"""Autosave of the review session, and the offer to restore it after a crash.

A few seconds after the last edit (a single-shot timer restarted by each edit)
the window's session is written to ``autosave.vpsession.json`` in the user data
folder, atomically and readable by the user only. Saving the session, or
discarding its edits, removes the file; so a file found at start-up means the
last run ended (crash, kill, power cut) with edits nobody saved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer

from engine import paths
from gui.session_io import write_private_json

log = logging.getLogger(__name__)

FILE_NAME = "autosave.vpsession.json"
IDLE_MS = 3000


def autosave_path() -> Path:
    return paths.data_home() / FILE_NAME


class Autosaver(QObject):
    """Writes ``session()`` (a JSON-able dict, or None: nothing to keep) when edits pause.

    Args:
        session: builds the session to keep, on the main thread.
        idle_ms: quiet time after the last edit before writing.
    """

    def __init__(self, session: Callable[[], dict[str, Any] | None], parent: QObject | None = None,
                 idle_ms: int = IDLE_MS) -> None:
        super().__init__(parent)
        self.session = session
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(int(idle_ms))
        self.timer.timeout.connect(self.save_now)

    @property
    def path(self) -> Path:
        return autosave_path()

    def schedule(self) -> None:
        """An edit happened: (re)start the idle timer."""
        self.timer.start()

    def save_now(self) -> bool:
        self.timer.stop()
        data = self.session()
        if data is None:
            return False
        try:
            write_private_json(self.path, data)
        except OSError:
            # losing the autosave must not interrupt the review
            log.warning("cannot write the autosave %s", self.path, exc_info=True)
            return False
        return True

    def discard(self) -> None:
        """The session was saved or its edits dropped: nothing to restore any more."""
        self.timer.stop()
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            log.warning("cannot remove the autosave %s", self.path)

    def pending(self) -> Path | None:
        """The autosave left by a run that ended with unsaved edits, if any."""
        p = self.path
        return p if p.is_file() else None
