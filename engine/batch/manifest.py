"""What a batch was run with, and which outputs are done: the resumable manifest.

``DIR/manifest.jsonl`` gets one JSON line per finished file, appended (and flushed to
disk) right after its output was written atomically::

    {"input": "/abs/a.wav", "output": "a.json", "key": "<hex>", "size": 123,
     "mtime_ns": 1700000000000000000, "duration": 61.2, "speakers": ["Ada", "UNKNOWN_00"]}

``key`` is :func:`run_key`: the SHA-256 of the settings (format, speaker counts,
threshold, channel mode, the speaker model and the engine version) and of the library
(:func:`library_digest`: every voiceprint's id, name, model and vector). A re-run skips a
file when its last line has the same key, the input has the same size and mtime, and
the output file exists; anything else is redone. A line cut short by a crash is
ignored (that file is redone).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.files import os_error
from engine.private_files import open_private

MANIFEST_NAME = "manifest.jsonl"


@dataclass(frozen=True)
class BatchSettings:
    """The identification options of a batch (those of ``vpstudio identify``).

    Attributes:
        fmt: output format, one of :data:`engine.formats.FORMATS`.
        num_speakers, min_speakers, max_speakers: speaker counts (None: found).
        threshold: 0-100 score to name a speaker (None: the calibrated default).
        channel_mode: ``mix`` or ``split``.
        channels: with ``split``, the channels to identify (None: all).
    """

    fmt: str = "json"
    num_speakers: int | None = None
    min_speakers: int | None = None
    max_speakers: int | None = None
    threshold: float | None = None
    channel_mode: str = "mix"
    channels: tuple[int, ...] | None = None

    def identify_options(self) -> dict[str, Any]:
        """The keyword arguments for :func:`engine.identify.identify` (set ones only)."""
        out: dict[str, Any] = {}
        for key in ("num_speakers", "min_speakers", "max_speakers", "threshold"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


def library_digest(voiceprints: Mapping[str, Any], names: Mapping[str, str]) -> str:
    """SHA-256 (hex) of the voiceprints (``id -> Voiceprint``) and their names."""
    import numpy as np

    h = hashlib.sha256()
    for key in sorted(voiceprints, key=str):
        vp = voiceprints[key]
        vec = np.ascontiguousarray(np.asarray(vp.vector, dtype="<f4"))
        h.update(json.dumps([str(key), names.get(str(key), ""), str(vp.model_id)]).encode())
        h.update(vec.tobytes())
    return h.hexdigest()


def run_key(settings: BatchSettings, library: str, model_id: str | None) -> str:
    """The manifest key: SHA-256 (hex) of ``settings``, the library digest, the model
    and the engine's version (a new version may identify differently)."""
    from engine import __version__
    from engine.calibration import DEFAULT_THRESHOLD

    doc = {
        "settings": asdict(settings),
        "default_threshold": float(DEFAULT_THRESHOLD),
        "library": library,
        "model_id": model_id,
        "version": __version__,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def input_stamp(path: str) -> tuple[int, int] | None:
    """``(size, mtime_ns)`` of an input file, or None when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return int(st.st_size), int(st.st_mtime_ns)


class Manifest:
    """``DIR/manifest.jsonl``: read the finished files, append new ones (0600)."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / MANIFEST_NAME
        self.done: dict[str, dict[str, Any]] = {}
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue  # a line cut short by a crash
                    if isinstance(entry, dict) and isinstance(entry.get("input"), str):
                        self.done[entry["input"]] = entry
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise os_error(exc, self.path, writing=False, what="batch manifest") from exc

    def finished(self, path: str, output: Path, key: str) -> dict[str, Any] | None:
        """The manifest line of ``path`` when its ``output`` is up to date, else None."""
        entry = self.done.get(path)
        if entry is None or entry.get("key") != key or not output.is_file():
            return None
        stamp = input_stamp(path)
        if stamp is None or [entry.get("size"), entry.get("mtime_ns")] != list(stamp):
            return None
        return entry

    def record(self, path: str, output: str, key: str, *, duration: float | None,
               speakers: Sequence[str]) -> None:
        """Append the line of a finished file (flushed to disk before returning)."""
        stamp = input_stamp(path) or (None, None)
        entry = {"input": path, "output": output, "key": key, "size": stamp[0],
                 "mtime_ns": stamp[1], "duration": duration, "speakers": list(speakers)}
        try:
            with open_private(self.path, "a") as f:
                f.write(json.dumps(entry, ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise os_error(exc, self.path, writing=True, what="batch manifest") from exc
        self.done[path] = entry
