"""Identification results on disk: JSON (pyannoteAI shape), RTTM, CSV, Audacity labels,
ELAN ``.eaf`` and Praat TextGrid (:mod:`engine.formats_annotation`), WebVTT and SRT
captions (:mod:`engine.formats_captions`).

Every writer takes an :class:`~engine.identify.IdentificationResult` or a plain
sequence of :class:`~engine.segments.Turn` (e.g. turns corrected in the GUI); every
reader returns turns (and, for JSON, the confidence track). Times are seconds,
written with millisecond precision (6 decimals for Audacity, as Audacity writes).

JSON follows the output of pyannoteAI's identification job (field names as in its
documentation)::

    {
      "identification": [{"speaker": "alice", "start": 1.5, "end": 3.2,
                          "diarizationSpeaker": "SPEAKER_00", "match": "alice",
                          "score": 81.2}],
      "diarization":    [{"speaker": "SPEAKER_00", "start": 1.5, "end": 3.2}],
      "voiceprints":    [{"speaker": "SPEAKER_00", "match": "alice",
                          "confidence": {"alice": 81.2, "bob": 12.0},
                          "candidates": [{"match": "alice", "score": 81.2,
                                          "normalizedScore": 6.1}, ...],
                          "margin": 69.2, "reason": "named"}],
      "confidence":     {"score": [0, 0, 78, ...], "resolution": 0.02}
    }

``match`` is null for an unknown speaker (whose ``speaker`` is ``UNKNOWN_nn``).
``candidates`` (the three closest voiceprints with their raw 0-100 and AS-Norm scores,
``normalizedScore`` null when not computed), ``margin`` (points the best candidate leads
the next one by, enrolled or impostor cohort) and ``reason`` (the rule that decided,
see :class:`engine.identify.ClusterInfo`) say why a cluster got its name; they are our
addition, written when the result has them and read back by :func:`clusters_from_json`.
``score`` (the turn's 0-100 score) is our addition; readers do not require it.

Channels (split-channel identification, :mod:`engine.identify_channels`): a turn
found on one channel says so, 0-based, as ``"channel": 1`` in the JSON
``identification`` and ``diarization`` items and ``voiceprints`` entries, in the
CSV ``channel`` column, and 1-based in RTTM's channel column (field 3, as RTTM
numbers channels). A mono-mix result writes no JSON ``channel`` key, no CSV
``channel`` column and RTTM channel 1, exactly as before; an RTTM file whose lines all say
channel 1 therefore reads back without channels. Audacity labels have no channel
field and drop it.
The confidence scores are rounded to integers; sample ``i`` is the interval
``[i * resolution, (i + 1) * resolution)`` (our :class:`ScoreTrack` puts it at its
centre, ``start = resolution / 2``).

:func:`write` replaces the target atomically (temporary file + rename), so an
interrupted export never leaves a half-written file.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from engine.errors import ValidationError
from engine.segments import ScoreTrack, Turn, is_unknown, readonly

Format = Literal["json", "rttm", "csv", "audacity", "eaf", "textgrid", "vtt", "srt"]
FORMATS: tuple[str, ...] = ("json", "rttm", "csv", "audacity", "eaf", "textgrid", "vtt", "srt")
"""Every format :func:`write` writes and :func:`read` reads."""
ANNOTATION_FORMATS: tuple[str, ...] = ("rttm", "eaf", "textgrid")
"""The formats other annotation tools use for speaker turns (a reference to compare with)."""
_SUFFIX = {".json": "json", ".rttm": "rttm", ".csv": "csv", ".txt": "audacity",
           ".eaf": "eaf", ".textgrid": "textgrid", ".vtt": "vtt", ".srt": "srt"}
_PATH_READ = ("eaf", "textgrid")  # read by pympi from the file itself
CSV_FIELDS = ("start", "end", "duration", "speaker", "cluster", "score")
CSV_CHANNEL_FIELD = "channel"  # appended only when a turn has a channel


def _bad(message: str, location: str | None = None) -> ValidationError:
    return ValidationError(message, location=location, detail="format.invalid")


def _parts(result: Any) -> tuple[list[Turn], Any]:
    """``(turns sorted by time, result or None)`` for a result or a turn sequence."""
    turns = getattr(result, "turns", None)
    if turns is not None:
        return sorted(turns, key=lambda t: (t.start, t.end, t.speaker)), result
    if isinstance(result, Sequence) and all(isinstance(t, Turn) for t in result):
        return sorted(result, key=lambda t: (t.start, t.end, t.speaker)), None
    raise ValidationError(
        "Expected an IdentificationResult or a sequence of Turn.", location="result"
    )


def _t(x: float) -> float:
    return round(float(x), 3)


def _time(value: Any, where: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise _bad(f"{value!r} is not a time in seconds.", where) from None
    if not math.isfinite(v) or v < 0:
        raise _bad(f"{value!r} is not a valid time in seconds.", where)
    return v


def _channel(value: Any, where: str, *, base: int = 0) -> int | None:
    """A 0-based channel from a ``base``-numbered field (None, "" or null: no channel)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
        raise _bad(f"channel {value!r} is not a channel number.", where)
    try:
        c = int(value)
    except (TypeError, ValueError):
        raise _bad(f"channel {value!r} is not a channel number.", where) from None
    if c < base:
        raise _bad(f"channel {value!r} is not a channel number (they start at {base}).", where)
    return c - base


def _turn(
    start: Any,
    end: Any,
    speaker: Any,
    where: str,
    *,
    score: Any = 0.0,
    cluster: str = "",
    channel: int | None = None,
) -> Turn:
    """A validated Turn from parsed fields (``score`` may be a number or numeric text)."""
    a, b = _time(start, where), _time(end, where)
    if b < a:
        raise _bad(f"end {b} is before start {a}.", where)
    if not isinstance(speaker, str) or not speaker.strip():
        raise _bad("the speaker label is missing.", where)
    try:
        value = float(score)
    except (TypeError, ValueError):
        raise _bad("score must be a number.", where) from None
    return Turn(a, b, speaker.strip(), value, cluster, channel)


# --------------------------------------------------------------------------- JSON


def to_json_dict(result: Any, *, confidence: bool = True) -> dict[str, Any]:
    """The pyannoteAI-shaped JSON object (see the module docstring)."""
    turns, res = _parts(result)
    out: dict[str, Any] = {
        "identification": [
            _with_channel(
                {
                    "speaker": t.speaker,
                    "start": _t(t.start),
                    "end": _t(t.end),
                    "diarizationSpeaker": t.cluster or t.speaker,
                    "match": None if is_unknown(t.speaker) else t.speaker,
                    "score": round(float(t.score), 2),
                },
                t.channel,
            )
            for t in turns
        ],
        "diarization": [
            _with_channel(
                {"speaker": t.cluster or t.speaker, "start": _t(t.start), "end": _t(t.end)},
                t.channel,
            )
            for t in turns
        ],
    }
    clusters = getattr(res, "clusters", None) if res is not None else None
    if clusters is not None:
        # a cluster lives on one channel: the one its turns say
        channel_of = {t.cluster: t.channel for t in turns if t.cluster and t.channel is not None}
        out["voiceprints"] = [
            _with_channel(_voiceprint_entry(c), channel_of.get(c.label)) for c in clusters
        ]
    track = getattr(res, "confidence", None) if res is not None else None
    if confidence and track is not None:
        out["confidence"] = {
            "score": np.rint(np.asarray(track.values, dtype=np.float64)).astype(int).tolist(),
            "resolution": float(track.step),
        }
    return out


def _with_channel(item: dict[str, Any], channel: int | None) -> dict[str, Any]:
    if channel is not None:
        item["channel"] = int(channel)
    return item


def _voiceprint_entry(c: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "speaker": c.label,
        "match": None if is_unknown(c.speaker) else c.speaker,
        "confidence": {k: round(float(v), 2) for k, v in getattr(c, "matches", ())},
    }
    candidates = getattr(c, "candidates", ())
    reason = getattr(c, "reason", "")
    if candidates or reason:
        entry["candidates"] = [
            {
                "match": m,
                "score": round(float(sc), 2),
                "normalizedScore": None if n is None else round(float(n), 2),
            }
            for m, sc, n in candidates
        ]
        margin = getattr(c, "margin", None)
        entry["margin"] = None if margin is None else round(float(margin), 2)
        entry["reason"] = str(reason)
    return entry


@dataclass(frozen=True)
class ClusterExplanation:
    """Why a cluster of a JSON result got its name (see :func:`clusters_from_json`).

    Attributes:
        label: the cluster (``SPEAKER_nn``).
        match: the voiceprint id it was named after, or None (unknown).
        candidates: ``(voiceprint id, 0-100 score, AS-Norm score or None)``, best first.
        margin: points by which the best candidate leads the next one, or None.
        reason: the rule that decided (empty when the file does not say).
    """

    label: str
    match: str | None
    candidates: tuple[tuple[str, float, float | None], ...]
    margin: float | None
    reason: str


def _number(value: Any, where: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise _bad(f"{value!r} is not a number.", where) from None
    if not math.isfinite(v):
        raise _bad(f"{value!r} is not a finite number.", where)
    return v


def _job_output(data: str | bytes | dict[str, Any], not_object: str) -> dict[str, Any]:
    """The job output of JSON text or a parsed object: the object itself, or its
    ``"output"`` when it is a job record. Raises the format error ``not_object`` for
    anything but an object."""
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _bad(f"Not valid JSON: {exc}.", "json") from None
    if isinstance(data, dict) and isinstance(data.get("output"), dict):
        data = data["output"]
    if not isinstance(data, dict):
        raise _bad(not_object, "json")
    return data


def clusters_from_json(data: str | bytes | dict[str, Any]) -> list[ClusterExplanation]:
    """The per-cluster explanations of a JSON result (its ``voiceprints`` list; empty
    when there is none)."""
    data = _job_output(data, "Expected a JSON object.")
    items = data.get("voiceprints", [])
    if not isinstance(items, list):
        raise _bad("Expected a 'voiceprints' list.", "voiceprints")
    out: list[ClusterExplanation] = []
    for i, it in enumerate(items):
        where = f"voiceprints[{i}]"
        if not isinstance(it, dict) or not isinstance(it.get("speaker"), str):
            raise _bad("Expected an object with a 'speaker'.", where)
        cands = it.get("candidates", [])
        if not isinstance(cands, list):
            raise _bad("Expected a 'candidates' list.", where)
        parsed: list[tuple[str, float, float | None]] = []
        for j, c in enumerate(cands):
            w = f"{where}.candidates[{j}]"
            if not isinstance(c, dict) or not isinstance(c.get("match"), str):
                raise _bad("Expected an object with a 'match'.", w)
            score = _number(c.get("score"), w)
            assert score is not None
            parsed.append((c["match"], score, _number(c.get("normalizedScore"), w, optional=True)))
        match = it.get("match")
        out.append(
            ClusterExplanation(
                label=it["speaker"],
                match=match if isinstance(match, str) else None,
                candidates=tuple(parsed),
                margin=_number(it.get("margin"), where, optional=True),
                reason=str(it.get("reason", "") or ""),
            )
        )
    return out


def to_json(result: Any, *, confidence: bool = True, indent: int | None = None) -> str:
    """Serialize to pyannoteAI-shaped JSON text."""
    return json.dumps(to_json_dict(result, confidence=confidence), indent=indent)


def from_json(data: str | bytes | dict[str, Any]) -> tuple[list[Turn], ScoreTrack | None]:
    """Read turns (from ``identification``, else ``diarization``) and the confidence track.

    Accepts the job output itself or a job object with it under ``"output"``.
    """
    data = _job_output(data, "Expected a JSON object with an 'identification' list.")
    key = "identification" if "identification" in data else "diarization"
    items = data.get(key)
    if not isinstance(items, list):
        raise _bad("Expected an 'identification' or 'diarization' list.", key)
    turns: list[Turn] = []
    for i, it in enumerate(items):
        where = f"{key}[{i}]"
        if not isinstance(it, dict):
            raise _bad("Expected an object.", where)
        cluster = (
            it.get("diarizationSpeaker", "") if key == "identification" else it.get("speaker", "")
        )
        turns.append(
            _turn(
                it.get("start"),
                it.get("end"),
                it.get("speaker"),
                where,
                score=it.get("score", 0.0),
                cluster=str(cluster or ""),
                channel=_channel(it.get("channel"), where),
            )
        )
    track = None
    conf = data.get("confidence")
    if isinstance(conf, dict) and "score" in conf:
        res = conf.get("resolution", 0.02)
        try:
            step = float(res)
            values = np.asarray(conf["score"], dtype=np.float32)
        except (TypeError, ValueError):
            raise _bad(
                "confidence must hold a list of numbers and a resolution.", "confidence"
            ) from None
        if values.ndim != 1 or not (step > 0) or not np.isfinite(values).all():
            raise _bad("confidence must hold a list of numbers and a resolution.", "confidence")
        track = ScoreTrack(start=step / 2, step=step, values=readonly(values))
    return turns, track


# --------------------------------------------------------------------------- RTTM


def _rttm_token(s: str) -> str:
    return "_".join(s.split()) or "<NA>"


def to_rttm(result: Any, *, uri: str = "audio") -> str:
    """NIST RTTM: one ``SPEAKER uri chan start duration <NA> <NA> label <NA> <NA>`` per turn.

    ``chan`` is the turn's channel + 1 (RTTM counts from 1), and 1 for a mono mix.
    """
    turns, _ = _parts(result)
    uri = _rttm_token(uri)
    lines = [
        f"SPEAKER {uri} {1 if t.channel is None else t.channel + 1} "
        f"{t.start:.3f} {t.end - t.start:.3f} <NA> <NA> "
        f"{_rttm_token(t.speaker)} <NA> <NA>"
        for t in turns
    ]
    return "".join(line + "\n" for line in lines)


def from_rttm(text: str) -> list[Turn]:
    """Read the ``SPEAKER`` lines of an RTTM file (other record types are skipped).

    The channel field (1-based) becomes the turn's 0-based ``channel``, except when
    every line says channel 1 (a one-channel file, or a mono mix): then None.
    """
    turns: list[Turn] = []
    for n, line in enumerate(text.splitlines(), 1):
        f = line.split()
        if not f or f[0].startswith("#") or f[0] != "SPEAKER":
            continue
        where = f"line {n}"
        if len(f) < 8:
            raise _bad("an RTTM SPEAKER line needs at least 8 fields.", where)
        start = _time(f[3], where)
        dur = _time(f[4], where)
        channel = 0 if f[2] in ("<NA>", "NA") else _channel(f[2], where, base=1)
        turns.append(_turn(start, start + dur, f[7], where, channel=channel))
    if all(t.channel in (0, None) for t in turns):
        turns = [replace(t, channel=None) for t in turns]
    return turns


# --------------------------------------------------------------------------- CSV


def to_csv(result: Any) -> str:
    """CSV with a header: ``start,end,duration,speaker,cluster,score[,channel]``.

    The 0-based ``channel`` column is there when some turn has a channel (split-channel
    results; empty cells for turns without one), so mono-mix output is unchanged.
    """
    turns, _ = _parts(result)
    channels = any(t.channel is not None for t in turns)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS + ((CSV_CHANNEL_FIELD,) if channels else ()))
    for t in turns:
        row = [
            f"{t.start:.3f}",
            f"{t.end:.3f}",
            f"{t.end - t.start:.3f}",
            t.speaker,
            t.cluster,
            f"{t.score:.2f}",
        ]
        if channels:
            row.append("" if t.channel is None else str(t.channel))
        w.writerow(row)
    return buf.getvalue()


def from_csv(text: str) -> list[Turn]:
    """Read CSV written by :func:`to_csv` (``start``, ``end``, ``speaker`` required)."""
    reader = csv.DictReader(io.StringIO(text))
    fields = set(reader.fieldnames or [])
    if not {"start", "end", "speaker"} <= fields:
        raise _bad("CSV needs the columns start, end and speaker.", "header")
    turns: list[Turn] = []
    for n, row in enumerate(reader, 2):
        where = f"line {n}"
        turns.append(
            _turn(
                row.get("start"),
                row.get("end"),
                row.get("speaker"),
                where,
                score=row.get("score") or 0.0,
                cluster=row.get("cluster") or "",
                channel=_channel(row.get(CSV_CHANNEL_FIELD), where),
            )
        )
    return turns


# --------------------------------------------------------------------------- Audacity


def to_audacity(result: Any) -> str:
    """Audacity label track: ``start<TAB>end<TAB>label`` per line."""
    turns, _ = _parts(result)
    return "".join(f"{t.start:.6f}\t{t.end:.6f}\t{' '.join(t.speaker.split())}\n" for t in turns)


def from_audacity(text: str) -> list[Turn]:
    """Read an Audacity label track (spectral-selection lines starting with ``\\`` are skipped)."""
    turns: list[Turn] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("\\"):
            continue
        f = line.split("\t")
        where = f"line {n}"
        if len(f) < 3:
            raise _bad("an Audacity label line needs start, end and a label.", where)
        turns.append(_turn(f[0], f[1], f[2], where))
    return turns


# --------------------------------------------------------------------------- files


def format_for(path: str | os.PathLike[str]) -> str:
    """The format implied by a file suffix (.json, .rttm, .csv, .txt = Audacity, .eaf,
    .TextGrid, .vtt, .srt; any case)."""
    fmt = _SUFFIX.get(Path(path).suffix.lower())
    if fmt is None:
        raise ValidationError(
            f"Cannot tell the format from {Path(path).name!r}: use .json, .rttm, "
            ".csv, .txt (Audacity labels), .eaf (ELAN), .TextGrid (Praat), .vtt or .srt, "
            "or name the format.",
            location="path",
        )
    return fmt


def dumps(result: Any, fmt: str, *, uri: str = "audio") -> str:
    """The text of ``result`` in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt in ("eaf", "textgrid", "vtt", "srt"):
        from engine import formats_annotation as fa
        from engine import formats_captions as fc

        turns, res = _parts(result)
        if fmt == "eaf":
            return fa.to_eaf(turns)
        if fmt == "textgrid":
            return fa.to_textgrid(turns, duration=getattr(res, "duration", None))
        return fc.to_vtt(turns) if fmt == "vtt" else fc.to_srt(turns)
    if fmt == "json":
        return to_json(result, indent=1)
    if fmt == "rttm":
        return to_rttm(result, uri=uri)
    if fmt == "csv":
        return to_csv(result)
    if fmt == "audacity":
        return to_audacity(result)
    raise ValidationError(
        f"Unknown format {fmt!r}; use one of {', '.join(FORMATS)}.", location="fmt"
    )


def write(
    result: Any, path: str | os.PathLike[str], fmt: str | None = None, *, uri: str | None = None
) -> Path:
    """Write ``result`` to ``path`` atomically; ``fmt`` defaults to the suffix's format.

    Returns the path written. RTTM's file id defaults to the file's stem.
    """
    p = Path(path)
    fmt = fmt or format_for(p)
    text = dumps(result, fmt, uri=uri or p.stem)
    from engine.files import os_error

    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        # a short prefix: the temporary name must fit in 255 bytes whenever p's does
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name[:40]}.", suffix=".part", dir=p.parent)
    except OSError as exc:
        raise os_error(exc, p, writing=True, what="output file") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise os_error(exc, p, writing=True, what="output file") from exc
        raise
    return p


def read(path: str | os.PathLike[str], fmt: str | None = None) -> list[Turn]:
    """Read turns from a file in any of :data:`FORMATS` (``fmt`` defaults to the suffix's;
    ``.eaf`` and TextGrid are parsed from the file by pympi, captions may start with a BOM)."""
    p = Path(path)
    fmt = fmt or format_for(p)
    if fmt in _PATH_READ:
        from engine import formats_annotation as fa

        if not p.is_file():
            raise _bad(f"Cannot read {p.name}: no such file.", str(p))
        return fa.from_eaf(p) if fmt == "eaf" else fa.from_textgrid(p)
    try:
        text = p.read_text(encoding="utf-8-sig" if fmt in ("vtt", "srt") else "utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(f"Cannot read {p.name}: {exc}.", str(p)) from None
    if fmt == "json":
        return from_json(text)[0]
    if fmt == "rttm":
        return from_rttm(text)
    if fmt == "csv":
        return from_csv(text)
    if fmt == "audacity":
        return from_audacity(text)
    if fmt in ("vtt", "srt"):
        from engine import formats_captions as fc

        return fc.from_vtt(text) if fmt == "vtt" else fc.from_srt(text)
    raise ValidationError(f"Unknown format {fmt!r}.", location="fmt")
