"""What a batch worker runs for one file: identify it, render the output text.

:func:`identify_file` is the Dask task. It runs in a long-lived worker process, so the
models, loaded by the engine's cached ``default_*`` functions on first use (or ahead of
it by the warm-up plugin of :mod:`engine.batch.runner`), are loaded once per worker and
reused for every file. The file is passed to :func:`engine.identify.identify` as a path
and streamed in blocks: a 24 h recording stays within the engine's memory bound. Every
error becomes a ``failed`` :class:`FileOutcome` with the typed error's ``type`` and
``message`` (never an exception through Dask, which would lose them). No Dask import
here: the function is plain and testable in-process.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.batch.manifest import BatchSettings
from engine.errors import VPError


@dataclass(frozen=True)
class FileTask:
    """One file to identify: its absolute ``path`` and the batch's ``settings``."""

    path: str
    settings: BatchSettings


@dataclass(frozen=True)
class LibrarySnapshot:
    """What the workers get of the library: ``voiceprints`` (speaker id ->
    :class:`engine.voiceprint.Voiceprint`) and ``names`` (speaker id -> name)."""

    voiceprints: Mapping[str, Any]
    names: Mapping[str, str]


@dataclass(frozen=True)
class FileOutcome:
    """The result of one file.

    Attributes:
        path: the input file.
        status: ``ok`` or ``failed``.
        text: the output file's text (``ok`` only), as ``vpstudio identify -o`` writes it.
        duration: the audio's duration in seconds (None when unknown).
        speakers: speaker labels found, in order of first appearance.
        error_type, error_message: the typed error of a failed file.
        compute_s: wall seconds the worker spent on the file.
        worker: the worker's address (for the log), or "".
    """

    path: str
    status: str
    text: str = ""
    duration: float | None = None
    speakers: tuple[str, ...] = ()
    error_type: str = ""
    error_message: str = ""
    compute_s: float = 0.0
    worker: str = field(default="", compare=False)


def identify_file(task: FileTask, library: LibrarySnapshot) -> FileOutcome:
    """Identify ``task.path`` against ``library`` (never raises; see the module docstring)."""
    start = time.perf_counter()
    try:
        result = _identify(task, library)
        from engine import formats

        text = formats.dumps(result, task.settings.fmt, uri=Path(task.path).stem)
        return FileOutcome(
            path=task.path, status="ok", text=text, duration=float(result.duration),
            speakers=tuple(result.speakers()), compute_s=time.perf_counter() - start,
            worker=_worker_name(),
        )
    except VPError as exc:
        return _failed(task, exc.type, exc.message, start)
    except MemoryError:
        return _failed(task, "internal.out-of-memory",
                       "The worker ran out of memory on this file.", start)
    except Exception as exc:  # the last line of defence: a typed row, the batch goes on
        return _failed(task, "internal.error", f"Unexpected error: {type(exc).__name__}: {exc}",
                       start)


def _identify(task: FileTask, library: LibrarySnapshot) -> Any:
    from engine.audio import check_readable, probe
    from engine.cli import _rename_result

    s = task.settings
    check_readable(task.path)
    probe(task.path)  # a corrupt file fails here, on its header, before any model is needed
    options = s.identify_options()
    confidence = s.fmt == "json"  # as vpstudio identify
    if s.channel_mode == "split":
        from engine.identify_channels import identify_channels

        result = identify_channels(
            task.path, library.voiceprints,
            channels=list(s.channels) if s.channels is not None else None,
            confidence=confidence, **options,
        )
    else:
        from engine.identify import identify

        result = identify(task.path, library.voiceprints, confidence=confidence, **options)
    return _rename_result(result, dict(library.names))


def _failed(task: FileTask, kind: str, message: str, start: float) -> FileOutcome:
    duration: float | None = None
    try:
        from engine.audio import probe

        d = probe(task.path).duration
        duration = float(d) if d == d else None
    except Exception:  # an unreadable file has no duration
        duration = None
    return FileOutcome(path=task.path, status="failed", duration=duration, error_type=kind,
                       error_message=message, compute_s=time.perf_counter() - start,
                       worker=_worker_name())


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return ""


def warm_up_worker() -> None:
    """Load every model of identification in this process (the worker plugin's setup).

    A model that does not load is left to fail the first file with its typed error.
    """
    from engine.warmup import warm_up

    try:
        warm_up()
    except VPError:
        pass
