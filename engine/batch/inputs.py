"""The inputs of a batch: files, folders (searched recursively) and lists of paths.

Each input becomes a :class:`BatchItem` with the name of its output file under the
batch's output folder: the file's stem for a file named on the command line or in a
list, its path relative to the folder for a file found in a folder (so an archive's
layout is kept). Names are unique in the output folder (ignoring case, and never
``summary.csv`` / ``summary.jsonl`` / the manifest): a clash gets ``-`` and 8 hex digits
of the input path's SHA-1 appended. The order is the order of the inputs, files found
in a folder sorted by path; a file given twice is listed once.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.errors import NotFound, ValidationError
from engine.files import os_error

AUDIO_SUFFIXES = frozenset({
    ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".aifc", ".m4a",
    ".w64", ".caf", ".au", ".snd", ".rf64",
})
"""File suffixes (lower case) taken as audio when a folder is searched."""

LIST_SUFFIXES = frozenset({".txt", ".lst", ".list", ".m3u"})
"""A file named on the command line with one of these suffixes is a list of paths."""

SUFFIX_OF_FORMAT = {"json": ".json", "rttm": ".rttm", "csv": ".csv", "audacity": ".txt",
                    "eaf": ".eaf", "textgrid": ".TextGrid", "vtt": ".vtt", "srt": ".srt"}
RESERVED_NAMES = frozenset({"summary.csv", "summary.jsonl", "manifest.jsonl"})


@dataclass(frozen=True)
class BatchItem:
    """One input file of a batch.

    Attributes:
        path: the file's absolute path (as given, made absolute; symlinks kept).
        output: the output file's path relative to the output folder, with the
            format's suffix (POSIX separators).
    """

    path: str
    output: str


def collect_inputs(inputs: Sequence[str | os.PathLike[str]], fmt: str) -> list[BatchItem]:
    """Expand ``inputs`` (files, folders, list files) into the batch's items.

    A folder is searched recursively for files with an :data:`AUDIO_SUFFIXES` suffix
    (hidden files and folders skipped). A file with a :data:`LIST_SUFFIXES` suffix holds
    one path per line (relative paths are relative to the list's folder; blank lines and
    lines starting with ``#`` skipped); a line may name a folder. A path in a list that
    does not exist is kept: its row in the summary says so, and the batch goes on.

    Raises:
        NotFound: an input named on the command line does not exist.
        ValidationError: nothing to do (no audio file found).
    """
    suffix = SUFFIX_OF_FORMAT[fmt]
    found: list[tuple[str, str]] = []  # (absolute path, output stem relative to DIR)
    for raw in inputs:
        p = Path(raw)
        if not os.path.exists(p):
            raise NotFound(f"There is no file or folder {p}.", location=str(p),
                           detail="file.not-found")
        if p.is_dir():
            found.extend(_walk(p))
        elif p.suffix.lower() in LIST_SUFFIXES:
            found.extend(_read_list(p))
        else:
            found.append((_absolute(p), p.stem or p.name))
    items: list[BatchItem] = []
    seen_paths: set[str] = set()
    used = set(RESERVED_NAMES)
    for path, stem in found:
        if path in seen_paths:
            continue
        seen_paths.add(path)
        name = stem + suffix
        if name.lower() in used:
            name = f"{stem}-{hashlib.sha1(path.encode('utf-8', 'surrogateescape')).hexdigest()[:8]}{suffix}"
        used.add(name.lower())
        items.append(BatchItem(path=path, output=name))
    if not items:
        raise ValidationError(
            "No audio files found in " + ", ".join(str(i) for i in inputs)
            + f" (searched for {', '.join(sorted(AUDIO_SUFFIXES))}).",
            location="INPUT", detail="batch.no-inputs",
        )
    return items


def _absolute(p: Path) -> str:
    return os.path.abspath(os.fspath(p))


def _walk(folder: Path) -> Iterable[tuple[str, str]]:
    hits: list[tuple[str, str]] = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in files:
            if name.startswith(".") or Path(name).suffix.lower() not in AUDIO_SUFFIXES:
                continue
            full = Path(root) / name
            rel = full.relative_to(folder).with_suffix("")
            hits.append((_absolute(full), rel.as_posix()))
    return sorted(hits)


def _read_list(path: Path) -> Iterable[tuple[str, str]]:
    try:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
    except OSError as exc:
        raise os_error(exc, path, writing=False, what="list of inputs") from exc
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        p = Path(entry)
        if not p.is_absolute():
            p = path.parent / p
        if p.is_dir():
            out.extend(_walk(p))
        else:
            out.append((_absolute(p), p.stem or p.name))
    return out
