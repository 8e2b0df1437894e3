"""Comparing turns with a reference annotation: diarization error rate and its parts.

A reference (the truth, made by a person or another tool) is read from RTTM, ELAN
``.eaf`` or Praat TextGrid (:func:`read_reference`; any format :func:`engine.formats.read`
reads works) into frozen turns. :func:`score` compares hypothesis turns (ours, as
reviewed) with it using ``pyannote.metrics``' :class:`DiarizationErrorRate` (which
imports ``pyannote.core``; both load on first use, not with this module):

- **missed speech**: reference speech where the hypothesis has no speaker,
- **false alarm**: hypothesis speech where the reference has none,
- **confusion**: speech given to the wrong speaker, after the one-to-one mapping of
  hypothesis labels to reference labels that minimises it (so the labels need not
  match: ``Alice`` is mapped to ``speaker90`` when they speak the same turns),
- **DER** = (missed + false alarm + confusion) / total reference speech.

Overlapped speech counts for each speaker in it (pyannote's default; the benches in
``bench/`` score the same way). The ``collar`` is pyannote's: that many seconds in
total (half before, half after) around each reference boundary are not scored; 0.25 s
is the benches' second figure (``bench/bench_accuracy.py``).

A range ``[start, end]`` is scored by cropping both annotations to it (pyannote's UEM),
the speaker mapping being found again for that range: the figures are those
``pyannote.metrics`` gives for the same two annotations and UEM. Channels are ignored
(a split-channel result is scored as one stream).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import ValidationError
from engine.segments import Turn

BENCH_COLLAR_S = 0.25
"""The collar of the benches' second DER figure (seconds, pyannote's total width)."""


@dataclass(frozen=True)
class Reference:
    """A reference annotation read from a file.

    Attributes:
        path: the file it was read from.
        fmt: its format (``rttm``, ``eaf``, ``textgrid``, ...: :data:`engine.formats.FORMATS`).
        turns: its turns (seconds), sorted by start.
        labels: its speakers, in order of first speech.
    """

    path: str
    fmt: str
    turns: tuple[Turn, ...]
    labels: tuple[str, ...]

    @property
    def end(self) -> float:
        """The end of its last turn (s; 0 when empty)."""
        return max((t.end for t in self.turns), default=0.0)


def reference_from_turns(turns: Iterable[Turn], *, path: str = "", fmt: str = "") -> Reference:
    """A :class:`Reference` of ``turns`` (sorted; scores, clusters and channels kept)."""
    ordered = tuple(sorted(turns, key=lambda t: (t.start, t.end, t.speaker)))
    labels = tuple(dict.fromkeys(t.speaker for t in ordered))
    return Reference(path=path, fmt=fmt, turns=ordered, labels=labels)


def read_reference(path: str | os.PathLike[str], fmt: str | None = None) -> Reference:
    """Read a reference annotation (``fmt`` defaults to the suffix's: ``.rttm``,
    ``.eaf``, ``.TextGrid``, or any other format :func:`engine.formats.read` reads).

    Raises:
        ValidationError: the file cannot be read, is not in the format, or holds no turn.
    """
    from engine import formats

    p = Path(path)
    fmt = fmt or formats.format_for(p)
    turns = formats.read(p, fmt)
    if not turns:
        raise ValidationError(f"{p.name} holds no speaker turn.", location=str(p),
                              detail="reference.empty")
    return reference_from_turns(turns, path=str(p), fmt=fmt)


@dataclass(frozen=True)
class DiarizationScores:
    """How a hypothesis compares with a reference over ``[start, end]`` seconds.

    Attributes:
        start, end: the scored range (s).
        collar: the collar used (s, total width around each reference boundary).
        total: reference speech scored (s; overlapped speech counts once per speaker).
        missed, false_alarm, confusion: seconds of each error.
        der: ``(missed + false_alarm + confusion) / total`` as ``pyannote.metrics``
            computes it (0 when there is nothing to score and no error, 1 when there is
            no reference speech but some false alarm).
    """

    start: float
    end: float
    collar: float
    total: float
    missed: float
    false_alarm: float
    confusion: float
    der: float

    def rate(self, seconds: float) -> float:
        """``seconds`` as a fraction of the reference speech (0 when there is none)."""
        return seconds / self.total if self.total > 0 else 0.0


def to_annotation(turns: Iterable[Turn], uri: str = "audio") -> Any:
    """A ``pyannote.core.Annotation`` of ``turns`` (one track per turn; empty turns left
    out, as pyannote ignores them)."""
    from pyannote.core import Annotation, Segment

    ann = Annotation(uri=uri)
    for i, t in enumerate(turns):
        if t.end > t.start:
            ann[Segment(float(t.start), float(t.end)), i] = t.speaker
    return ann


def score(reference: Sequence[Turn] | Reference, hypothesis: Sequence[Turn], *,
          start: float = 0.0, end: float | None = None, collar: float = 0.0) -> DiarizationScores:
    """Score ``hypothesis`` against ``reference`` over ``[start, end]`` seconds.

    Args:
        reference: the reference turns (or a :class:`Reference`).
        hypothesis: the turns to score (seconds).
        start, end: the range to score; ``end`` None: the later of both annotations'
            last ends (pass the recording's duration to score the whole file).
        collar: seconds around each reference boundary left out (pyannote's collar).

    Raises:
        ValidationError: a range that ends before it starts, or a negative collar.
    """
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate

    ref_turns = reference.turns if isinstance(reference, Reference) else tuple(reference)
    last = max((t.end for t in (*ref_turns, *hypothesis)), default=0.0)
    a = max(0.0, float(start))
    b = float(last if end is None else end)
    if not (math.isfinite(a) and math.isfinite(b)) or b < a:
        raise ValidationError(f"Cannot score the range {start}-{end} s.", location="range",
                              detail="reference.range")
    if not (collar >= 0 and math.isfinite(collar)):
        raise ValidationError(f"The collar {collar} s must be 0 or more.", location="collar",
                              detail="reference.collar")
    if b <= a:
        return DiarizationScores(a, b, collar, 0.0, 0.0, 0.0, 0.0, 0.0)
    metric = DiarizationErrorRate(collar=collar, skip_overlap=False)
    d = metric(to_annotation(ref_turns), to_annotation(hypothesis),
               uem=Timeline([Segment(a, b)]), detailed=True)
    return DiarizationScores(
        start=a, end=b, collar=float(collar), total=float(d["total"]),
        missed=float(d["missed detection"]), false_alarm=float(d["false alarm"]),
        confusion=float(d["confusion"]), der=float(d["diarization error rate"]),
    )


def speaker_mapping(reference: Sequence[Turn] | Reference,
                    hypothesis: Sequence[Turn]) -> dict[str, str]:
    """Reference label -> the hypothesis label DER maps onto it (the one-to-one mapping
    that minimises confusion over the whole annotations); reference speakers left
    unmapped are absent."""
    from pyannote.metrics.diarization import DiarizationErrorRate

    ref_turns = reference.turns if isinstance(reference, Reference) else tuple(reference)
    hyp = to_annotation(hypothesis)
    if not len(hyp) or not ref_turns:
        return {}
    m = DiarizationErrorRate().optimal_mapping(to_annotation(ref_turns), hyp)
    return {str(r): str(h) for h, r in m.items()}
