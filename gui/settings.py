"""The window's settings as a small JSON file under ``engine.paths.settings_path()``.

Not QSettings: all user data lives in one folder (``VPSTUDIO_HOME``), and a
plain file is easy to inspect and to reset.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from engine.paths import settings_path
from engine.private_files import private_dir, write_private

log = logging.getLogger(__name__)
MAX_RECENT = 10


class Settings:
    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else settings_path()
        self.data: dict[str, Any] = {}
        try:
            loaded = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(loaded, dict):
                self.data = loaded
        except FileNotFoundError:
            pass
        except (OSError, ValueError):
            # a damaged settings file must never stop the app from starting
            log.warning("ignoring unreadable settings file %s", self.path)

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.save()

    def save(self) -> None:
        try:
            private_dir(self.path.parent)
            write_private(self.path, json.dumps(self.data, indent=1))  # 0600, atomic
        except OSError:
            log.warning("cannot write settings file %s", self.path)

    @property
    def recent_files(self) -> list[str]:
        return [str(p) for p in self.data.get("recent_files", []) if isinstance(p, str)]

    def add_recent(self, path: str | Path) -> None:
        p = str(Path(path).resolve())
        recent = [r for r in self.recent_files if r != p]
        self.set("recent_files", [p, *recent][:MAX_RECENT])
