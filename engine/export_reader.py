"""Reading a library export file incrementally, one validated speaker at a time.

An export may be 512 MiB (:data:`engine.library.MAX_IMPORT_BYTES`): parsed whole with
``json.loads`` it took about 25 bytes of memory per byte of file. Here ijson (yajl2 C
backend) turns the file into parse events and only one speaker is held at a time (at
most :data:`~engine.library.MAX_ENROLLMENTS_PER_SPEAKER` enrollments), so memory stays
flat whatever the number of speakers; :meth:`Library.import_json` writes each speaker
inside its single transaction as it arrives, so a bad speaker late in the file still
rolls back everything.

The top-level keys ``format``, ``version`` and ``model_id`` are checked when they are
met and again at the end; ``export_json`` writes them before ``speakers``, so a foreign
file fails at its first bytes. An enrollment without ``model_id`` inherits the file's
``model_id`` only when that key comes before ``speakers``.
"""

from __future__ import annotations

import binascii
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import ijson

from engine import library as _library
from engine.errors import InvalidVoiceprint, SizeLimitExceeded, ValidationError, VPError
from engine.files import os_error
from engine.library import (
    EXPORT_FORMAT,
    EXPORT_VERSION,
    MAX_ENROLLMENTS_PER_SPEAKER,
    NORM_TOLERANCE,
    _check_vector,
    _clean_colour,
    _clean_name,
    _clean_notes,
    _clean_seconds,
    _clean_source,
    _ImportSpeaker,
    _mismatch,
)
from engine.voiceprint import MAX_DIM, Voiceprint

_SCALARS = frozenset({"string", "number", "boolean", "null"})
Events = Iterator[tuple[str, Any]]


def open_export(path: Path) -> tuple[IO[bytes], int]:
    """Open an export file for reading; ``(binary file, size in bytes)``.

    Raises the typed error of :func:`engine.files.os_error` (missing, a folder,
    permission denied, name too long) or :class:`SizeLimitExceeded` over 512 MiB.
    """
    try:
        f = open(path, "rb")  # noqa: SIM115 - the caller closes it
    except OSError as exc:
        raise os_error(exc, path, writing=False, what="export file") from exc
    size = os.fstat(f.fileno()).st_size
    limit = _library.MAX_IMPORT_BYTES  # read at call time: tests lower it
    if size > limit:
        f.close()
        raise SizeLimitExceeded(
            f"{path.name} is {size / 2**20:.0f} MiB; an import file is at most "
            f"{limit // 2**20} MiB.",
            location=str(path),
            detail="import.too-large",
            context={"file_size": size, "max_file_size": limit},
        )
    return f, size


def iter_export(
    f: IO[bytes],
    path: Path,
    expected_model_id: str | None,
    on_speaker: Callable[[int], None] | None = None,
) -> Iterator[_ImportSpeaker]:
    """Validated speakers of an open export file, in file order.

    Raises (while iterating) :class:`ValidationError` for bad JSON or a bad shape,
    :class:`InvalidVoiceprint` / :class:`~engine.errors.ModelMismatch` for bad
    voiceprints. ``on_speaker(i)`` is called before speaker ``i`` is read.
    """
    events: Events = iter(ijson.basic_parse(f, use_float=True))
    try:
        yield from _document(events, path, expected_model_id, on_speaker)
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        raise ValidationError(
            f"{path.name} is not a valid JSON file: {exc}.", location=str(path)
        ) from exc
    except RecursionError as exc:
        raise ValidationError(
            f"{path.name} nests JSON too deeply for an export.", location=str(path)
        ) from exc


def _next(events: Events) -> tuple[str, Any]:
    try:
        return next(events)
    except StopIteration:
        raise ijson.IncompleteJSONError("the file ends in the middle of the data") from None


def _value(events: Events, event: str, value: Any) -> Any:
    """The whole JSON value that starts with ``(event, value)``."""
    if event in _SCALARS:
        return value
    if event == "start_map":
        out: dict[str, Any] = {}
        while True:
            ev, key = _next(events)
            if ev == "end_map":
                return out
            ev, val = _next(events)
            out[key] = val if ev in _SCALARS else _value(events, ev, val)
    if event == "start_array":
        items: list[Any] = []
        while True:
            ev, val = _next(events)
            if ev == "end_array":
                return items
            items.append(val if ev in _SCALARS else _value(events, ev, val))
    raise ijson.JSONError(f"unexpected {event}")


def _skip(events: Events, event: str) -> None:
    """Pass over the value that starts with ``event`` without building it."""
    depth = 0 if event in _SCALARS else 1
    while depth:
        ev, _ = _next(events)
        if ev in ("start_map", "start_array"):
            depth += 1
        elif ev in ("end_map", "end_array"):
            depth -= 1


def _not_export(path: Path) -> ValidationError:
    return ValidationError(
        f"{path.name} is not a Voiceprint Studio library export "
        f"(expected \"format\": \"{EXPORT_FORMAT}\").",
        location=f"{path}:format",
    )


def _check_header(header: dict[str, Any], path: Path, *, final: bool) -> None:
    if "format" in header or final:
        if header.get("format") != EXPORT_FORMAT:
            raise _not_export(path)
    if "version" in header or final:
        version = header.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version:
            raise ValidationError("The export's version is missing or invalid.", location="version")
        if version > EXPORT_VERSION:
            raise ValidationError(
                f"This export has format version {version}; this Voiceprint Studio reads up to "
                f"{EXPORT_VERSION}. Update the app.",
                location="version",
                context={"version": version, "supported": EXPORT_VERSION},
            )
    file_model = header.get("model_id")
    if file_model is not None and (not isinstance(file_model, str) or not file_model):
        raise ValidationError("model_id must be text.", location="model_id")


def _document(
    events: Events,
    path: Path,
    expected_model_id: str | None,
    on_speaker: Callable[[int], None] | None,
) -> Iterator[_ImportSpeaker]:
    event, _ = _next(events)
    if event != "start_map":
        raise _not_export(path)
    header: dict[str, Any] = {}
    seen_speakers = False
    while True:
        event, key = _next(events)
        if event == "end_map":
            break
        event, value = _next(events)
        if key in header or (key == "speakers" and seen_speakers):
            raise ValidationError(f"The key {key!r} appears twice in {path.name}.", location=key)
        if key == "speakers":
            seen_speakers = True
            _check_header(header, path, final=False)
            if event != "start_array":
                raise ValidationError("An export holds a list of speakers.", location="speakers")
            yield from _speakers(events, header.get("model_id"), expected_model_id, on_speaker)
        elif key in ("format", "version", "model_id"):
            header[key] = _value(events, event, value)
            _check_header(header, path, final=False)
        else:
            _skip(events, event)
    for _ in events:  # trailing data after the document: yajl raises on it
        raise ijson.JSONError("data after the end of the JSON document")
    _check_header(header, path, final=True)
    if not seen_speakers:
        raise ValidationError("An export holds a list of speakers.", location="speakers")


def _speakers(
    events: Events,
    file_model: str | None,
    expected_model_id: str | None,
    on_speaker: Callable[[int], None] | None,
) -> Iterator[_ImportSpeaker]:
    seen: dict[str, int] = {}
    dims: dict[str, int] = {}  # first dimension met in the file, for consistency
    i = 0
    while True:
        event, _ = _next(events)
        if event == "end_array":
            return
        if on_speaker is not None:
            on_speaker(i)
        sloc = f"speakers[{i}]"
        if event != "start_map":
            raise ValidationError("A speaker is a JSON object.", location=sloc)
        raw: dict[str, Any] = {}
        enrollments: Any = []
        while True:
            event, key = _next(events)
            if event == "end_map":
                break
            event, value = _next(events)
            if key == "enrollments" and event == "start_array":
                enrollments = []
                while True:
                    event, value = _next(events)
                    if event == "end_array":
                        break
                    if len(enrollments) >= MAX_ENROLLMENTS_PER_SPEAKER:
                        raise ValidationError(
                            "A speaker's enrollments are a list of at most "
                            f"{MAX_ENROLLMENTS_PER_SPEAKER}.",
                            location=f"{sloc}.enrollments",
                        )
                    enrollments.append(_value(events, event, value))
            elif key in ("name", "notes", "colour", "enrollments"):
                raw[key] = _value(events, event, value)
            else:
                _skip(events, event)
        if "enrollments" in raw:
            enrollments = raw.pop("enrollments")
        yield _speaker(raw, enrollments, i, seen, dims, file_model, expected_model_id)
        i += 1


def _speaker(
    raw: dict[str, Any],
    enrollments: Any,
    i: int,
    seen: dict[str, int],
    dims: dict[str, int],
    file_model: str | None,
    expected_model_id: str | None,
) -> _ImportSpeaker:
    """Validate one speaker (its name first, so that every later error can name it)."""
    from engine.encoder import MODEL_DIMS  # cheap: the module loads torch only on use

    sloc = f"speakers[{i}]"
    name = _clean_name(raw.get("name"), f"{sloc}.name")
    key = name.casefold()
    if key in seen:
        raise ValidationError(
            f"The name {name!r} appears twice in the file.",
            location=f"{sloc}.name",
            context={"first": f"speakers[{seen[key]}]"},
        )
    seen[key] = i
    colour = raw.get("colour")
    sp = _ImportSpeaker(
        name=name,
        notes=_clean_notes(raw.get("notes"), f"{sloc}.notes"),
        colour=None if colour is None else _clean_colour(colour, f"{sloc}.colour"),
    )
    if not isinstance(enrollments, list) or len(enrollments) > MAX_ENROLLMENTS_PER_SPEAKER:
        raise ValidationError(
            f"A speaker's enrollments are a list of at most {MAX_ENROLLMENTS_PER_SPEAKER}.",
            location=f"{sloc}.enrollments",
        )
    for j, e in enumerate(enrollments):
        eloc = f"{sloc}.enrollments[{j}]"
        if not isinstance(e, dict):
            raise ValidationError("An enrollment is a JSON object.", location=eloc)
        model_id = e.get("model_id", file_model)
        if not isinstance(model_id, str) or not model_id:
            raise ValidationError("An enrollment needs a model_id.", location=f"{eloc}.model_id")
        if expected_model_id is not None and model_id != expected_model_id:
            raise _mismatch(model_id, expected_model_id, f"{eloc}.model_id")
        if sp.models and model_id != sp.models[0]:
            raise _mismatch(model_id, sp.models[0], f"{eloc}.model_id")
        b64 = e.get("voiceprint")
        if not isinstance(b64, str) or len(b64) > 4 * (MAX_DIM * 4 + 1024):
            raise InvalidVoiceprint(
                f"Speaker {name!r}: a voiceprint is a base64 text.", location=f"{eloc}.voiceprint"
            )
        try:
            vp = Voiceprint.from_base64(b64, unit_tolerance=NORM_TOLERANCE)
        except VPError as exc:
            exc.location = f"{eloc}.voiceprint"
            exc.message = f"Speaker {name!r}: {exc.message}"
            exc.args = (exc.message,)
            raise
        except (ValueError, TypeError, binascii.Error) as exc:
            raise InvalidVoiceprint(
                f"Speaker {name!r}: a voiceprint cannot be decoded: {exc}.",
                location=f"{eloc}.voiceprint",
            ) from exc
        if vp.model_id != model_id:
            raise _mismatch(vp.model_id, model_id, f"{eloc}.voiceprint")
        vector = _check_vector(vp.vector, f"{eloc}.voiceprint")
        dim = int(vector.shape[0])
        declared_dim = e.get("dim")
        if declared_dim is not None and declared_dim != dim:
            raise InvalidVoiceprint(
                f"Speaker {name!r}: the voiceprint has {dim} numbers but dim says "
                f"{declared_dim}.",
                location=f"{eloc}.voiceprint",
            )
        expected_dim = MODEL_DIMS.get(model_id, dims.setdefault(model_id, dim))
        if dim != expected_dim:
            raise InvalidVoiceprint(
                f"Speaker {name!r}: its voiceprint has {dim} dimensions, but speaker model "
                f"{model_id!r} makes voiceprints of {expected_dim}; nothing was imported.",
                location=f"{eloc}.voiceprint",
                detail="voiceprint.bad-dimension",
                context={"name": name, "dim": dim, "expected_dim": expected_dim,
                         "model_id": model_id},
            )
        sp.vectors.append(vector)
        sp.models.append(model_id)
        sp.seconds.append(_clean_seconds(e.get("seconds", 0.0), f"{eloc}.seconds"))
        sp.sources.append(_clean_source(e.get("source", ""), f"{eloc}.source"))
    return sp
