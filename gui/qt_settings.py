"""Qt's own settings file kept inside the data folder, private.

Qt's file dialog saves the folders it visited (``lastVisited``, ``history``: where the
user's recordings are) to ``QSettings("QtProject")``, by default
``~/.config/QtProject.conf``, outside the data folder and 0644. :func:`redirect` points
Qt's user-scope settings at ``<data folder>/qt`` before any dialog exists, and
:func:`tighten` makes what Qt wrote there 0600 (Qt creates it with the umask's mode).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from engine import paths
from engine.private_files import make_tree_private, private_dir

FOLDER = "qt"  # in engine.paths.APP_ENTRIES


def folder() -> Path:
    """``<data folder>/qt`` (0700, created if missing)."""
    return private_dir(paths.data_home() / FOLDER)


def redirect() -> Path:
    """Point Qt's user-scope settings (native and INI) at :func:`folder`; call before
    the first ``QSettings`` or file dialog. Returns the folder."""
    d = folder()
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(d))
    return d


def tighten() -> None:
    """Make the files Qt wrote in :func:`folder` 0600 (after each file dialog)."""
    make_tree_private(folder())
