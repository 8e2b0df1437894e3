"""The data model that crosses the engine/GUI boundary (after pyannote.core).

Frozen dataclasses for segments and turns, and a sliding-window score track
whose frame ``i`` is at ``start + i * step`` seconds (computed, never
accumulated, so a 24 h track does not drift). Arrays held here are read-only.
Speakers are referred to by id (a string label such as ``"spk_12"`` for an
enrolled speaker or ``"UNKNOWN_00"`` for an unknown one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

UNKNOWN_PREFIX = "UNKNOWN_"


def unknown_label(index: int) -> str:
    """``UNKNOWN_00``, ``UNKNOWN_01`` ... for the ``index``-th unknown cluster."""
    return f"{UNKNOWN_PREFIX}{index:02d}"


def is_unknown(label: str) -> bool:
    return label.startswith(UNKNOWN_PREFIX)


def readonly(a: np.ndarray) -> np.ndarray:
    """Return ``a`` (not a copy) flagged read-only."""
    a.setflags(write=False)
    return a


@dataclass(frozen=True, order=True)
class Segment:
    """A time interval in seconds, ``start <= end``."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if not (self.end >= self.start):
            raise ValueError(f"segment end {self.end} before start {self.start}")

    @property
    def duration(self) -> float:
        return self.end - self.start

    def overlaps(self, other: Segment) -> bool:
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True, order=True)
class Turn:
    """One speaker turn.

    Attributes:
        start, end: seconds from the start of the audio.
        speaker: speaker label (enrolled speaker id, or ``UNKNOWN_nn``).
        score: calibrated 0-100 match score of the turn's cluster against the
            labelled voiceprint (0 for unknown speakers with no voiceprints).
        cluster: the recording-local cluster label (``SPEAKER_nn``), so all turns
            of one cluster can be relabelled at once.
        channel: the 0-based audio channel the turn was found on when channels are
            identified one by one (``--channel-mode split``); None for a mono mix.
    """

    start: float
    end: float
    speaker: str
    score: float = 0.0
    cluster: str = ""
    channel: int | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def segment(self) -> Segment:
        return Segment(self.start, self.end)


@dataclass(frozen=True)
class ScoreTrack:
    """Values sampled on a regular grid: frame ``i`` covers time ``start + i * step``.

    Attributes:
        start: time of frame 0, seconds.
        step: resolution, seconds (0.02 by default for confidence).
        values: read-only float32 array, shape ``(frames,)`` or ``(rows, frames)``.
    """

    start: float
    step: float
    values: np.ndarray

    def __post_init__(self) -> None:
        if self.step <= 0:
            raise ValueError("step must be positive")
        if self.values.flags.writeable:
            object.__setattr__(self, "values", readonly(np.array(self.values, dtype=np.float32)))

    @property
    def num_frames(self) -> int:
        return int(self.values.shape[-1])

    def times(self) -> np.ndarray:
        """Frame times, seconds, float64 shape ``(frames,)``: ``start + arange(n) * step``."""
        return self.start + np.arange(self.num_frames, dtype=np.float64) * self.step

    def index(self, t: float) -> int:
        """Frame index of time ``t`` (clamped to the track)."""
        i = int(round((t - self.start) / self.step))
        return min(max(i, 0), max(self.num_frames - 1, 0))
