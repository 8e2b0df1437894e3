"""Typed errors: one exception family carrying a machine-readable type.

The ``type`` strings follow the cloud APIs Voiceprint Studio replaces
(pyannoteAI / Phonexia): ``request.validation-error``,
``request.size-limit-exceeded`` (detail ``media.too-large``), ``media.unreadable``,
``media.no-speech`` ... A caller branches on ``type``; a person reads ``message``.
"""

from __future__ import annotations

from typing import Any


class VPError(Exception):
    """Base of every error the engine raises on purpose.

    Attributes:
        type: machine-readable error type, e.g. ``"media.unreadable"``.
        message: one human sentence saying what is wrong and what to do.
        location: where the problem is (a file path, a parameter name, ``"voiceprints[3]"``).
        detail: a finer machine-readable reason (e.g. ``"media.too-large"``), or None.
        context: extra machine-readable facts (e.g. ``{"file_size": ..., "max_file_size": ...}``).
    """

    type: str = "internal.error"

    def __init__(
        self,
        message: str,
        *,
        location: str | None = None,
        detail: str | None = None,
        context: dict[str, Any] | None = None,
        type: str | None = None,  # noqa: A002 - mirrors the wire field name
    ) -> None:
        super().__init__(message)
        if type is not None:
            self.type = type
        self.message = message
        self.location = location
        self.detail = detail
        self.context: dict[str, Any] = dict(context or {})

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON-ready data: ``{"type", "message", "location", "detail", "context"}``."""
        out: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.location is not None:
            out["location"] = self.location
        if self.detail is not None:
            out["detail"] = self.detail
        if self.context:
            out["context"] = self.context
        return out

    def __str__(self) -> str:
        where = f" ({self.location})" if self.location else ""
        return f"{self.type}: {self.message}{where}"


class ValidationError(VPError):
    """A request parameter or input is invalid (``request.validation-error``)."""

    type = "request.validation-error"


class SizeLimitExceeded(VPError):
    """Input is larger or longer than allowed (``request.size-limit-exceeded``)."""

    type = "request.size-limit-exceeded"


class MediaUnreadable(VPError):
    """Audio cannot be decoded: empty, corrupt, unsupported (``media.unreadable``)."""

    type = "media.unreadable"


class NoSpeech(VPError):
    """Audio holds no (or too little) speech for the request (``media.no-speech``)."""

    type = "media.no-speech"


class ModelMismatch(VPError):
    """Voiceprints from different speaker models were mixed (``voiceprint.model-mismatch``)."""

    type = "voiceprint.model-mismatch"


class InvalidVoiceprint(VPError):
    """A voiceprint blob is malformed (``voiceprint.invalid``)."""

    type = "voiceprint.invalid"


class ModelUnavailable(VPError):
    """A model's weights are not installed or do not load (``model.unavailable``)."""

    type = "model.unavailable"


class NotFound(VPError):
    """A speaker, enrollment or job does not exist (``resource.not-found``)."""

    type = "resource.not-found"


class Conflict(VPError):
    """The request conflicts with existing data, e.g. a duplicate name (``resource.conflict``)."""

    type = "resource.conflict"


class VoiceMismatch(Conflict):
    """A recording does not match the voiceprint of the speaker it was to be added to
    (``resource.conflict``, detail ``voiceprint.speaker-mismatch``; ``context`` holds the
    ``speaker``, ``score`` and ``threshold``)."""


class DeviceUnavailable(VPError):
    """No sound card / PortAudio / input device (``device.unavailable``)."""

    type = "device.unavailable"


class DiskFull(VPError):
    """The disk holding the library or an output file is full (``library.disk-full``)."""

    type = "library.disk-full"


class LibraryReadOnly(VPError):
    """The library's file, folder or mount cannot be written (``library.read-only``).

    Reading commands still work: the library is then opened read-only.
    """

    type = "library.read-only"


class LibraryBusy(VPError):
    """Another writer held the library longer than the wait allows (``library.busy``)."""

    type = "library.busy"


class PermissionDenied(VPError):
    """The operating system refuses access to a file or folder (``file.permission-denied``)."""

    type = "file.permission-denied"


class Cancelled(Exception):
    """Raised inside a job when its cancel token is set.

    Deliberately not a :class:`VPError`: cancelling is not a failure, and the
    job runner maps it to the ``canceled`` state.
    """
