"""Stage 5, assignment of clusters to voiceprints.

Each cluster's voiceprint-model embedding is scored against the voiceprints (calibrated
0-100 score, :mod:`engine.calibration`); the Hungarian algorithm gives each voiceprint
at most one cluster, and a cluster whose score is under the threshold stays unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from engine.segments import readonly

ScoreFn = Callable[[np.ndarray], Any]
"""Cosine similarity array -> calibrated 0-100 scores (:func:`engine.calibration.cosine_to_score`)."""


def to_scores(fn: ScoreFn, cos: np.ndarray) -> np.ndarray:
    """``fn`` applied to ``cos``: float32 of the same shape."""
    return np.asarray(fn(np.asarray(cos, dtype=np.float32)), dtype=np.float32).reshape(cos.shape)


@dataclass(frozen=True)
class Assignment:
    """Which voiceprint each cluster is.

    Attributes:
        scores: float32 ``(K, V)`` 0-100 score of each cluster against each voiceprint.
        assigned: int64 ``(K,)`` the voiceprint a cluster is named after, -1 unknown.
        ref: int64 ``(K,)`` the voiceprint a cluster's confidence refers to: the
            assigned one, else the closest (-1 without voiceprints).
    """

    scores: np.ndarray
    assigned: np.ndarray
    ref: np.ndarray


def assign_voiceprints(
    cents: np.ndarray, voiceprints: np.ndarray, *, to_score: ScoreFn, threshold: float
) -> Assignment:
    """Name clusters one-to-one after voiceprints.

    Args:
        cents: float32 ``(K, d)`` unit-norm cluster embeddings (voiceprint model).
        voiceprints: float32 ``(V, d)`` unit-norm voiceprints.
        to_score: cosine -> 0-100 score.
        threshold: 0-100 score a cluster needs to take a name.
    """
    k, v = cents.shape[0], voiceprints.shape[0]
    scores = to_scores(to_score, cents @ voiceprints.T) if (k and v) else np.zeros((k, 0), np.float32)
    assigned = np.full(k, -1, dtype=np.int64)
    if k and v:
        rows, cols = linear_sum_assignment(-scores)
        for r, c in zip(rows, cols, strict=True):
            if scores[r, c] >= float(threshold):
                assigned[r] = c
    ref = (
        np.where(assigned >= 0, assigned, np.argmax(scores, axis=1) if scores.shape[1] else -1)
        if k
        else np.zeros(0, dtype=np.int64)
    )
    return Assignment(readonly(scores), readonly(assigned), readonly(np.asarray(ref, np.int64)))
