"""WebVTT and SRT captions of speaker turns: one cue per turn, reading ``[Alice]``.

The captions say who speaks when, not what is said (there is no transcript): each turn
becomes one cue from its start to its end whose only text is the speaker in brackets,
``[Alice]`` (the usual caption convention for a speaker label). Cues are in time order
and numbered from 1 (SRT's index; VTT cues carry no identifier). Turns of two speakers
that overlap give overlapping cues, which WebVTT allows and players show stacked; SRT
players differ (most show both). Times are milliseconds (both formats' resolution).

Written and parsed with maintained libraries: ``webvtt-py`` for WebVTT and ``srt`` for
SubRip. Reading back (:func:`from_vtt`, :func:`from_srt`) takes the speaker from the
cue text, without the brackets; a cue without brackets keeps its whole first line.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence

from engine.errors import ValidationError
from engine.segments import Turn


def _bad(message: str, location: str | None = None) -> ValidationError:
    return ValidationError(message, location=location, detail="format.invalid")


def cue_text(speaker: str) -> str:
    """``[Alice]``: the text of a cue for ``speaker`` (whitespace runs made one space)."""
    return f"[{' '.join(speaker.split())}]"


def speaker_of(text: str) -> str:
    """The speaker of a cue's text: ``[Alice]`` -> ``Alice`` (the first line, stripped)."""
    line = (text.strip().splitlines() or [""])[0].strip()
    if line.startswith("[") and line.endswith("]"):
        line = line[1:-1].strip()
    return line


def _ms(seconds: float) -> int:
    return int(round(float(seconds) * 1000.0))


def _ordered(turns: Sequence[Turn]) -> list[Turn]:
    return sorted(turns, key=lambda t: (t.start, t.end, t.speaker))


def to_vtt(turns: Sequence[Turn]) -> str:
    """The WebVTT text: ``WEBVTT``, then ``hh:mm:ss.mmm --> hh:mm:ss.mmm`` / ``[Alice]``
    per turn."""
    import webvtt

    vtt = webvtt.WebVTT()
    for t in _ordered(turns):
        vtt.captions.append(
            webvtt.Caption(_stamp(_ms(t.start), "."), _stamp(_ms(t.end), "."),
                           cue_text(t.speaker))
        )
    return str(vtt.content)


def _stamp(ms: int, sep: str) -> str:
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def from_vtt(text: str) -> list[Turn]:
    """The turns of WebVTT captions (see :func:`speaker_of`)."""
    import webvtt
    from webvtt.errors import MalformedFileError

    try:
        vtt = webvtt.from_buffer(io.StringIO(text))
    except (MalformedFileError, ValueError) as exc:
        raise _bad(f"Not valid WebVTT: {exc}.", "vtt") from None
    out: list[Turn] = []
    for i, c in enumerate(vtt.captions, 1):
        label = speaker_of(c.text)
        if not label:
            raise _bad("a cue has no speaker.", f"cue {i}")
        a, b = c.start_time.in_milliseconds() / 1000.0, c.end_time.in_milliseconds() / 1000.0
        if b < a:
            raise _bad(f"the cue ends ({c.end}) before it starts ({c.start}).", f"cue {i}")
        out.append(Turn(a, b, label))
    return out


def to_srt(turns: Sequence[Turn]) -> str:
    """The SubRip text: index, ``hh:mm:ss,mmm --> hh:mm:ss,mmm``, ``[Alice]``, blank line."""
    import srt

    subs = [
        srt.Subtitle(i, dt.timedelta(milliseconds=_ms(t.start)),
                     dt.timedelta(milliseconds=_ms(t.end)), cue_text(t.speaker))
        for i, t in enumerate(_ordered(turns), 1)
    ]
    return str(srt.compose(subs, reindex=False))


def from_srt(text: str) -> list[Turn]:
    """The turns of SubRip captions (see :func:`speaker_of`)."""
    import srt

    try:
        subs = list(srt.parse(text))
    except srt.SRTParseError as exc:
        raise _bad(f"Not valid SRT: {exc}.", "srt") from None
    out: list[Turn] = []
    for s in subs:
        label = speaker_of(s.content)
        if not label:
            raise _bad("a subtitle has no speaker.", f"subtitle {s.index}")
        a, b = s.start.total_seconds(), s.end.total_seconds()
        if b < a:
            raise _bad("the subtitle ends before it starts.", f"subtitle {s.index}")
        out.append(Turn(round(a, 3), round(b, 3), label))
    return out
