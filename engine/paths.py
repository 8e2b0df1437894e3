"""Where user data lives: one directory for library, settings, logs and sessions.

Default: platformdirs' user data directory for "VoiceprintStudio". The
environment variable ``VPSTUDIO_HOME`` (or the ``--home DIR`` flag, which sets
it) overrides it, for tests and for users who keep data elsewhere.

Everything under the data folder is the user's only (0700 folders, 0600 files; see
engine/private_files.py). The first time a process uses a data folder, a folder that
already existed with looser permissions (an older version's, or a ``--home`` folder) is
tightened with the app's files in it (:data:`APP_ENTRIES`), and the log says so.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import platformdirs

from engine.private_files import make_tree_private, private_dir

APP_NAME = "VoiceprintStudio"
HOME_ENV = "VPSTUDIO_HOME"
CACHE_ENV = "VPSTUDIO_CACHE"

#: What the app keeps in the data folder (the folder may hold the user's own files too,
#: when given as ``--home``; only these are tightened).
APP_ENTRIES = ("library.sqlite3", "library.sqlite3-wal", "library.sqlite3-shm",
               "library.sqlite3-journal", "settings.json", "logs", "models", "qt",
               "enrollment_audio",
               # vpstudio serve (engine/server/)
               "jobs.sqlite3", "jobs.sqlite3-wal", "jobs.sqlite3-shm", "server-token",
               "server-uploads")

log = logging.getLogger(__name__)
_checked: set[str] = set()  # data folders already made private in this process
_checked_lock = threading.Lock()


def data_home() -> Path:
    """The user data directory, created (mode 0700) if missing, private once checked."""
    override = os.environ.get(HOME_ENV)
    home = Path(override).expanduser() if override else Path(platformdirs.user_data_dir(APP_NAME))
    private_dir(home)
    key = os.fspath(home)
    with _checked_lock:
        if key not in _checked:
            changed = make_tree_private(home, APP_ENTRIES)
            if changed:
                log.warning(
                    "The data folder %s was readable by other users: %d item(s) in it are "
                    "now private (folders 0700, files 0600).", home, len(changed))
            _checked.add(key)
    return home


def set_data_home(path: str | os.PathLike[str]) -> Path:
    """Point the data directory at ``path`` for this process (the ``--home`` flag)."""
    os.environ[HOME_ENV] = str(Path(path).expanduser().resolve())
    return data_home()


def cache_home() -> Path:
    """Folder for files the app can rebuild (the ONNX exports of ECAPA and CAM++), created if missing.

    Default: platformdirs' user cache directory; ``VPSTUDIO_CACHE`` overrides it. It is
    not under the data folder, so a fresh data folder (tests, ``--home``) reuses it.
    """
    override = os.environ.get(CACHE_ENV)
    d = Path(override).expanduser() if override else Path(platformdirs.user_cache_dir(APP_NAME))
    return private_dir(d)


def library_path() -> Path:
    """The SQLite voiceprint library file."""
    return data_home() / "library.sqlite3"


def settings_path() -> Path:
    """The JSON settings file (recent files, window state, options)."""
    return data_home() / "settings.json"


def log_dir() -> Path:
    """Folder of log files (0700)."""
    return private_dir(data_home() / "logs")
