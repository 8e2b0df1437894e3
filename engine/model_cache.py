"""Model files the app builds itself (ONNX exports), kept in :func:`engine.paths.cache_home`.

A cached file ``NAME`` is trusted only when its SHA-256 equals the one recorded in
``NAME.sha256`` when it was built: a file damaged by a crash or a bad disk, or replaced
by someone else, is never handed to ONNX Runtime; it is rebuilt instead. Both files are
written atomically (a temporary file beside them, flushed, then renamed), so readers see
either nothing or a complete pair, and two processes building at once do not corrupt
each other (the last rename wins; both results are equal).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

_log = logging.getLogger(__name__)
DIGEST_SUFFIX = ".sha256"


def digest_path(path: Path) -> Path:
    """Where the recorded SHA-256 of the cached file ``path`` lives."""
    return path.with_name(path.name + DIGEST_SUFFIX)


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _write_atomic(dest: Path, write: Callable[[Path], object]) -> None:
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        write(tmp)
        os.chmod(tmp, 0o600)  # the user's only, like everything the app writes
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def verified(path: Path) -> bool:
    """True when ``path`` exists and matches the SHA-256 recorded when it was built."""
    try:
        recorded = digest_path(path).read_text(encoding="ascii").split()[0]
        return path.is_file() and _sha256(path) == recorded
    except (OSError, IndexError, UnicodeError):
        return False


def invalidate(path: Path) -> None:
    """Remove a cached file and its recorded digest (the next use rebuilds it)."""
    digest_path(path).unlink(missing_ok=True)
    path.unlink(missing_ok=True)


def build(path: Path, make: Callable[[Path], None]) -> None:
    """Build the cached file ``path`` with ``make(tmp)`` and record its SHA-256.

    ``make`` writes the complete file at the path it is given (a temporary name beside
    ``path``) and raises if it cannot.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    digest_path(path).unlink(missing_ok=True)
    _write_atomic(path, make)
    digest = _sha256(path)
    _write_atomic(
        digest_path(path),
        lambda tmp: tmp.write_text(f"{digest}  {path.name}\n", encoding="ascii"),
    )


def load(path: Path, make: Callable[[Path], None], open_model: Callable[[Path], T]) -> T:
    """``open_model(path)`` of a verified cached file, building or rebuilding it first
    when it is missing, does not match its recorded digest, or does not open.

    Raises:
        whatever ``make`` raises when the file cannot be built, or ``open_model``
        raises on a freshly built file.
    """
    for attempt in range(2):
        if not verified(path):
            if path.exists() or digest_path(path).exists():
                _log.warning("cached model %s fails its check: rebuilding it", path.name)
            invalidate(path)
            build(path, make)
        try:
            return open_model(path)
        except Exception:
            invalidate(path)  # it matched its digest yet does not open: built by a bad run
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
