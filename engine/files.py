"""Files the engine writes for the user, and operating-system errors as typed errors.

Every ``OSError`` the engine meets on a user's file becomes a :class:`~engine.errors.VPError`
through :func:`os_error`, so a full disk, a folder given for a file, a missing folder, a
name over the file system's 255-byte limit or a permission problem reads as what it is,
never as ``internal.error``:

==========================  ===============================  ===========================
errno                       type                             detail
==========================  ===============================  ===========================
ENOSPC, EDQUOT              ``library.disk-full``            ``file.disk-full``
EROFS                       ``file.read-only``               ``file.read-only``
EACCES, EPERM               ``file.permission-denied``       ``file.permission-denied``
EISDIR                      ``request.validation-error``     ``file.is-a-directory``
ENAMETOOLONG                ``request.validation-error``     ``file.name-too-long``
ENOENT, ENOTDIR (writing)   ``request.validation-error``     ``file.folder-missing``
ENOENT, ENOTDIR (reading)   ``resource.not-found``           ``file.not-found``
anything else               ``file.io-error``                ``file.io-error``
==========================  ===============================  ===========================
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from engine.errors import (
    DiskFull,
    NotFound,
    PermissionDenied,
    ValidationError,
    VPError,
)

#: errno values meaning "no room left" (disk full, or the user's quota).
NO_SPACE = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})


def os_error(exc: OSError, path: str | os.PathLike[str], *, writing: bool,
             what: str = "file") -> VPError:
    """The typed error for an ``OSError`` met while reading or writing ``path``.

    Args:
        exc: the error the operating system gave.
        path: the file concerned (``location`` of the result).
        writing: True when the file was being created or written.
        what: a word for the file in messages (``"export file"``, ``"library"``).
    """
    code = exc.errno
    loc = os.fspath(path)
    doing = "written" if writing else "read"
    if code in NO_SPACE:
        return DiskFull(
            f"The disk is full: the {what} {loc} could not be written. Nothing was changed; "
            "free some space and try again.",
            location=loc,
            detail="file.disk-full",
        )
    if code == errno.EROFS:
        return VPError(
            f"The {what} {loc} is on a read-only file system and cannot be written.",
            type="file.read-only",
            location=loc,
            detail="file.read-only",
        )
    if code in (errno.EACCES, errno.EPERM):
        return PermissionDenied(
            f"Permission denied: the {what} {loc} cannot be {doing} by this user.",
            location=loc,
            detail="file.permission-denied",
        )
    if code == errno.EISDIR:
        return ValidationError(
            f"{loc} is a folder; give the name of a file.",
            location=loc,
            detail="file.is-a-directory",
        )
    if code == errno.ENAMETOOLONG:
        return ValidationError(
            f"A file or folder name in {loc[:80]}... is longer than the file system allows "
            "(255 bytes per name).",
            location=loc,
            detail="file.name-too-long",
        )
    if code in (errno.ENOENT, errno.ENOTDIR):
        if writing:
            parent = os.path.dirname(loc) or "."
            return ValidationError(
                f"The folder {parent} does not exist: create it first, or give another path.",
                location=loc,
                detail="file.folder-missing",
            )
        return NotFound(f"There is no file {loc}.", location=loc, detail="file.not-found")
    return VPError(
        f"The {what} {loc} cannot be {doing}: {exc.strerror or exc}.",
        type="file.io-error",
        location=loc,
        detail="file.io-error",
        context={"errno": code} if code is not None else None,
    )


def check_output_path(path: Path, what: str = "file") -> None:
    """Refuse, before any work, an output path that cannot be a new or replaced file.

    Raises the :func:`os_error` type for an existing folder, a missing parent folder or
    an over-long name. The parent folder is never created: a typo in it is an error.
    """
    try:
        if path.is_dir():
            raise os_error(OSError(errno.EISDIR, "Is a directory"), path, writing=True, what=what)
        parent = path.parent if str(path.parent) else Path(".")
        if not parent.is_dir():
            raise os_error(OSError(errno.ENOENT, "No such directory"), path, writing=True,
                           what=what)
    except OSError as exc:  # e.g. ENAMETOOLONG from stat()
        raise os_error(exc, path, writing=True, what=what) from exc


def write_private_atomic(path: str | os.PathLike[str], data: bytes, *,
                         what: str = "file") -> None:
    """Write ``data`` to ``path`` atomically with mode 0600 (temp file in the same folder).

    The folder must exist (it is not created). Every ``OSError`` becomes the typed
    error of :func:`os_error`; on any failure the temporary file is removed and an
    existing ``path`` is left as it was.
    """
    from engine.private_files import write_private

    path = Path(path)
    check_output_path(path, what)
    try:
        write_private(path, data)
    except OSError as exc:
        raise os_error(exc, path, writing=True, what=what) from exc

