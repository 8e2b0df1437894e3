"""A request's audio (``url`` or base64 ``content``) as a local file, size-checked.

The app is offline: ``url`` is a local path or a ``file://`` URL, nothing else.
``content`` is written to a private upload folder (0700, files 0600) and removed
when its job ends.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from engine import paths
from engine.audio import Limits
from engine.errors import MediaUnreadable, SizeLimitExceeded, ValidationError
from engine.private_files import private_dir


@dataclass(frozen=True)
class MediaFile:
    """A local audio file for a job; ``temporary`` files are deleted by :meth:`cleanup`."""

    path: Path
    temporary: bool

    def cleanup(self) -> None:
        if self.temporary:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


def upload_dir() -> Path:
    return private_dir(paths.data_home() / "server-uploads")


def _too_large(size: int, limits: Limits, location: str) -> SizeLimitExceeded:
    return SizeLimitExceeded(
        f"The media is {size} bytes; at most {limits.max_bytes} are allowed.",
        location=location,
        detail="media.too-large",
        context={"file_size": size, "max_file_size": limits.max_bytes},
    )


def url_to_path(url: str) -> Path:
    """A local path from ``url`` (a path or ``file://`` URL); other schemes are refused."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise ValidationError("file:// URLs must name a file on this machine.",
                                  location="url")
        return Path(unquote(parts.path))
    # one-letter "schemes" are Windows drive letters (C:\...)
    if parts.scheme and len(parts.scheme) > 1:
        raise ValidationError(
            f"url scheme {parts.scheme!r} is not supported: this server is offline and reads "
            "local paths or file:// URLs only (or send the audio as base64 'content').",
            location="url",
            context={"scheme": parts.scheme},
        )
    return Path(url).expanduser()


def resolve(url: str | None, content: str | None, limits: Limits) -> MediaFile:
    """Exactly one of ``url``/``content`` as a :class:`MediaFile` within ``limits.max_bytes``.

    Raises:
        ValidationError (400), SizeLimitExceeded (413), MediaUnreadable (422: no such file).
    """
    if (url is None) == (content is None):
        raise ValidationError("Give exactly one of 'url' and 'content'.", location="url")
    if url is not None:
        path = url_to_path(url)
        if not path.is_file():
            raise MediaUnreadable(f"There is no file {path}.", location="url")
        size = path.stat().st_size
        if size > limits.max_bytes:
            raise _too_large(size, limits, "url")
        return MediaFile(path.resolve(), temporary=False)
    assert content is not None
    # 4 base64 characters carry 3 bytes: refuse oversized content before decoding it
    if len(content) // 4 * 3 > limits.max_bytes + 3:
        raise _too_large(len(content) // 4 * 3, limits, "content")
    try:
        data = base64.b64decode(content, validate=True)
    except (binascii.Error, ValueError):
        raise ValidationError("content is not valid base64.", location="content") from None
    if not data:
        raise MediaUnreadable("content is empty.", location="content")
    if len(data) > limits.max_bytes:
        raise _too_large(len(data), limits, "content")
    fd, name = tempfile.mkstemp(prefix=f"{uuid.uuid4().hex}-", dir=upload_dir())
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(name)
        raise
    return MediaFile(Path(name), temporary=True)
