"""Where user data lives: one directory for library, settings, logs and sessions.

Default: platformdirs' user data directory for "VoiceprintStudio". The
environment variable ``VPSTUDIO_HOME`` (or the ``--home DIR`` flag, which sets
it) overrides it, for tests and for users who keep data elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "VoiceprintStudio"
HOME_ENV = "VPSTUDIO_HOME"
CACHE_ENV = "VPSTUDIO_CACHE"


def data_home() -> Path:
    """The user data directory, created (mode 0700) if missing."""
    override = os.environ.get(HOME_ENV)
    home = Path(override).expanduser() if override else Path(platformdirs.user_data_dir(APP_NAME))
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return home


def set_data_home(path: str | os.PathLike[str]) -> Path:
    """Point the data directory at ``path`` for this process (the ``--home`` flag)."""
    os.environ[HOME_ENV] = str(Path(path).expanduser().resolve())
    return data_home()


def cache_home() -> Path:
    """Folder for files the app can rebuild (the CAM++ ONNX export), created if missing.

    Default: platformdirs' user cache directory; ``VPSTUDIO_CACHE`` overrides it. It is
    not under the data folder, so a fresh data folder (tests, ``--home``) reuses it.
    """
    override = os.environ.get(CACHE_ENV)
    d = Path(override).expanduser() if override else Path(platformdirs.user_cache_dir(APP_NAME))
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    return d


def library_path() -> Path:
    """The SQLite voiceprint library file."""
    return data_home() / "library.sqlite3"


def settings_path() -> Path:
    """The JSON settings file (recent files, window state, options)."""
    return data_home() / "settings.json"


def log_dir() -> Path:
    """Folder of log files."""
    d = data_home() / "logs"
    d.mkdir(exist_ok=True)
    return d
