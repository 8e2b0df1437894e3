"""Stage 7, confidence: the per-frame confidence track and the per-voiceprint curves.

Each embedding row (a unit) gets a score against its cluster's reference voiceprint.
With a separate diarization model a stretch scores as its cluster does, capped by how
well it belongs to that cluster (a doubtful assignment is a doubtful label); with one
model, the stretch's own embedding is scored. The frame value is the highest of the
active speakers', 0 where nobody speaks, sampled on the ``resolution`` grid.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.pipeline.assignment import Assignment, ScoreFn, to_scores
from engine.pipeline.reconstruction import FrameBlock
from engine.segmentation import FRAME_CENTER_S, FRAME_STEP_S
from engine.segments import ScoreTrack, readonly

MAX_CURVE_ROWS = 32
"""With more voiceprints than this, ``speaker_curves`` only has rows for the
voiceprints that matched a cluster."""
MAX_CURVE_VALUES = 20_000_000
"""Above this many curve values (rows x frames) the curve step grows (a multiple
of ``resolution``) so the curves stay under ~80 MB."""


@dataclass(frozen=True)
class RowScores:
    """What each embedding row contributes to the frames it is active in.

    Attributes:
        score: float32 ``(n_emb + 1,)`` 0-100 confidence per row (last entry: no embedding).
        curve: float32 ``(n_emb + 1, rows)`` 0-100 similarity to each curve voiceprint.
        curve_rows: int64 ``(rows,)`` the voiceprint index of each curve row.
    """

    score: np.ndarray
    curve: np.ndarray
    curve_rows: np.ndarray


def memberships(
    x: np.ndarray,
    labels: np.ndarray,
    dia_cents: np.ndarray,
    *,
    separate: bool,
    membership: Callable[[np.ndarray], np.ndarray] | None,
) -> np.ndarray:
    """float32 ``(n,)`` 0-100: how well each embedding row belongs to its cluster
    (100 when the diarization model is the voiceprint model or has no membership score).

    Args:
        x: float32 ``(n, d)`` diarization embeddings; labels: ``(n,)`` their clusters.
        dia_cents: ``(K, d)`` cluster centroids in the diarization model's space.
        separate: the diarization model is not the voiceprint model.
        membership: diarization encoder's cosine-to-centroid -> 0-100 (or None).
    """
    n_emb = x.shape[0]
    member = np.full(n_emb, 100.0, dtype=np.float32)
    if separate and n_emb and membership is not None:
        member = np.asarray(
            membership(np.einsum("nd,nd->n", x, dia_cents[labels])), dtype=np.float32
        ).reshape(n_emb)
    return member


def row_scores(
    x: np.ndarray,
    labels: np.ndarray,
    member: np.ndarray,
    assignment: Assignment,
    voiceprints: np.ndarray,
    *,
    separate: bool,
    to_score: ScoreFn,
    curves: bool,
) -> RowScores:
    """Per embedding row confidence and curve values.

    Args:
        x: float32 ``(n, d)`` diarization embeddings; labels: ``(n,)`` their clusters.
        member: float32 ``(n,)`` :func:`memberships`.
        voiceprints: float32 ``(V, dv)``.
        separate: the diarization model is not the voiceprint model.
        curves: compute the speaker curves.
    """
    n_emb = x.shape[0]
    scores_c, ref, assigned = assignment.scores, assignment.ref, assignment.assigned
    score = np.zeros(n_emb + 1, dtype=np.float32)
    if n_emb and voiceprints.shape[0]:
        score[:n_emb] = (
            np.minimum(scores_c[labels, ref[labels]], member)
            if separate
            else to_scores(to_score, np.einsum("nd,nd->n", x, voiceprints[ref[labels]]))
        )
    if curves and voiceprints.shape[0]:
        rows_idx = (
            np.arange(voiceprints.shape[0])
            if voiceprints.shape[0] <= MAX_CURVE_ROWS
            else np.unique(assigned[assigned >= 0])
        )
    else:
        rows_idx = np.zeros(0, dtype=np.int64)
    curve = np.zeros((n_emb + 1, rows_idx.size), dtype=np.float32)
    if n_emb and rows_idx.size:
        curve[:n_emb] = (
            np.minimum(scores_c[labels][:, rows_idx], member[:, None])
            if separate
            else to_scores(to_score, x @ voiceprints[rows_idx].T)
        )
    return RowScores(readonly(score), readonly(curve), readonly(np.asarray(rows_idx, np.int64)))


def sample_grid(
    out: np.ndarray, frame_vals: np.ndarray, f0: int, f1: int, step: float, start: float
) -> None:
    """Write ``out[i]`` (grid time ``start + i*step``) from the model frames ``f0..f1``
    whose centre is nearest to it."""
    if out.size == 0:
        return
    t_lo = (f0 - 0.5) * FRAME_STEP_S + FRAME_CENTER_S
    t_hi = (f1 - 0.5) * FRAME_STEP_S + FRAME_CENTER_S
    i0 = max(0, int(math.ceil((t_lo - start) / step)))
    i1 = min(out.size, int(math.ceil((t_hi - start) / step)))
    if i1 <= i0:
        return
    t = start + np.arange(i0, i1, dtype=np.float64) * step
    j = np.clip(np.rint((t - FRAME_CENTER_S) / FRAME_STEP_S).astype(np.int64) - f0, 0, f1 - f0 - 1)
    out[i0:i1] = frame_vals[j]


class ConfidenceTracks:
    """Samples the confidence and curves of each :class:`FrameBlock` onto their grids.

    Args:
        duration: seconds of audio; resolution: confidence step, seconds.
        k: number of clusters; curve_rows: number of curve rows (0: none).
        confidence: compute the tracks at all.
    """

    def __init__(
        self, duration: float, resolution: float, *, k: int, curve_rows: int, confidence: bool
    ) -> None:
        self._k = k
        self.resolution = resolution
        n_conf = int(math.ceil(duration / resolution - 1e-9)) if duration > 0 else 0
        self._conf = np.zeros(n_conf, dtype=np.float32) if confidence else None
        self.curve_step = resolution
        if curve_rows:
            factor = max(1, int(math.ceil(curve_rows * n_conf / MAX_CURVE_VALUES)))
            self.curve_step = resolution * factor
        n_curve = (
            int(math.ceil(duration / self.curve_step - 1e-9)) if (duration > 0 and curve_rows) else 0
        )
        self._curves = (
            np.zeros((curve_rows, n_curve), dtype=np.float32) if curve_rows else None
        )

    def feed(self, block: FrameBlock) -> None:
        f0, f1 = block.f0, block.f1
        if self._conf is not None and self._k:
            A, Q = block.activity, block.score_sum
            with np.errstate(invalid="ignore", divide="ignore"):
                per = np.where(A > 0, Q / np.maximum(A, 1e-9), 0.0)
            frame_conf = np.where(block.active, per, 0.0).max(axis=1).astype(np.float32)
            sample_grid(self._conf, frame_conf, f0, f1, self.resolution, self.resolution / 2)
        if self._curves is not None:
            R, Rw = block.curve_sum, block.curve_weight
            speaking = np.asarray(block.active.any(axis=1), dtype=bool)
            fr = np.where(
                (Rw > 0)[:, None] & speaking[:, None], R / np.maximum(Rw, 1e-9)[:, None], 0.0
            )
            step = self.curve_step
            for r in range(self._curves.shape[0]):
                sample_grid(self._curves[r], fr[:, r].astype(np.float32), f0, f1, step, step / 2)

    def confidence(self) -> ScoreTrack | None:
        if self._conf is None:
            return None
        r = self.resolution
        return ScoreTrack(start=r / 2, step=r, values=readonly(self._conf))

    def curves(self) -> ScoreTrack | None:
        if self._curves is None:
            return None
        s = self.curve_step
        return ScoreTrack(start=s / 2, step=s, values=readonly(self._curves))
