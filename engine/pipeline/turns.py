"""Stage 6b, turns: each cluster's active frames -> time spans -> labelled turns.

Gaps under :data:`MIN_GAP_SECONDS` are filled, turns under :data:`MIN_TURN_SECONDS`
dropped; clusters are labelled ``SPEAKER_nn`` and unknown clusters ``UNKNOWN_nn`` in
order of first appearance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.pipeline.decision import ClusterWhy
from engine.pipeline.reconstruction import FrameBlock
from engine.pipeline.result import MAX_MATCHES, ClusterInfo
from engine.segmentation import FRAME_CENTER_S, FRAME_STEP_S
from engine.segments import Turn, readonly, unknown_label

MIN_GAP_SECONDS = 0.4
"""A cluster's pauses shorter than this are part of its turn (pyannote's
``min_duration_off``): a pause between two words is not the end of a turn, as in a
person's annotation. 0.1 s before issue 11; on the 40-speaker dev set
(bench/bench_decisions.py --devset full --conversations 16) 0.1 / 0.3 / 0.4 / 0.5 s gave
DER25 7.9 / 6.4 / 5.6 / 5.1 % (right names 93.6 / 94.0 / 94.3 / 94.6 %), and on the real
pyannote sample against its human RTTM DER 5.4 / 5.4 / 5.4 / 6.7 % (no collar): 0.4 s is
the longest that costs the real annotation nothing."""
MIN_TURN_SECONDS = 0.1
"""Turns shorter than this are dropped."""

Span = tuple[float, float]


class TurnRuns:
    """Collects, block by block, each cluster's runs ``[a, b)`` of active global frames."""

    def __init__(self, k: int) -> None:
        self._k = k
        self._runs: list[list[tuple[int, int]]] = [[] for _ in range(k)]
        self._open_at = np.full(k, -1, dtype=np.int64)

    def feed(self, block: FrameBlock) -> None:
        f0 = block.f0
        for k in range(self._k):
            col = block.active[:, k].astype(np.int8)
            was_on = 1 if self._open_at[k] >= 0 else 0
            d = np.diff(np.concatenate([[was_on], col]))
            cur = int(self._open_at[k])
            for i in np.flatnonzero(d):
                if d[i] > 0:
                    cur = f0 + int(i)
                else:
                    self._runs[k].append((cur, f0 + int(i)))
                    cur = -1
            self._open_at[k] = cur

    def finish(self, n_frames: int) -> tuple[tuple[tuple[int, int], ...], ...]:
        """Per cluster, its frame runs (runs still open end at ``n_frames``)."""
        for k in range(self._k):
            if self._open_at[k] >= 0:
                self._runs[k].append((int(self._open_at[k]), n_frames))
                self._open_at[k] = -1
        return tuple(tuple(r) for r in self._runs)


def runs_to_spans(
    runs: Sequence[Sequence[tuple[int, int]]], duration: float
) -> tuple[tuple[Span, ...], ...]:
    """Per cluster, ``(start, end)`` seconds of its turns from its frame runs."""
    spans: list[tuple[Span, ...]] = []
    for cluster_runs in runs:
        merged: list[list[float]] = []
        for a, b in cluster_runs:
            t0 = max(0.0, a * FRAME_STEP_S + FRAME_CENTER_S - FRAME_STEP_S / 2)
            t1 = min(duration, (b - 1) * FRAME_STEP_S + FRAME_CENTER_S + FRAME_STEP_S / 2)
            if merged and t0 - merged[-1][1] < MIN_GAP_SECONDS:
                merged[-1][1] = max(merged[-1][1], t1)
            else:
                merged.append([t0, t1])
        spans.append(tuple((a, b) for a, b in merged if b - a >= MIN_TURN_SECONDS))
    return tuple(spans)


@dataclass(frozen=True)
class Labelled:
    """Turns and cluster info of the clusters that produced a turn.

    Attributes:
        turns: sorted by ``(start, end, speaker)``.
        clusters: one :class:`ClusterInfo` per present cluster, in label order.
        present: int64 ``(n,)`` the cluster index behind each entry of ``clusters``.
    """

    turns: tuple[Turn, ...]
    clusters: tuple[ClusterInfo, ...]
    present: np.ndarray


def _explained(why: ClusterWhy | None, ids: Sequence[str]) -> dict[str, Any]:
    if why is None:
        return {}
    return {
        "candidates": tuple((ids[c.voiceprint], c.score, c.norm) for c in why.candidates),
        "margin": why.margin,
        "reason": why.reason,
    }


def label_turns(
    spans: Sequence[Sequence[Span]],
    *,
    assigned: np.ndarray,
    ref: np.ndarray,
    scores: np.ndarray,
    ids: Sequence[str],
    cents: np.ndarray,
    why: Sequence[ClusterWhy] | None = None,
) -> Labelled:
    """Label clusters by first appearance and build their turns and :class:`ClusterInfo`.

    Args:
        spans: per cluster, its turn spans (clusters without a span are dropped).
        assigned: int64 ``(K,)`` voiceprint index per cluster, -1 unknown.
        ref: int64 ``(K,)`` voiceprint a cluster's score refers to (-1: none).
        scores: float32 ``(K, V)`` 0-100 cluster x voiceprint scores.
        ids: voiceprint ids; cents: float32 ``(K, d)`` voiceprint-model centroids.
        why: per cluster, the decision layer's explanation (none: left empty).
    """
    k_all = len(spans)
    present = [k for k in range(k_all) if spans[k]]
    present.sort(key=lambda k: spans[k][0][0])
    cluster_label = {k: f"SPEAKER_{i:02d}" for i, k in enumerate(present)}
    speaker_of: dict[int, str] = {}
    n_unknown = 0
    for k in present:
        if assigned[k] >= 0:
            speaker_of[k] = ids[int(assigned[k])]
        else:
            speaker_of[k] = unknown_label(n_unknown)
            n_unknown += 1
    turns: list[Turn] = []
    infos: list[ClusterInfo] = []
    for k in present:
        score = float(scores[k, ref[k]]) if (scores.shape[1] and ref[k] >= 0) else 0.0
        for t_a, t_b in spans[k]:
            turns.append(
                Turn(round(t_a, 3), round(t_b, 3), speaker_of[k], round(score, 2), cluster_label[k])
            )
        infos.append(
            ClusterInfo(
                label=cluster_label[k],
                speaker=speaker_of[k],
                score=round(score, 2),
                duration=round(sum(b - a for a, b in spans[k]), 3),
                centroid=readonly(cents[k].copy()),
                matches=tuple(
                    (ids[int(j)], round(float(scores[k, j]), 2))
                    for j in np.argsort(-scores[k])[:MAX_MATCHES]
                ),
                **_explained(why[k] if why is not None else None, ids),
            )
        )
    turns.sort(key=lambda t: (t.start, t.end, t.speaker))
    return Labelled(tuple(turns), tuple(infos), readonly(np.array(present, dtype=np.int64)))
