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

import numpy as np

from engine import heavy_imports
from engine.errors import ValidationError
from engine.jobs import CancelToken, ProgressFn
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


_SCORING_MODULES = (
    "pyannote.core", "pyannote.metrics.diarization", "pyannote.metrics.identification",
    "scipy.optimize",
)


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
        mapping: ``(reference label, hypothesis label)`` pairs of the speaker mapping
            found for this range, sorted.
    """

    start: float
    end: float
    collar: float
    total: float
    missed: float
    false_alarm: float
    confusion: float
    der: float
    mapping: tuple[tuple[str, str], ...] = ()

    def rate(self, seconds: float) -> float:
        """``seconds`` as a fraction of the reference speech (0 when there is none)."""
        return seconds / self.total if self.total > 0 else 0.0


def to_annotation(turns: Iterable[Turn], uri: str = "audio") -> Any:
    """A ``pyannote.core.Annotation`` of ``turns`` (one track per turn; empty turns left
    out, as pyannote ignores them)."""
    heavy_imports.load("pyannote.core")
    from pyannote.core import Annotation, Segment

    ann = Annotation(uri=uri)
    for i, t in enumerate(turns):
        if t.end > t.start:
            ann[Segment(float(t.start), float(t.end)), i] = t.speaker
    return ann


CHUNK_S = 120.0
"""Seconds scored at a time (see :func:`score`); pyannote's cost grows with the square of
the turns it is given at once, so a long recording is scored in chunks of this length."""
_UNMAPPED = "\x00hyp:"  # prefix of hypothesis labels mapped onto no reference speaker


class _Turns:
    """Turns as arrays, to pick those near a time range quickly."""

    def __init__(self, turns: Sequence[Turn]) -> None:
        self.turns = list(turns)
        self.starts = np.array([t.start for t in self.turns], dtype=np.float64)
        self.ends = np.array([t.end for t in self.turns], dtype=np.float64)

    def around(self, lo: float, hi: float) -> list[Turn]:
        idx = np.flatnonzero((self.ends > lo) & (self.starts < hi))
        return [self.turns[i] for i in idx]


def score(reference: Sequence[Turn] | Reference, hypothesis: Sequence[Turn], *,
          start: float = 0.0, end: float | None = None, collar: float = 0.0,
          chunk_s: float = CHUNK_S, progress: ProgressFn | None = None,
          cancel: CancelToken | None = None) -> DiarizationScores:
    """Score ``hypothesis`` against ``reference`` over ``[start, end]`` seconds.

    The figures are pyannote's ``DiarizationErrorRate(collar=collar)`` of the two
    annotations with the UEM ``[start, end]``, computed the way pyannote does it (its
    ``uemify``, Hungarian mapping and ``IdentificationErrorRate`` components) but on
    ``chunk_s`` pieces: each piece's annotations are the turns near it (beyond the
    collar), the co-occurrence of the pieces is summed before the one mapping is found,
    and so are the errors, so the result equals the one-shot computation (to rounding)
    while costing time linear in the number of turns (pyannote alone: quadratic, about
    50 s for an 8 h recording with 7200 turns a side).

    Args:
        reference: the reference turns (or a :class:`Reference`).
        hypothesis: the turns to score (seconds).
        start, end: the range to score; ``end`` None: the later of both annotations'
            last ends (pass the recording's duration to score the whole file).
        collar: seconds around each reference boundary left out (pyannote's collar).
        chunk_s: the length of the pieces (s).
        progress: ``progress(fraction, message)``, called after each piece (optional).
        cancel: checked after each piece (optional): an engine job's cancel token.

    Raises:
        ValidationError: a range that ends before it starts, a negative collar.
        Cancelled: ``cancel`` was set.
    """
    heavy_imports.load(*_SCORING_MODULES)
    from pyannote.core import Segment, Timeline
    from pyannote.metrics.diarization import DiarizationErrorRate
    from pyannote.metrics.identification import IdentificationErrorRate

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
    if not (chunk_s > 0):
        raise ValidationError("chunk_s must be positive.", location="chunk_s")
    if b <= a:
        return DiarizationScores(a, b, collar, 0.0, 0.0, 0.0, 0.0, 0.0)
    der = DiarizationErrorRate(collar=collar, skip_overlap=False)
    ref_all, hyp_all = _Turns(ref_turns), _Turns(hypothesis)
    margin = collar / 2.0 + 1.0  # a piece's edges are this far from its UEM: no collar
    pieces = []
    cooc: dict[tuple[str, str], float] = {}
    n = max(1, math.ceil((b - a) / chunk_s - 1e-9))
    for k in range(n):
        c0, c1 = a + k * chunk_s, (b if k == n - 1 else a + (k + 1) * chunk_s)
        r, h = (to_annotation(x.around(c0 - margin, c1 + margin)) for x in (ref_all, hyp_all))
        r, h, uem = der.uemify(r, h, uem=Timeline([Segment(c0, c1)]),  # type: ignore[misc]
                               collar=collar, returns_uem=True)
        if len(r) and len(h):
            m = r * h
            for i, rl in enumerate(r.labels()):
                for j, hl in enumerate(h.labels()):
                    if m[i, j] > 0:
                        cooc[(rl, hl)] = cooc.get((rl, hl), 0.0) + float(m[i, j])
        pieces.append((r, h, uem))
        if cancel is not None:
            cancel.check()
        if progress is not None:
            progress(0.9 * (k + 1) / n, "Scoring against the reference…")
    mapping = _hungarian(cooc)
    ier = IdentificationErrorRate(collar=0.0, skip_overlap=False)
    sums = {"total": 0.0, "missed detection": 0.0, "false alarm": 0.0, "confusion": 0.0}
    for r, h, uem in pieces:
        mapped = h.rename_labels(mapping={x: mapping.get(x, _UNMAPPED + str(x))
                                          for x in h.labels()})
        d = ier.compute_components(r, mapped, uem=uem)
        for key in sums:
            sums[key] += float(d[key])
    total = sums["total"]
    error = sums["missed detection"] + sums["false alarm"] + sums["confusion"]
    rate = error / total if total > 0 else (0.0 if error == 0 else 1.0)  # as pyannote
    return DiarizationScores(
        start=a, end=b, collar=float(collar), total=total, missed=sums["missed detection"],
        false_alarm=sums["false alarm"], confusion=sums["confusion"], der=rate,
        mapping=tuple(sorted((str(r), str(h)) for h, r in mapping.items())),
    )


def _hungarian(cooc: dict[tuple[str, str], float]) -> dict[str, str]:
    """Hypothesis label -> reference label maximising the co-occurrence (as pyannote's
    ``HungarianMapper``: labels in sorted order, pairs that never co-occur left out)."""
    from scipy.optimize import linear_sum_assignment

    refs = sorted({r for r, _ in cooc})
    hyps = sorted({h for _, h in cooc})
    if not refs or not hyps:
        return {}
    m = np.zeros((len(hyps), len(refs)))
    for (r, h), v in cooc.items():
        m[hyps.index(h), refs.index(r)] = v
    out = {}
    for i, j in zip(*linear_sum_assignment(-m), strict=True):
        if m[i, j] > 0:
            out[hyps[i]] = refs[j]
    return out


def speaker_mapping(reference: Sequence[Turn] | Reference,
                    hypothesis: Sequence[Turn]) -> dict[str, str]:
    """Reference label -> the hypothesis label DER maps onto it over both annotations
    (no collar); reference speakers left unmapped are absent."""
    return dict(score(reference, hypothesis).mapping)
