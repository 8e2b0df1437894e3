"""Stage 4, clustering of the recording's own speakers.

Average-linkage agglomerative clustering on cosine distance (threshold: the diarization
encoder's ``cluster_distance``, else :data:`CLUSTER_DISTANCE`), or cut at a given number
of clusters; small clusters are folded into the nearest large one (as pyannote's
``min_cluster_size``). Long recordings with many embeddings are clustered in two stages
(time-ordered groups, then their centroids), so memory stays bounded. Units with too
little clean speech to define clusters (under :data:`MIN_CLUSTER_SPEECH`) join the
nearest cluster.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.pipeline.embedding import UnitEmbeddings, normalize_rows
from engine.segments import readonly

MIN_CLUSTER_SPEECH = 1.0
"""Only embeddings of at least this much clean speech define the clusters."""
CLUSTER_DISTANCE = 0.60
"""Average-linkage cosine distance at which clusters stop merging (ECAPA; tuned on
the pyannote sample and the synthetic conversations of tests/test_identify.py)."""
MIN_CLUSTER_SECONDS = 2.0
"""A cluster with less clean embedded speech than this is folded into the nearest
larger one (unless no larger one exists)."""
DIRECT_AHC_MAX = 2500
"""More embeddings than this are clustered in two stages (bounded memory)."""
NO_FIT_MEMBERSHIP = 50.0
"""A unit with no clean speech whose membership score (0-100) to its nearest cluster is
under this gets no cluster."""
MISFIT_MEMBERSHIP = 25.0
"""A short unit (under :data:`MIN_CLUSTER_SPEECH` of clean speech) whose membership score
(0-100) to its nearest cluster is under this resembles none of them: the short units of
that kind are clustered among themselves (:func:`gather_misfits`), so that a person who
only ever says short words (isolated letters, "yes", "no") gets a cluster of their own
instead of being spread over the others' clusters and names. Issue 11, on the 40-speaker
dev set (bench/bench_decisions.py --devset full --conversations 16): a speaker saying
isolated Hebrew letters had 0.5-1.1 s units at membership 3-21 to the clusters they
were sent to, and took two other people's names. Off / 15 / 25 / 35 / 50: right names
94.3 / 94.5 / 94.5 / 94.5 / 94.5 %, strangers named 1.6 % throughout, DER25 5.6 / 5.5 /
5.5 / 5.5 / 5.7 %; the real pyannote sample is unchanged. 25 sits inside the flat range
(0.44 cosine: correct short units of the dev set fit at 30 and more)."""


def centroids(x: np.ndarray, w: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """float32 ``(k, d)`` unit-norm weighted means of ``x (n, d)`` per label."""
    c = np.zeros((k, x.shape[1]), dtype=np.float64)
    np.add.at(c, labels, x * w[:, None])
    return normalize_rows(c)


def _ahc_labels(x: np.ndarray, threshold: float) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster, linkage

    if x.shape[0] == 1:
        return np.zeros(1, dtype=np.int64)
    z = linkage(x, method="average", metric="cosine")
    return fcluster(z, t=threshold, criterion="distance").astype(np.int64) - 1


def cluster(
    x: np.ndarray,
    w: np.ndarray,
    *,
    num: int | None,
    lo: int | None,
    hi: int | None,
    distance: float = CLUSTER_DISTANCE,
) -> np.ndarray:
    """Cluster unit-norm embeddings ``x (n, d)`` weighted by seconds ``w (n,)``.

    ``distance`` is the average-linkage cosine distance at which clusters stop merging;
    ``num`` forces the count, ``lo``/``hi`` bound it. Returns int labels ``(n,)`` in
    ``0..k-1``.
    """
    from scipy.cluster.hierarchy import fcluster, linkage

    n = x.shape[0]
    if n == 1:
        return np.zeros(1, dtype=np.int64)
    # Stage 1 (long recordings only): over-cluster time-ordered groups, keep centroids.
    if n > DIRECT_AHC_MAX:
        groups = int(math.ceil(n / DIRECT_AHC_MAX))
        member = np.empty(n, dtype=np.int64)
        cents: list[np.ndarray] = []
        weights: list[float] = []
        for g in range(groups):
            sl = slice(g * n // groups, (g + 1) * n // groups)
            lab = _ahc_labels(x[sl], distance * 0.5)
            k = int(lab.max()) + 1
            member[sl] = lab + len(cents)
            cw = np.bincount(lab, weights=w[sl], minlength=k)
            cents.extend(centroids(x[sl], w[sl], lab, k))
            weights.extend(cw.tolist())
        top = cluster(
            np.stack(cents), np.asarray(weights), num=num, lo=lo, hi=hi, distance=distance
        )
        return top[member]

    z = linkage(x, method="average", metric="cosine")
    labels = fcluster(z, t=distance, criterion="distance") - 1
    labels = _fold_small(x, w, labels, MIN_CLUSTER_SECONDS)
    k_auto = int(labels.max()) + 1
    want = num
    if want is None and lo is not None and k_auto < lo:
        want = lo
    if want is None and hi is not None and k_auto > hi:
        want = hi
    if want is None or want == k_auto:
        return labels
    want = min(want, n)
    # Cut the dendrogram at the smallest size that yields `want` large clusters.
    for m in range(want, n + 1):
        lab = fcluster(z, t=m, criterion="maxclust") - 1
        seconds = np.bincount(lab, weights=w)
        order = np.argsort(-seconds)
        large = order[:want]
        if m == n or (seconds[large] >= MIN_CLUSTER_SECONDS).all() or m > want + 20:
            return _keep(x, w, lab, large)
    return labels  # pragma: no cover - the loop always returns


def _keep(x: np.ndarray, w: np.ndarray, labels: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Keep clusters ``keep``; move every other member to the nearest kept centroid."""
    k = int(labels.max()) + 1
    cents = centroids(x, w, labels, k)[keep]
    remap = np.full(k, -1, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    out = remap[labels]
    lost = out < 0
    if lost.any():
        out[lost] = np.argmax(x[lost] @ cents.T, axis=1)
    return out


def _fold_small(x: np.ndarray, w: np.ndarray, labels: np.ndarray, min_seconds: float) -> np.ndarray:
    k = int(labels.max()) + 1
    seconds = np.bincount(labels, weights=w, minlength=k)
    large = np.flatnonzero(seconds >= min_seconds)
    if large.size == 0:
        large = np.array([int(np.argmax(seconds))])
    if large.size == k:
        return labels
    return _keep(x, w, labels, large)


def gather_misfits(
    x: np.ndarray,
    w: np.ndarray,
    labels: np.ndarray,
    misfit: np.ndarray,
    *,
    distance: float,
    k: int,
    hi: int | None,
) -> np.ndarray:
    """Clusters of their own for the short units that fit no cluster.

    The ``misfit`` units are clustered among themselves (average linkage at
    ``distance``); each group holding at least :data:`MIN_CLUSTER_SECONDS` of speech
    becomes a new cluster ``k, k+1, ...`` (at most ``hi`` clusters in all); the other
    misfits keep their nearest cluster.

    Args:
        x: float32 ``(n, d)`` unit-norm embeddings; w: ``(n,)`` seconds of speech.
        labels: int64 ``(n,)`` clusters ``0..k-1`` (-1: none); misfit: bool ``(n,)``.

    Returns:
        int64 ``(n,)`` the new labels.
    """
    idx = np.flatnonzero(misfit)
    out = labels.copy()
    if idx.size < 2:
        return out
    sub = _ahc_labels(x[idx], distance)
    seconds = np.bincount(sub, weights=w[idx])
    for g in np.argsort(-seconds, kind="stable").tolist():
        if seconds[g] < MIN_CLUSTER_SECONDS or (hi is not None and k >= hi):
            break
        out[idx[sub == g]] = k
        k += 1
    return out


@dataclass(frozen=True)
class Clusters:
    """The recording's speaker clusters.

    Attributes:
        labels: int64 ``(n,)`` cluster of each embedding row, -1 for none.
        centroids: float32 ``(K, d)`` unit-norm centroids in the diarization model's space.
    """

    labels: np.ndarray
    centroids: np.ndarray

    @property
    def k(self) -> int:
        return int(self.centroids.shape[0])


def cluster_units(
    emb: UnitEmbeddings,
    *,
    num: int | None,
    lo: int | None,
    hi: int | None,
    distance: float,
    membership: Callable[[np.ndarray], np.ndarray] | None,
) -> Clusters:
    """Cluster the units.

    The units with at least :data:`MIN_CLUSTER_SPEECH` of clean speech define the
    clusters (all units if none has); the others join the nearest centroid. With
    ``membership`` (cosine to centroid -> 0-100), a unit seen only in overlap that
    resembles no cluster is mostly the segmentation doubling one voice: it gets no
    cluster (its frames do not vote) rather than the nearest one.
    """
    x, secs, weight = emb.vectors, emb.clean, emb.weight
    if not emb.count:
        return Clusters(
            readonly(np.zeros(0, dtype=np.int64)),
            readonly(np.zeros((0, x.shape[1]), dtype=np.float32)),
        )
    good = secs >= MIN_CLUSTER_SPEECH
    if not good.any():
        good = np.ones(emb.count, dtype=bool)
    labels_good = cluster(x[good], weight[good], num=num, lo=lo, hi=hi, distance=distance)
    k = int(labels_good.max()) + 1
    c = centroids(x[good], weight[good], labels_good, k)
    labels = np.argmax(x @ c.T, axis=1)
    labels[good] = labels_good
    if membership is not None:
        fit = np.asarray(membership(np.einsum("nd,nd->n", x, c[labels])), dtype=np.float32)
        fit = fit.reshape(-1)
        labels[(secs <= 0.0) & ~good & (fit < NO_FIT_MEMBERSHIP)] = -1
        if num is None:
            misfit = (secs > 0.0) & ~good & (fit < MISFIT_MEMBERSHIP)
            labels = gather_misfits(x, weight, labels, misfit, distance=distance, k=k, hi=hi)
            k = int(labels.max()) + 1 if labels.size else 0
    kept = labels >= 0
    c = centroids(x[kept], weight[kept], labels[kept], k)
    return Clusters(readonly(labels.astype(np.int64)), readonly(c))
