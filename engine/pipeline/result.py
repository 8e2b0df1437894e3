"""The result types of :func:`engine.identify.identify` (they cross the engine/GUI boundary)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.segments import ScoreTrack, Turn


@dataclass(frozen=True)
class ClusterInfo:
    """One recording-local speaker cluster.

    Attributes:
        label: ``SPEAKER_nn`` (order of first appearance).
        speaker: the enrolled speaker id it was identified as, or ``UNKNOWN_nn``.
        score: 0-100 score of the centroid against that speaker's voiceprint; for an
            unknown cluster its best score against any voiceprint (0 with none).
        duration: seconds of speech in its turns.
        centroid: read-only float32 ``(dim,)`` unit-norm mean embedding (can be
            enrolled as a voiceprint of the same model).
        matches: up to :data:`MAX_MATCHES` ``(voiceprint id, 0-100 score)`` of the
            closest voiceprints, best first (pyannoteAI's per-voiceprint confidence).
        candidates: why it got its name: the best three ``(voiceprint id, 0-100 score,
            AS-Norm score or None)``, best score first
            (:mod:`engine.pipeline.decision`).
        margin: points by which the best candidate leads the next one (another
            voiceprint or the impostor cohort); None without voiceprints.
        reason: the rule that decided (``named``, ``merged``, ``below-threshold``,
            ``not-distinct``, ``not-normalised``, ``taken``, ``split``,
            ``no-voiceprints``; empty when unknown).
    """

    label: str
    speaker: str
    score: float
    duration: float
    centroid: np.ndarray
    matches: tuple[tuple[str, float], ...] = ()
    candidates: tuple[tuple[str, float, float | None], ...] = ()
    margin: float | None = None
    reason: str = ""


@dataclass(frozen=True)
class IdentificationResult:
    """The output of :func:`engine.identify.identify`.

    Attributes:
        turns: speaker turns sorted by start time.
        confidence: per-frame 0-100 confidence of the active speaker: the score of
            its cluster against the voiceprint the cluster was labelled with (for an
            unknown cluster, the voiceprint closest to it), capped by how well the
            stretch of speech belongs to its cluster (CAM++ membership score; with a
            single model, the stretch's own embedding is scored instead); the highest
            of several overlapping speakers, 0 where nobody speaks. Frame ``i`` is the
            interval ``[i*step, (i+1)*step)`` sampled at its centre:
            ``start = step / 2``. None when ``confidence=False``.
        speaker_curves: ``(rows, frames)`` 0-100 similarity over time of whoever
            speaks to each voiceprint in ``speaker_ids`` (0 in non-speech); None when
            ``confidence=False`` or there are no voiceprints.
        speaker_ids: the voiceprint id of each row of ``speaker_curves``.
        clusters: one :class:`ClusterInfo` per cluster, in label order.
        duration: audio duration, seconds.
        model_id: the speaker encoder's model id.
        num_speakers: the number of clusters found.
    """

    turns: tuple[Turn, ...]
    confidence: ScoreTrack | None
    speaker_curves: ScoreTrack | None
    speaker_ids: tuple[str, ...]
    clusters: tuple[ClusterInfo, ...]
    duration: float
    model_id: str
    num_speakers: int

    def speakers(self) -> tuple[str, ...]:
        """Distinct speaker labels in order of first appearance."""
        return tuple(dict.fromkeys(t.speaker for t in self.turns))


MAX_MATCHES = 5
"""Closest voiceprints listed per cluster in :attr:`ClusterInfo.matches`."""
