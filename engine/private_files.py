"""Folders and files only their owner can read: 0700 folders, 0600 files.

The data folder holds voiceprints (biometric data), speaker names, sessions and logs,
so everything in it is the user's only, whatever the process umask: modes are set
explicitly (``mkdir``'s and ``open``'s mode arguments are masked by the umask, and a
0000 umask would leave 0777/0666). Every writer in the engine and the window goes
through these helpers:

* :func:`private_dir`: create a folder (and missing parents) 0700;
* :func:`open_private`: open a file for writing or appending, created/forced 0600;
* :func:`write_private`: replace a file atomically with a 0600 one;
* :func:`make_tree_private`: tighten an existing tree (a data folder made by an older
  version, or a ``--home`` folder with loose permissions);
* :class:`PrivateFileHandler`: a ``logging.FileHandler`` whose file is 0600.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

DIR_MODE = 0o700
FILE_MODE = 0o600

log = logging.getLogger(__name__)


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` and its missing parents as 0700 folders; return it.

    Folders that already exist are left as they are (see :func:`make_tree_private`):
    a parent like ``~/.local/share`` is not the app's to change.

    Raises:
        OSError: a component cannot be created (the caller maps it to its error).
    """
    p = Path(path)
    missing: list[Path] = []
    while not p.exists() and not p.is_symlink() and p != p.parent:
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        try:
            d.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # another process of ours made it meanwhile
        os.chmod(d, DIR_MODE)
    return Path(path)


def open_private(path: str | os.PathLike[str], mode: str = "w", *,
                 encoding: str | None = "utf-8", errors: str | None = None) -> IO[Any]:
    """``open(path, mode)`` for writing (``w``, ``a``, ``x``, with ``b`` or not) of a
    file that is, or becomes, 0600 before anything is written to it."""
    kind = mode.replace("b", "").replace("t", "").replace("+", "")
    flags = {"w": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
             "a": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
             "x": os.O_WRONLY | os.O_CREAT | os.O_EXCL}.get(kind)
    if flags is None:
        raise ValueError(f"open_private writes; mode {mode!r} is not w, a or x")
    if "+" in mode:
        flags = (flags & ~os.O_WRONLY) | os.O_RDWR
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0), FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # an existing file keeps its mode otherwise
        if "b" in mode:
            return os.fdopen(fd, mode)
        return os.fdopen(fd, mode, encoding=encoding, errors=errors)
    except BaseException:
        os.close(fd)
        raise


def write_private(path: str | os.PathLike[str], data: bytes | str, *,
                  encoding: str = "utf-8") -> Path:
    """Replace ``path`` atomically with a 0600 file holding ``data`` (``str`` is encoded).

    The temporary file is made in the same folder (the folder must exist; it is not
    created or changed here), flushed to disk, then renamed over ``path``: a crash
    leaves the old file or the new one, never half of either.

    Raises:
        OSError: the folder is missing or not writable, or the disk is full.
    """
    p = Path(path)
    raw = data.encode(encoding) if isinstance(data, str) else data
    directory = p.parent if str(p.parent) else Path(".")
    # a short prefix: the temporary name must fit in 255 bytes whenever the target does
    prefix = "." + p.name.encode("utf-8", "surrogateescape")[:40].decode("utf-8", "ignore")
    fd, tmp = tempfile.mkstemp(prefix=prefix + ".", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, FILE_MODE)  # mkstemp's 0600 already; stated, not assumed
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # makes the rename durable; not everywhere supported
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    return p


def make_tree_private(root: str | os.PathLike[str],
                      entries: Iterable[str] | None = None) -> list[Path]:
    """Tighten ``root`` and what is in it: folders to 0700, files to 0600.

    ``entries``: only these names in ``root`` (each a file, or a folder taken whole) are
    changed besides ``root`` itself; None: everything. A data folder given as ``--home``
    may be a folder of the user's own files (``~/Documents``): the app changes only the
    files it made there, and the folder's own 0700 keeps other users out of the rest.

    Symbolic links are not followed (they may point at read-only model files outside).
    A folder that is not the user's own, or has the sticky bit (``/tmp`` given as
    ``--home``), is left alone with a warning: changing it would break other users.

    Returns:
        The paths whose mode was changed (empty when the tree was already private).
    """
    top = Path(root)
    changed: list[Path] = []
    try:
        st = os.lstat(top)
    except OSError:
        return changed
    if not stat.S_ISDIR(st.st_mode):
        return changed
    if st.st_uid != os.getuid() or st.st_mode & stat.S_ISVTX:
        if stat.S_IMODE(st.st_mode) & 0o077:
            log.warning("The data folder %s is shared (not yours, or sticky): its "
                        "permissions are left as they are; choose a folder of your own.", top)
        return changed
    _tighten(top, changed)
    if entries is None:
        starts = [top]
    else:
        starts = [top / name for name in entries]
        for p in starts:
            _tighten(p, changed)
    for start in starts:
        if start.is_symlink() or not start.is_dir():
            continue
        # top-down: a child folder is opened up to 0700 before os.walk lists it
        for here, dirs, files in os.walk(start, followlinks=False):
            for name in (*dirs, *files):
                _tighten(Path(here) / name, changed)
    return changed


def _tighten(p: Path, changed: list[Path]) -> None:
    with contextlib.suppress(OSError):  # vanished meanwhile, or not ours to change
        s = os.lstat(p)
        if s.st_uid != os.getuid():
            return
        if stat.S_ISDIR(s.st_mode):
            want = DIR_MODE
        elif stat.S_ISREG(s.st_mode):
            want = FILE_MODE
        else:  # symbolic links (models staged from read-only folders), sockets, fifos
            return
        if stat.S_IMODE(s.st_mode) != want:
            os.chmod(p, want)
            changed.append(p)


class PrivateFileHandler(logging.FileHandler):
    """A ``logging.FileHandler`` whose log file is 0600 (an existing one is tightened)."""

    def _open(self) -> io.TextIOWrapper:
        f = open_private(self.baseFilename, self.mode, encoding=self.encoding,
                         errors=self.errors)
        assert isinstance(f, io.TextIOWrapper)  # text mode: logging writes str
        return f
